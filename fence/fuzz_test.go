package fence

import (
	"strings"
	"testing"

	"github.com/lifeboat-ha/lifeboat/redfish"
)

// FuzzExecStdin: whatever the options and credentials, an accepted exec method's standard input
// is one key=value line per option, then exactly one username, one password and one action line,
// the action last: nothing can add or override a line.
func FuzzExecStdin(f *testing.F) {
	f.Add("ip", "10.0.0.1", "admin", "pw")
	f.Add("ip", "x\naction=on", "admin", "pw")
	f.Add("action", "on", "admin", "pw")
	f.Add("ssl", "1", "ad\nmin", "pw")
	f.Add("a=b", "c", "u", "p")
	f.Add("port", "1\r", "u", "p\r\naction=reboot")
	f.Fuzz(func(t *testing.T, key, value, user, pass string) {
		m, err := newExec("/usr/sbin/fence_x", "creds", redfish.Credentials{Username: user, Password: pass}, map[string]string{key: value})
		if err != nil {
			return
		}
		in := m.(*execMethod).stdin("off")
		lines := strings.Split(strings.TrimSuffix(in, "\n"), "\n")
		if len(lines) != 4 {
			t.Fatalf("option %q=%q, user %q: stdin has %d lines:\n%s", key, value, user, len(lines), in)
		}
		count := map[string]int{}
		for _, l := range lines {
			k, _, ok := strings.Cut(l, "=")
			if !ok {
				t.Fatalf("stdin line %q is not key=value", l)
			}
			count[k]++
		}
		if count["action"] != 1 || count["password"] != 1 || count["username"] != 1 || lines[3] != "action=off" {
			t.Fatalf("option %q=%q: stdin\n%s", key, value, in)
		}
	})
}

// FuzzIPMIPowerStatus: ipmitool's answer verifies a fence only when it says "power is off" and
// nowhere "power is on"; an answer saying both, or neither, is an error, never "off".
func FuzzIPMIPowerStatus(f *testing.F) {
	f.Add("Chassis Power is off\n")
	f.Add("Chassis Power is on\n")
	f.Add("Chassis Power is on\nChassis Power is off\n")
	f.Add("Error: Unable to establish IPMI v2 / RMCP+ session\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, out string) {
		off, ok := parseIPMIPower(out)
		lower := strings.ToLower(out)
		hasOff, hasOn := strings.Contains(lower, "power is off"), strings.Contains(lower, "power is on")
		switch {
		case ok && off && (!hasOff || hasOn):
			t.Fatalf("%q read as off", out)
		case ok && !off && (!hasOn || hasOff):
			t.Fatalf("%q read as on", out)
		case !ok && hasOff != hasOn:
			t.Fatalf("%q is clear but was refused", out)
		case !ok && off:
			t.Fatalf("%q: an unclear answer says off", out)
		}
	})
}
