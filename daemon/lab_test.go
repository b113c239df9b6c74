package daemon

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// runningDaemon is a daemon serving its real HTTP API for a test.
type runningDaemon struct {
	d      *Daemon
	client *api.Client
	stop   func()
}

// startDaemon runs a daemon on cfg with its API on a loopback port; stop (also at cleanup) ends it.
func startDaemon(t *testing.T, cfg config.Config) *runningDaemon {
	t.Helper()
	d, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatalf("daemon: %v", err)
	}
	alerts, err := d.AlertOptions()
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewServer(d, api.ServerOptions{Gatherer: d.Registry(), Alerts: alerts})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	c, err := api.NewClient(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon run: %v", err)
		}
		srv.Close()
	}
	t.Cleanup(stop)
	return &runningDaemon{d: d, client: c, stop: stop}
}

// labConfig loads the config the lab wrote, with a test store and a short stable period.
func labConfig(t testing.TB, l *testenv.Lab) config.Config {
	t.Helper()
	cfg, err := config.Load(l.ConfigPath())
	if err != nil {
		t.Fatalf("the lab's config does not load: %v", err)
	}
	cfg.Store.Path = filepath.Join(t.TempDir(), "lifeboat.db")
	cfg.Timings.StableFor = config.Duration(2 * time.Second)
	cfg.Health.ClearAfter = config.Duration(2 * time.Second)
	cfg.Failback.Enabled = false // tests of failback turn it on
	return cfg
}

func hostState(t testing.TB, c *api.Client, name string) api.HostView {
	t.Helper()
	hosts, err := c.Hosts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hosts {
		if h.Name == name {
			return h
		}
	}
	t.Fatalf("no host %s", name)
	return api.HostView{}
}

