package fence

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/redfish"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// fenceRedfish is where Debian's fence-agents package installs the agent.
const fenceRedfish = "/usr/sbin/fence_redfish"

func TestExecRealFenceRedfish(t *testing.T) {
	if _, err := os.Stat(fenceRedfish); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (apt-get install fence-agents): %v", fenceRedfish, err)
		}
		t.Skipf("%s not installed (apt-get install fence-agents); skipping the real fence agent test", fenceRedfish)
	}
	s, p := startBMC(t, false)
	_, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewExec(fenceRedfish, writeCreds(t, testUser, testPass), map[string]string{
		"ip": "127.0.0.1", "ipport": port, "ssl_insecure": "1", "systems_uri": "/redfish/v1/Systems/" + testID,
		"power_timeout": "10",
	})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name() != "exec:fence_redfish" {
		t.Fatalf("name %q", m.Name())
	}
	if off, err := m.Status(t.Context()); err != nil || off {
		t.Fatalf("Status before fencing: off=%v, %v", off, err)
	}
	res, err := Ladder{Host: "h1", Methods: []Method{m}, Timeout: 30 * time.Second}.Fence(t.Context())
	if err != nil {
		t.Fatalf("Fence: %v", err)
	}
	if res.Method != "exec:fence_redfish" || p.PowerState() != bmc.PowerOff {
		t.Fatalf("result %+v, power %s", res, p.PowerState())
	}
	if off, err := m.Status(t.Context()); err != nil || !off {
		t.Fatalf("Status after fencing: off=%v, %v", off, err)
	}
}

