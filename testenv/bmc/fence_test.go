package bmc

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// fenceRedfish is where Debian's fence-agents package installs the agent.
const fenceRedfish = "/usr/sbin/fence_redfish"

// Fence agent exit codes: 0 success (status: on), 2 status: off.
const (
	fenceExitOK  = 0
	fenceExitOff = 2
)

// needFenceRedfish skips the test when the agent is not installed, except in
// CI (CI=true), where the agent is required and its absence fails the test.
func needFenceRedfish(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(fenceRedfish); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required in CI (apt-get install fence-agents): %v", fenceRedfish, err)
		}
		t.Skipf("%s not installed (apt-get install fence-agents); skipping the real fence agent test", fenceRedfish)
	}
}

// runFence runs the agent with args and the given stdin, and returns its exit
// code and combined output.
func runFence(t *testing.T, stdin string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, fenceRedfish, args...)
	cmd.Stdin = strings.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("fence_redfish %v: %v\n%s", args, ctx.Err(), out)
	}
	if exitErr, ok := errors.AsType[*exec.ExitError](err); ok {
		return exitErr.ExitCode(), string(out)
	}
	if err != nil {
		t.Fatalf("fence_redfish %v: %v", args, err)
	}
	return 0, string(out)
}

// fenceArgs are the command-line options that point the agent at s.
func fenceArgs(t *testing.T, s *Server, password, action string) []string {
	t.Helper()
	_, port, err := net.SplitHostPort(s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	return []string{"--ip=127.0.0.1", "--ipport=" + port, "--username=" + testUser, "--password=" + password,
		"--ssl-insecure", "--power-timeout=10", "--action=" + action}
}

func TestFenceRedfishAgent(t *testing.T) {
	needFenceRedfish(t)
	s, power := startServer(t)

	steps := []struct {
		action   string
		wantCode int
		wantOut  string
		want     PowerState
	}{
		{"status", fenceExitOK, "Status: ON", PowerOn},
		{"off", fenceExitOK, "Success: Powered OFF", PowerOff},
		{"status", fenceExitOff, "Status: OFF", PowerOff},
		{"off", fenceExitOK, "Success: Already OFF", PowerOff},
		{"on", fenceExitOK, "Success: Powered ON", PowerOn},
		{"reboot", fenceExitOK, "Success: Rebooted", PowerOn},
		{"monitor", fenceExitOK, "", PowerOn},
	}
	for _, st := range steps {
		code, out := runFence(t, "", fenceArgs(t, s, testPass, st.action)...)
		if code != st.wantCode || !strings.Contains(out, st.wantOut) {
			t.Fatalf("--action=%s: exit %d, output %q; want exit %d and %q", st.action, code, out, st.wantCode, st.wantOut)
		}
		if got := power.PowerState(); got != st.want {
			t.Fatalf("after --action=%s: power %s, want %s", st.action, got, st.want)
		}
	}
	// off, on and reboot (off then on) reached the power; the rest were reads.
	if off, on := power.calls(); off != 2 || on != 2 {
		t.Errorf("power calls: off=%d on=%d, want 2 and 2", off, on)
	}
}

func TestFenceRedfishAgentStdin(t *testing.T) {
	needFenceRedfish(t)
	s, power := startServer(t)
	_, port, _ := net.SplitHostPort(s.Addr())
	// The key=value form pacemaker's stonith daemon uses.
	stdin := strings.Join([]string{
		"ip=127.0.0.1", "ipport=" + port, "username=" + testUser, "password=" + testPass,
		"ssl_insecure=1", "power_timeout=10", "action=off", "",
	}, "\n")
	if code, out := runFence(t, stdin); code != fenceExitOK {
		t.Fatalf("stdin off: exit %d, output %q", code, out)
	}
	if power.PowerState() != PowerOff {
		t.Fatalf("power %s after stdin off", power.PowerState())
	}
}

func TestFenceRedfishAgentWrongPassword(t *testing.T) {
	needFenceRedfish(t)
	s, power := startServer(t)
	code, out := runFence(t, "", fenceArgs(t, s, "wrong", "off")...)
	if code == fenceExitOK {
		t.Fatalf("off with a wrong password succeeded: %q", out)
	}
	t.Logf("agent refused, exit %d: %s", code, out)
	if off, on := power.calls(); off+on != 0 || power.PowerState() != PowerOn {
		t.Fatalf("wrong password reached the power: off=%d on=%d state %s", off, on, power.PowerState())
	}
}
