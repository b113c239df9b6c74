package daemon

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabRecoverBadFenceInput: a BMC answering garbage, wrong BMC credentials, and a fence agent
// that hangs each end in a clear fence failure; nothing restarts and the VMs stay protected.
func TestLabRecoverBadFenceInput(t *testing.T) {
	testenv.Parallel(t)
	garbage := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("<html>this is not redfish</html>"))
	}))
	defer garbage.Close()
	dir := t.TempDir()
	wrong := filepath.Join(dir, "wrong.cred")
	hang := filepath.Join(dir, "fence_hang")
	if err := os.WriteFile(wrong, []byte("username=admin\npassword=not-the-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hang, []byte("#!/bin/sh\ncat >/dev/null\nsleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 3, Standby: 1, VMs: 3, GuestKind: testenv.GuestBIOS}, func(cfg *config.Config) {
		cfg.Recovery.FenceTimeout = config.Duration(2 * time.Second)
		cfg.Recovery.MassFailureFraction = 1.0
		// The garbage server is not the lab's BMC: its certificate is not the pinned one.
		cfg.Hosts[0].BMC.Endpoint, cfg.Hosts[0].BMC.PinnedSHA256, cfg.Hosts[0].BMC.Insecure = garbage.URL, "", true
		cfg.Hosts[1].BMC.CredentialsFile = wrong
		cfg.Hosts[2].BMC = config.BMC{Type: config.BMCExec, Endpoint: hang, CredentialsFile: cfg.Hosts[2].BMC.CredentialsFile}
		for i := range 3 { // each bad entry is the host's whole ladder (no IPMI rung to fall back on)
			cfg.Hosts[i].Fence = nil
		}
	})
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	for _, h := range []string{"h1", "h2", "h3"} {
		if err := l.PartitionAll(ctx, h); err != nil { // nothing shows the guests alive: fence
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(60 * time.Second)
	msgs := map[string]string{}
	for len(msgs) < 3 {
		evs, _ := c.Events(ctx, 0, 1000)
		for _, e := range evs {
			if e.Kind == "action" && e.Reason == "fence_failed" {
				msgs[e.Host] = e.Message
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("fence failures not all reported: %v", msgs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for h, want := range map[string]string{"h1": "not redfish json", "h2": "credentials", "h3": "timed out"} {
		t.Logf("%s: %s", h, msgs[h])
		if !strings.Contains(strings.ToLower(msgs[h]), want) || strings.Contains(msgs[h], "not-the-password") {
			t.Errorf("%s's fence failure does not say clearly why (want %q, no password): %s", h, want, msgs[h])
		}
	}
	if journalHas(t, c, "recovery", "restarted", "") {
		t.Fatal("a VM restarted without a verified fence")
	}
	vms, _ := c.VMs(ctx)
	for _, v := range vms {
		if !v.Protected {
			t.Errorf("%s lost its protection", v.Name)
		}
		if on, _ := l.RunningOn(v.Name); len(on) != 1 || on[0] != v.HomeHost {
			t.Errorf("%s runs on %v, want only its home %s", v.Name, on, v.HomeHost)
		}
	}
	// The agent also reads h3's power (its status action) every bmc_interval, so a fresh
	// instance may be running now; none may outlive its timeout (fence_timeout, bmc_timeout:
	// a few seconds at most).
	if out, err := exec.Command("pgrep", "-f", hang).Output(); err == nil && len(out) > 0 {
		for _, pid := range strings.Fields(string(out)) {
			age, err := exec.Command("ps", "-o", "etimes=", "-p", pid).Output()
			if n, perr := strconv.Atoi(strings.TrimSpace(string(age))); err == nil && perr == nil && n >= 8 {
				t.Errorf("the hanging fence agent (pid %s) survived its timeout: running for %d s", pid, n)
			}
		}
	}
}

// TestLabRecoverSurvivesDaemonKill kills the daemon (SIGKILL, the real binary) as soon as it
// starts fencing a failed host, then starts it again: the job finishes without a double start.
func TestLabRecoverSurvivesDaemonKill(t *testing.T) {
	testenv.Parallel(t)
	bin := buildLifeboat(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 4, GuestKind: testenv.GuestBIOS})
	cfg := labConfig(t, l)
	run := daemonProcess(t, bin, cfg)
	stop := watchInvariants(t, l, false)
	defer stop()
	d1 := run()
	defer func() { _ = d1.Process.Kill(); _ = d1.Wait() }()
	c, _ := api.NewClient(cfg.API.Listen, "")
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		vms, err := c.VMs(ctx)
		if err == nil && len(vms) == 4 && hostState(t, c, "h3").State == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not ready: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for !journalHas(t, c, "action", "fence_started", "h1") {
		if time.Now().After(deadline) {
			t.Fatal("no fence started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = d1.Process.Kill()
	_ = d1.Wait()
	t.Log("daemon killed as the fence started")
	d2 := run()
	defer func() { _ = d2.Process.Kill(); _ = d2.Wait() }()
	took := waitElsewhere(t, l, guestsOf(l, "h1"), "h1", 90*time.Second)
	t.Logf("after the restart of the daemon, h1's guests run elsewhere in %s", took.Round(10*time.Millisecond))
}