func TestExecRealFenceRedfishWrongPassword(t *testing.T) {
	if _, err := os.Stat(fenceRedfish); err != nil {
		t.Skipf("%s not installed", fenceRedfish)
	}
	s, p := startBMC(t, false)
	_, port, _ := net.SplitHostPort(s.Addr())
	const wrong = "not-the-Password-1"
	m, err := NewExec(fenceRedfish, writeCreds(t, testUser, wrong), map[string]string{
		"ip": "127.0.0.1", "ipport": port, "ssl_insecure": "1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Ladder{Host: "h1", Methods: []Method{m}, Timeout: 30 * time.Second}.Fence(t.Context())
	if !errors.Is(err, ErrAllFailed) || strings.Contains(err.Error(), wrong) {
		t.Fatalf("Fence with a wrong password: %v", err)
	}
	if p.calls() != 0 {
		t.Fatal("wrong password reached the power")
	}
	t.Log(err)
}

func TestExecHangKilled(t *testing.T) {
	dir := t.TempDir()
	agent := writeScript(t, dir, "fence_hang", `cat > "`+dir+`/stdin"
echo $$ > "`+dir+`/pid"
sleep 60 &
echo $! > "`+dir+`/child"
wait
`)
	m, err := NewExec(agent, writeCreds(t, testUser, testPass), map[string]string{"ip": "10.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	const timeout = time.Second
	start := time.Now()
	res, err := Ladder{Host: "h1", Methods: []Method{m}, Timeout: timeout}.Fence(t.Context())
	took := time.Since(start)
	if !errors.Is(err, ErrAllFailed) || !errors.Is(err, ErrTimeout) {
		t.Fatalf("hung agent: %v; want ErrAllFailed and ErrTimeout", err)
	}
	if took > timeout+agentWaitDelay+time.Second {
		t.Fatalf("took %s with a %s timeout", took, timeout)
	}
	noSecret(t, err)
	t.Logf("took %s: %v", took, err)
	if len(res.Attempts) != 1 || strings.Contains(res.Attempts[0].Err, testPass) {
		t.Fatalf("attempts %+v", res.Attempts)
	}
	waitDead(t, filepath.Join(dir, "pid"))
	waitDead(t, filepath.Join(dir, "child"))
	stdin, err := os.ReadFile(filepath.Join(dir, "stdin"))
	if err != nil {
		t.Fatal(err)
	}
	want := "ip=10.0.0.1\nusername=" + testUser + "\npassword=" + testPass + "\naction=off\n"
	if string(stdin) != want {
		t.Fatalf("agent stdin %q, want %q", stdin, want)
	}
}

func TestExecStatusSaysOn(t *testing.T) {
	dir := t.TempDir()
	// off "works", but status keeps reporting on (exit 0).
	agent := writeScript(t, dir, "fence_liar", `cat >> "`+dir+`/stdin"; exit 0`+"\n")
	m, err := NewExec(agent, writeCreds(t, testUser, testPass), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Ladder{Host: "h1", Methods: []Method{m}, Timeout: 5 * time.Second}.Fence(t.Context())
	if !errors.Is(err, ErrAllFailed) || !errors.Is(err, ErrNotVerified) || errors.Is(err, ErrTimeout) {
		t.Fatalf("agent reporting on: %v; want ErrAllFailed and ErrNotVerified", err)
	}
	noSecret(t, err)
	stdin, _ := os.ReadFile(filepath.Join(dir, "stdin"))
	if got := string(stdin); !strings.Contains(got, "password="+testPass+"\naction=off\n") ||
		!strings.HasSuffix(got, "action=status\n") {
		t.Fatalf("agent stdin %q", got)
	}
}

func TestExecExitCodes(t *testing.T) {
	dir := t.TempDir()
	creds := writeCreds(t, testUser, testPass)
	for _, tc := range []struct {
		code    string
		off     bool
		wantErr bool
	}{{"0", false, false}, {"2", true, false}, {"1", false, true}, {"3", false, true}} {
		agent := writeScript(t, dir, "fence_"+tc.code, "cat >/dev/null; exit "+tc.code+"\n")
		m, err := NewExec(agent, creds, nil)
		if err != nil {
			t.Fatal(err)
		}
		off, err := m.Status(t.Context())
		if off != tc.off || (err != nil) != tc.wantErr {
			t.Errorf("status exit %s: off=%v err=%v", tc.code, off, err)
		}
	}
}

func TestExecFailureMasksPassword(t *testing.T) {
	dir := t.TempDir()
	// A chatty agent that echoes its input (password included) and fails.
	agent := writeScript(t, dir, "fence_chatty", "grep password >&2; exit 1\n")
	m, err := NewExec(agent, writeCreds(t, testUser, testPass), nil)
	if err != nil {
		t.Fatal(err)
	}
	err = m.Off(t.Context())
	if err == nil || errors.Is(err, ErrNotVerified) {
		t.Fatalf("failing agent: %v", err)
	}
	noSecret(t, err)
	_, err = m.Status(t.Context())
	if err == nil || !strings.Contains(err.Error(), "***") {
		t.Fatalf("status of a failing agent: %v; want the password masked", err)
	}
	noSecret(t, err)
}

func TestNewExecRejects(t *testing.T) {
	creds := writeCreds(t, testUser, testPass)
	for name, opts := range map[string]map[string]string{
		"password in options": {"password": "x"},
		"action in options":   {"action": "on"},
		"newline in value":    {"ip": "1.2.3.4\naction=on"},
	} {
		if _, err := NewExec("/bin/true", creds, opts); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := NewExec("fence_redfish", creds, nil); err == nil {
		t.Error("relative agent path accepted")
	}
	if _, err := NewExec("/bin/true", filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Error("missing credentials file accepted")
	}
	m, err := NewExec("/nonexistent/fence_x", creds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Off(t.Context()); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("missing agent: %v", err)
	}
}

// TestAgentEnvironmentHoldsNoDaemonSecrets: a fence agent gets PATH and a few locale variables
// of the daemon's environment, not the rest (an API token, say); its credentials come on stdin.
func TestAgentEnvironmentHoldsNoDaemonSecrets(t *testing.T) {
	t.Setenv("LIFEBOAT_TOKEN", "lbt_daemon_secret")
	t.Setenv("IPMI_PASSWORD", "stale")
	dir := t.TempDir()
	agent := writeScript(t, dir, "fence_env", `env > "`+dir+`/env"; cat >/dev/null; exit 2`+"\n")
	m, err := NewExec(agent, writeCreds(t, testUser, testPass), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Status(t.Context()); err != nil {
		t.Fatal(err)
	}
	env, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, leak := range []string{"lbt_daemon_secret", "IPMI_PASSWORD", testPass} {
		if strings.Contains(string(env), leak) {
			t.Errorf("the agent's environment holds %q:\n%s", leak, env)
		}
	}
	if !strings.Contains(string(env), "PATH=") {
		t.Errorf("the agent's environment lacks PATH:\n%s", env)
	}
	if got := (&ipmiMethod{creds: redfish.Credentials{Password: "pw"}}).env(); len(got) != 1 || got[0] != "IPMI_PASSWORD=pw" {
		t.Errorf("ipmitool's extra environment: %q", got)
	}
}
