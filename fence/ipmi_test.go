package fence

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIPMIArgsAndEnv(t *testing.T) {
	t.Setenv("IPMI_PASSWORD", "stale-parent-value")
	mm, err := NewIPMI("10.0.0.21", writeCreds(t, testUser, testPass), IPMIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*ipmiMethod)
	for _, cmd := range []string{"off", "status"} {
		args := m.args(cmd)
		want := []string{"-I", "lanplus", "-H", "10.0.0.21", "-U", testUser, "-E", "chassis", "power", cmd}
		if !slices.Equal(args, want) {
			t.Fatalf("args %q, want %q", args, want)
		}
		for _, a := range args {
			if a == "-P" || strings.Contains(a, testPass) {
				t.Fatalf("password on the command line: %q", args)
			}
		}
	}
	var pw []string
	for _, kv := range m.env() {
		if strings.HasPrefix(kv, "IPMI_PASSWORD=") {
			pw = append(pw, kv)
		}
	}
	if !slices.Equal(pw, []string{"IPMI_PASSWORD=" + testPass}) {
		t.Fatalf("child env passwords %q", pw)
	}
	if os.Getenv("IPMI_PASSWORD") != "stale-parent-value" {
		t.Fatal("the parent's environment changed")
	}
}

func TestIPMIMissingTool(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	m, err := NewIPMI("10.0.0.21", writeCreds(t, testUser, testPass), IPMIOptions{})
	if err != nil {
		t.Fatalf("NewIPMI without ipmitool: %v", err)
	}
	_, err = Ladder{Host: "h1", Methods: []Method{m}, Timeout: time.Second}.Fence(t.Context())
	if err == nil || !strings.Contains(err.Error(), "ipmitool not found") {
		t.Fatalf("Fence without ipmitool: %v", err)
	}
	noSecret(t, err)
}

// TestIPMIFakeTool runs the method against a stand-in ipmitool that records its arguments and
// environment and keeps the chassis power in a file.
func TestIPMIFakeTool(t *testing.T) {
	dir := t.TempDir()
	tool := writeScript(t, dir, "ipmitool", `echo "$@" >> "`+dir+`/args"
echo "$IPMI_PASSWORD" >> "`+dir+`/pw"
for a in "$@"; do [ "$a" = "-P" ] && { echo "-P used" >&2; exit 1; }; done
case "$*" in
*"chassis power off") echo off > "`+dir+`/state"; echo "Chassis Power Control: Down/Off";;
*"chassis power status") if [ -f "`+dir+`/state" ]; then echo "Chassis Power is off"; else echo "Chassis Power is on"; fi;;
*) exit 1;;
esac
`)
	mm, err := NewIPMI("10.0.0.21", writeCreds(t, testUser, testPass), IPMIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*ipmiMethod)
	m.tool, m.poll = tool, 20*time.Millisecond
	if off, err := m.Status(t.Context()); err != nil || off {
		t.Fatalf("status before: off=%v, %v", off, err)
	}
	res, err := Ladder{Host: "h1", Methods: []Method{m}, Timeout: 5 * time.Second}.Fence(t.Context())
	if err != nil || res.Method != "ipmi" {
		t.Fatalf("Fence: %+v, %v", res, err)
	}
	args, _ := os.ReadFile(filepath.Join(dir, "args"))
	if strings.Contains(string(args), testPass) || !strings.Contains(string(args), "-U "+testUser+" -E chassis power off") {
		t.Fatalf("ipmitool args:\n%s", args)
	}
	pw, _ := os.ReadFile(filepath.Join(dir, "pw"))
	for _, l := range strings.Split(strings.TrimSpace(string(pw)), "\n") {
		if l != testPass {
			t.Fatalf("ipmitool saw IPMI_PASSWORD %q", l)
		}
	}
}

func TestIPMIStaysOn(t *testing.T) {
	dir := t.TempDir()
	tool := writeScript(t, dir, "ipmitool", `echo "Chassis Power is on"`+"\n")
	mm, err := NewIPMI("10.0.0.21", writeCreds(t, testUser, testPass), IPMIOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m := mm.(*ipmiMethod)
	m.tool, m.poll = tool, 50*time.Millisecond
	_, err = Ladder{Host: "h1", Methods: []Method{m}, Timeout: 500 * time.Millisecond}.Fence(t.Context())
	if !isNotVerified(err) {
		t.Fatalf("host that stays on: %v", err)
	}
}

// TestIPMIPortAndCipherSuite: a port and a cipher suite reach ipmitool as -p and -C, before the
// user; out-of-range values are refused by name.
func TestIPMIPortAndCipherSuite(t *testing.T) {
	creds := writeCreds(t, testUser, testPass)
	mm, err := NewIPMI("127.0.0.1", creds, IPMIOptions{Port: 16230, CipherSuite: 3})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"-I", "lanplus", "-H", "127.0.0.1", "-p", "16230", "-C", "3", "-U", testUser, "-E", "chassis", "power", "status"}
	if got := mm.(*ipmiMethod).args("status"); !slices.Equal(got, want) {
		t.Fatalf("args %q, want %q", got, want)
	}
	for _, tc := range []struct {
		opts IPMIOptions
		want string
	}{
		{IPMIOptions{Port: -1}, "port -1"},
		{IPMIOptions{Port: 65536}, "port 65536"},
		{IPMIOptions{CipherSuite: 18}, "cipher suite 18"},
		{IPMIOptions{CipherSuite: -3}, "cipher suite -3"},
	} {
		if _, err := NewIPMI("127.0.0.1", creds, tc.opts); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewIPMI(%+v): %v, want an error naming %q", tc.opts, err, tc.want)
		}
	}
}