// waitState waits until the host is in state and returns how long it took; along the way it
// fails if the host ever shows a forbidden state.
func waitState(t testing.TB, c *api.Client, host, state string, within time.Duration, forbidden ...string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		h := hostState(t, c, host)
		for _, f := range forbidden {
			if h.State == f {
				t.Fatalf("%s became %s (%s: %s)", host, f, h.Reason, h.Message)
			}
		}
		if h.State == state {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s is %s (%s: %s) after %s, want %s", host, h.State, h.Reason, h.Message, within, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// holdNot watches the host for a while and fails if it ever shows a forbidden state.
func holdNot(t *testing.T, c *api.Client, host string, d time.Duration, forbidden ...string) api.HostView {
	t.Helper()
	end := time.Now().Add(d)
	var h api.HostView
	for time.Now().Before(end) {
		h = hostState(t, c, host)
		for _, f := range forbidden {
			if h.State == f {
				t.Fatalf("%s became %s (%s: %s)", host, f, h.Reason, h.Message)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return h
}

// TestLabDaemonVerdicts runs the daemon against a 3-host lab and injects each fault in turn.
func TestLabDaemonVerdicts(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 3, VMs: 3, GuestKind: testenv.GuestBIOS})
	cfg := labConfig(t, l)
	cfg.Recovery.Automatic = false // verdicts only: recovery (fencing) is tested on its own
	// The dead BMC of a healthy host below is seen by a steady-state read: read every 3 s, not
	// the default 30 s (TestLabRecoverPowerLoss keeps the default).
	cfg.Timings.BMCHealthInterval = config.Duration(3 * time.Second)
	rd := startDaemon(t, cfg)
	c := rd.client
	ctx := context.Background()

	// Within 10 s every host is healthy and every guest appears with its host.
	for _, h := range l.Hosts() {
		waitState(t, c, h.Name, "healthy", 10*time.Second)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		vms, err := c.VMs(ctx)
		if err != nil {
			t.Fatal(err)
		}
		ok := len(vms) == len(l.Guests())
		for _, g := range l.Guests() {
			found := false
			for _, v := range vms {
				if v.Name == g.Name && v.Host == g.Home && v.HomeHost == g.Home && v.State == "running" {
					found = true
				}
			}
			ok = ok && found
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("guests not all seen with their hosts within 10 s: %+v", vms)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// Power loss: failed within 3 s, citing BMC power off and lost libvirt.
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	took := waitState(t, c, "h1", "failed", 3*time.Second)
	h1 := hostState(t, c, "h1")
	t.Logf("power loss -> failed in %s: %s: %s", took.Round(time.Millisecond), h1.Reason, h1.Message)
	if !strings.Contains(h1.Message, "power off") || !strings.Contains(h1.Message, "libvirt") {
		t.Errorf("failed verdict does not cite BMC power off and lost libvirt: %q", h1.Message)
	}

	// Partition: unreachable, never failed, while the BMC says on and the leases are held.
	if err := l.Partition(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	took = waitState(t, c, "h2", "unreachable", 6*time.Second, "failed", "fenced")
	h2 := holdNot(t, c, "h2", 4*time.Second, "failed", "fenced", "healthy")
	t.Logf("partition -> unreachable in %s: %s: %s", took.Round(time.Millisecond), h2.Reason, h2.Message)
	if h2.Reason != "libvirt_timeout_leases_held" {
		t.Errorf("partitioned host's reason %q, want the leases cited", h2.Reason)
	}
	if err := l.Heal(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h2", "healthy", 15*time.Second, "failed", "fenced")

	// libvirtd crash: not failed, guests seen alive through the lease witness.
	if err := l.CrashLibvirtd(ctx, "h3"); err != nil {
		t.Fatal(err)
	}
	h3 := holdNot(t, c, "h3", 5*time.Second, "failed", "fenced", "unreachable")
	if h3.State != "unknown" {
		t.Errorf("after a libvirtd crash h3 is %s (%s), want unknown", h3.State, h3.Message)
	}
	ex, err := c.ExplainHost(ctx, "h3")
	if err != nil {
		t.Fatal(err)
	}
	var lease string
	for _, s := range ex.Signals {
		if s.Name == "lease_witness" {
			lease = s.Value
		}
	}
	if lease != "1/1 held" {
		t.Errorf("lease witness of h3 after libvirtd crash: %q (%+v)", lease, ex.Signals)
	}
	if err := l.StartLibvirtd(ctx, "h3"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h3", "healthy", 15*time.Second, "failed", "fenced")

	// Hung host: unreachable within 5 s.
	if err := l.Freeze(ctx, "h3"); err != nil {
		t.Fatal(err)
	}
	took = waitState(t, c, "h3", "unreachable", 5*time.Second, "failed", "fenced")
	t.Logf("freeze -> unreachable in %s", took.Round(time.Millisecond))
	if err := l.Thaw(ctx, "h3"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h3", "healthy", 20*time.Second, "failed", "fenced")

	// A dead BMC is reported clearly; an unknown host in a request is a clear error.
	if err := l.BMCDown("h2"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(8 * time.Second)
	for {
		ex, err := c.ExplainHost(ctx, "h2")
		if err != nil {
			t.Fatal(err)
		}
		var bmc api.SignalView
		for _, s := range ex.Signals {
			if s.Name == "bmc_power" {
				bmc = s
			}
		}
		if bmc.Value == "unreachable" {
			if !strings.Contains(bmc.Detail, "no answer within") {
				t.Errorf("dead BMC detail %q does not say it did not answer", bmc.Detail)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dead BMC not reported: %+v", ex.Signals)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if _, err := c.ExplainHost(ctx, "h9"); !errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "h9") {
		t.Errorf("explain of an unknown host: %v", err)
	}
}

// TestLabDaemonRestartKeepsState stops and restarts the daemon on the same store.
func TestLabDaemonRestartKeepsState(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, VMs: 2, GuestKind: testenv.GuestBIOS})
	cfg := labConfig(t, l)
	rd := startDaemon(t, cfg)
	ctx := context.Background()
	deadline := time.Now().Add(10 * time.Second)
	for {
		vms, _ := rd.client.VMs(ctx)
		if len(vms) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("VMs not recorded: %+v", vms)
		}
		time.Sleep(100 * time.Millisecond)
	}
	before, err := rd.client.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	rd.stop()

	// Restarted: the records are there before any host is even asked.
	d2, err := New(context.Background(), cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	vms, _ := d2.VMs(ctx)
	if len(vms) != 2 {
		t.Fatalf("after restart %d VM records, want 2: %+v", len(vms), vms)
	}
	for _, v := range vms {
		var home string
		for _, g := range l.Guests() {
			if g.Name == v.Name {
				home = g.Home
			}
		}
		if v.HomeHost != home || v.UUID == "" {
			t.Errorf("after restart %s has home %q (want %q), uuid %q", v.Name, v.HomeHost, home, v.UUID)
		}
	}
	after, err := d2.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) < len(before) || after[len(before)-1].Seq != before[len(before)-1].Seq {
		t.Errorf("journal lost entries across restart: %d before, %d after", len(before), len(after))
	}
	d2.db.Close()
}

// TestLabDaemonSoakNoFalseVerdicts puts a delaying proxy (latency and jitter below the probe
// timeout) in front of every host's libvirt port and checks that no host leaves healthy.
func TestLabDaemonSoakNoFalseVerdicts(t *testing.T) {
	testenv.Parallel(t)
	soak := 2 * time.Minute
	if testing.Short() {
		soak = 20 * time.Second
	}
	l := testenv.StartForTest(t, testenv.Options{Hosts: 3, VMs: 3, GuestKind: testenv.GuestBIOS})
	cfg := labConfig(t, l)
	cfg.Recovery.Automatic = false
	for i, h := range cfg.Hosts {
		host := l.Hosts()[i]
		p, err := testenv.StartDelayProxy(host.Address+":16509", 50*time.Millisecond, 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		cfg.Hosts[i].URI = "qemu+tcp://" + p.Addr() + "/system"
		_ = h
	}
	rd := startDaemon(t, cfg)
	for _, h := range l.Hosts() {
		waitState(t, rd.client, h.Name, "healthy", 15*time.Second)
	}
	t.Logf("soaking for %s with 50-150 ms of one-way latency on every management link (probe timeout %s)", soak, cfg.Timings.ProbeTimeout)
	end := time.Now().Add(soak)
	for time.Now().Before(end) {
		for _, h := range l.Hosts() {
			if v := hostState(t, rd.client, h.Name); v.State != "healthy" {
				ex, _ := rd.client.ExplainHost(context.Background(), h.Name)
				t.Fatalf("false verdict during soak: %s is %s (%s: %s)\nsignals: %+v", h.Name, v.State, v.Reason, v.Message, ex.Signals)
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// buildLifeboat builds the real lifeboat binary for tests that run the daemon as a process.
func buildLifeboat(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "lifeboat")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/lifeboat").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// daemonProcess writes cfg to a file and returns a function that starts the binary as a daemon
// on it (the caller kills it, by the pid it started).
func daemonProcess(t testing.TB, bin string, cfg config.Config) func() *exec.Cmd {
	t.Helper()
	raw, err := config.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), "lifeboat.yaml")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return func() *exec.Cmd {
		cmd := exec.Command(bin, "daemon", "--config", cfgPath, "--log-level", "warn")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
}
