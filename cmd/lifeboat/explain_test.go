package main

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/lifeboat-ha/lifeboat/api"
)

func TestExplainHost(t *testing.T) {
	url := startDaemon(t, newCLIFake(), "")
	out, err := runCLI(t.Context(), "explain", "host", "h2", "--server", url)
	if err != nil {
		t.Fatalf("explain host h2: %v\n%s", err, out)
	}
	for _, want := range []string{
		"state:", "failed for 1", "reason:", "libvirt_timeout_bmc_off", "message:", "BMC says power is off",
		"rule:", "libvirt unreachable for 3s", "NAME", "VALUE", "AGE", "DETAIL", "no answer in 1s", "history:", "h2 fenced",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "operator  none     -    -") {
		t.Errorf("a signal never seen has no age:\n%s", out)
	}

	out, err = runCLI(t.Context(), "explain", "--server", url, "-o", "json", "host", "h2")
	var ex map[string]any
	if err != nil || json.Unmarshal([]byte(out), &ex) != nil || ex["rule"] == nil || len(ex["signals"].([]any)) != 2 {
		t.Errorf("explain -o json: %v\n%s", err, out)
	}

	_, err = runCLI(t.Context(), "explain", "host", "h9", "--server", url)
	if err == nil || !strings.Contains(err.Error(), `unknown host "h9"`) || !errors.Is(err, api.ErrNotFound) {
		t.Errorf("explain host h9: %v", err)
	}
}
