package agentd

import (
	"strings"
	"testing"
)

func TestParseCommand(t *testing.T) {
	ok := []struct {
		in   string
		want Command
	}{
		{"status", Command{Op: OpStatus}},
		{"  status \r\n", Command{Op: OpStatus}},
		{"stop", Command{Op: OpStop}},
		{"panic", Command{Op: OpPanic}},
		{"dirty 10 64", Command{Op: OpDirty, RateMiBs: 10, SizeMiB: 64}},
		{"dirty 0 1", Command{Op: OpDirty, RateMiBs: 0, SizeMiB: 1}},
		{"dirty\t5   32\n", Command{Op: OpDirty, RateMiBs: 5, SizeMiB: 32}},
	}
	for _, c := range ok {
		got, err := ParseCommand(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseCommand(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}

	bad := []struct{ in, errHas string }{
		{"", "empty command"},
		{"   ", "empty command"},
		{"STATUS", "unknown command"},
		{"reboot", "unknown command \"reboot\""},
		{"status now", "no arguments"},
		{"stop 1", "no arguments"},
		{"panic now", "no arguments"},
		{"dirty", "usage: dirty RATE SIZE"},
		{"dirty 10", "usage: dirty RATE SIZE"},
		{"dirty 1 2 3", "usage: dirty RATE SIZE"},
		{"dirty -1 64", "bad RATE \"-1\""},
		{"dirty x 64", "bad RATE \"x\""},
		{"dirty 10 0", "bad SIZE \"0\""},
		{"dirty 10 1.5", "bad SIZE \"1.5\""},
		{"dirty 10 99999999999999999999", "bad SIZE"},
		{"dirty 10 1048577", "bad SIZE"},
	}
	for _, c := range bad {
		_, err := ParseCommand(c.in)
		if err == nil || !strings.Contains(err.Error(), c.errHas) {
			t.Errorf("ParseCommand(%q) error = %v; want one containing %q", c.in, err, c.errHas)
		}
	}
}
