package daemon

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// journalHas reports whether the journal holds an entry of that kind and reason for the host.
func journalHas(t *testing.T, c *api.Client, kind, reason, host string) bool {
	t.Helper()
	evs, err := c.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == kind && e.Reason == reason && (host == "" || e.Host == host) {
			return true
		}
	}
	return false
}

// guestsOf lists the lab guests whose home is the host.
func guestsOf(l *testenv.Lab, host string) []testenv.Guest {
	var out []testenv.Guest
	for _, g := range l.Guests() {
		if g.Home == host {
			out = append(out, g)
		}
	}
	return out
}

// waitElsewhere waits until every guest runs on a host other than from; it returns the time.
func waitElsewhere(t testing.TB, l *testenv.Lab, gs []testenv.Guest, from string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok := true
		for _, g := range gs {
			on, _ := l.RunningOn(g.Name)
			ok = ok && len(on) == 1 && on[0] != from
		}
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > within {
			procs, _ := l.Running()
			t.Fatalf("guests of %s not running elsewhere after %s: %+v", from, within, procs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startRecoveryLab(t *testing.T, opts testenv.Options, tweak func(*config.Config)) (*testenv.Lab, *api.Client) {
	t.Helper()
	l := testenv.StartForTest(t, opts)
	cfg := labConfig(t, l)
	cfg.Recovery.FenceTimeout = config.Duration(5 * time.Second)
	if tweak != nil {
		tweak(&cfg)
	}
	rd := startDaemon(t, cfg)
	for _, h := range l.Hosts() {
		waitState(t, rd.client, h.Name, "healthy", 15*time.Second)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if vms, _ := rd.client.VMs(context.Background()); len(vms) == len(l.Guests()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("VMs not recorded")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return l, rd.client
}

// TestLabRecoverPowerLoss: a host loses power; its guests restart on the standby host and answer
// ping again; no guest ever runs twice.
func TestLabRecoverPowerLoss(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 4}, nil)
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	gs := guestsOf(l, "h1")
	predicted := checkWhatIf(t, l, c, "h1", gs)
	t0 := time.Now()
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	running := waitElsewhere(t, l, gs, "h1", 60*time.Second)
	for _, g := range gs {
		// The same engine on the same state: the guests go where the what-if said.
		if on, _ := l.RunningOn(g.Name); len(on) != 1 || on[0] != predicted[g.Name] {
			t.Errorf("%s restarted on %v; whatif said %s", g.Name, on, predicted[g.Name])
		}
	}
	for _, g := range gs {
		wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		if err := testenv.WaitGuestUp(wctx, g.IP); err != nil {
			cancel()
			t.Fatal(err)
		}
		cancel()
	}
	answering := time.Since(t0)
	t.Logf("power loss of h1 (%d guests): all running elsewhere after %s, all answering after %s", len(gs), running.Round(10*time.Millisecond), answering.Round(10*time.Millisecond))
	if !journalHas(t, c, "action", "fenced", "h1") || !journalHas(t, c, "recovery", "restarted", "") {
		t.Error("journal lacks the fence or the restarts")
	}
	rs, _ := c.Recoveries(ctx)
	for _, r := range rs {
		if r.VM != "" && r.State != "running" {
			t.Errorf("recovery of %s: %+v", r.VM, r)
		}
	}
}

// checkWhatIf asks the real daemon what a power loss of host would do: every guest of the host
// restarts elsewhere after one fence, and nothing changes (the guests run where they ran, no
// fence or restart is journaled, the host stays healthy). It returns where each guest would go.
func checkWhatIf(t *testing.T, l *testenv.Lab, c *api.Client, host string, gs []testenv.Guest) map[string]string {
	t.Helper()
	ctx := context.Background()
	before, err := l.Running()
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.WhatIf(ctx, []string{host})
	if err != nil {
		t.Fatalf("whatif --fail %s: %v", host, err)
	}
	to := map[string]string{}
	for _, r := range res.Restarts {
		if r.From == host && r.To != host {
			to[r.VM] = r.To
		}
	}
	if res.Frozen || len(res.Fences) != 1 || res.Fences[0] != host || len(res.Stuck) != 0 || len(to) != len(gs) {
		t.Fatalf("whatif --fail %s: %+v; want one fence and the restarts of its %d guests", host, res, len(gs))
	}
	t.Logf("whatif --fail %s: fences %v, restarts %v", host, res.Fences, to)
	for _, g := range gs {
		if to[g.Name] == "" {
			t.Errorf("whatif --fail %s: %s not restarted: %+v", host, g.Name, res.Restarts)
		}
	}
	if cv, err := c.Capacity(ctx); err != nil || cv.Tolerates < 1 || len(cv.Hosts) != len(l.Hosts()) {
		t.Errorf("capacity: %v %+v", err, cv)
	}
	after, err := l.Running()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("guests running before whatif %+v, after %+v", before, after)
	}
	for _, g := range l.Guests() {
		if on, _ := l.RunningOn(g.Name); len(on) != 1 || on[0] != g.Home {
			t.Errorf("after whatif, %s runs on %v, want %s", g.Name, on, g.Home)
		}
	}
	if journalHas(t, c, "action", "fenced", host) || journalHas(t, c, "recovery", "restarted", "") {
		t.Error("whatif fenced or restarted something")
	}
	hs, err := c.Hosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if h.State != "healthy" {
			t.Errorf("after whatif, %s is %s", h.Name, h.State)
		}
	}
	return to
}

// TestLabRecoverPartitionFences: a host cut off entirely (management link and guest network:
// nothing shows its guests alive) with its BMC reachable is fenced through the BMC, then its
// guests restart: with the native Redfish method, and with Debian's real fence_redfish agent
// through the exec method. (A management-only cut with answering guests is not fenced: see
// TestLabManagementBlipMovesNothing.)
func TestLabRecoverPartitionFences(t *testing.T) {
	testenv.Parallel(t)
	for _, method := range []string{"redfish", "exec"} {
		t.Run(method, func(t *testing.T) {
			if method == "exec" {
				if _, err := os.Stat("/usr/sbin/fence_redfish"); err != nil && os.Getenv("CI") != "true" {
					t.Skip("fence_redfish missing (run make deps)")
				}
			}
			l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2, GuestKind: testenv.GuestBIOS}, func(cfg *config.Config) {
				if method != "exec" {
					return
				}
				b := cfg.Hosts[0].BMC
				hostport := strings.TrimPrefix(b.Endpoint, "https://")
				ip, port, _ := strings.Cut(hostport, ":")
				cfg.Hosts[0].BMC = config.BMC{Type: config.BMCExec, Endpoint: "/usr/sbin/fence_redfish", CredentialsFile: b.CredentialsFile,
					Options: map[string]string{"ip": ip, "ipport": port, "ssl_insecure": "1", "systems_uri": "/redfish/v1/Systems/h1"}}
				cfg.Hosts[0].Fence = nil // the exec entry is the whole ladder
			})
			stop := watchInvariants(t, l, false)
			defer stop()
			ctx := context.Background()
			if err := l.PartitionAll(ctx, "h1"); err != nil {
				t.Fatal(err)
			}
			took := waitElsewhere(t, l, guestsOf(l, "h1"), "h1", 90*time.Second)
			st, _ := l.Status()
			if st.Hosts[0].Power != "off" {
				t.Errorf("h1 was not powered off by the fence: %+v", st.Hosts[0])
			}
			t.Logf("partition of h1, fenced by %s: guests running elsewhere after %s", method, took.Round(10*time.Millisecond))
			if !journalHas(t, c, "action", "fenced", "h1") {
				t.Error("no fence in the journal")
			}
		})
	}
}

// TestLabRecoverNeedsProofOfDeath: with the BMC dead too, nothing restarts and an alert says why;
// after a real power-off and an operator's confirm-off, the guests restart.
func TestLabRecoverNeedsProofOfDeath(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2, GuestKind: testenv.GuestBIOS}, func(cfg *config.Config) {
		cfg.Recovery.FenceTimeout = config.Duration(2 * time.Second)
	})
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	if err := l.BMCDown("h1"); err != nil {
		t.Fatal(err)
	}
	if err := l.PartitionAll(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !journalHas(t, c, "action", "fence_failed", "h1") {
		if time.Now().After(deadline) {
			t.Fatal("no fence_failed alert")
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	for _, g := range guestsOf(l, "h1") {
		if on, _ := l.RunningOn(g.Name); len(on) != 1 || on[0] != "h1" {
			t.Fatalf("without proof of death %s runs on %v, want only h1", g.Name, on)
		}
	}
	if err := c.ConfirmOff(ctx, "h1", "h2"); err == nil {
		t.Error("confirm-off with the wrong confirmation was accepted")
	}
	// The operator checks the host for real: here it is really powered off, then confirmed.
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := c.ConfirmOff(ctx, "h1", "h1"); err != nil {
		t.Fatal(err)
	}
	took := waitElsewhere(t, l, guestsOf(l, "h1"), "h1", 60*time.Second)
	t.Logf("after confirm-off the guests run elsewhere in %s", took.Round(10*time.Millisecond))
	if !journalHas(t, c, "action", "operator_confirmed_off", "h1") {
		t.Error("confirm-off not journaled")
	}
}

// TestLabRecoverLeavesLibvirtdCrashAlone: a libvirtd crash is not a host failure: no fence, no
// restart, the guests keep running.
func TestLabRecoverLeavesLibvirtdCrashAlone(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2, GuestKind: testenv.GuestBIOS}, nil)
	stop := invariantWatch(t, l)
	defer stop()
	if err := l.CrashLibvirtd(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	holdNot(t, c, "h1", 8*time.Second, "failed", "fenced")
	if journalHas(t, c, "action", "fence_started", "h1") {
		t.Fatal("a libvirtd crash led to a fence")
	}
	for _, g := range guestsOf(l, "h1") {
		if on, _ := l.RunningOn(g.Name); len(on) != 1 || on[0] != "h1" {
			t.Fatalf("%s runs on %v after a libvirtd crash", g.Name, on)
		}
	}
}

// TestLabRecoverMassFailureFreezes: two of three hosts at once freeze automatic recovery.
func TestLabRecoverMassFailureFreezes(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 3, VMs: 3, GuestKind: testenv.GuestBIOS}, nil)
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	for _, h := range []string{"h1", "h2"} {
		if err := l.PowerOff(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for !journalHas(t, c, "decision", "recovery_frozen", "") {
		if time.Now().After(deadline) {
			t.Fatal("no freeze after two of three hosts failed")
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(3 * time.Second)
	if journalHas(t, c, "recovery", "restarted", "") {
		t.Error("VMs restarted during a mass failure")
	}
	rs, _ := c.Recoveries(ctx)
	frozen := false
	for _, r := range rs {
		frozen = frozen || r.State == "frozen"
	}
	if !frozen {
		t.Errorf("recoveries do not show the freeze: %+v", rs)
	}
}

// TestLabRecoverFrozenHost: a hung host is fenced and its guests restart elsewhere; after the
// thaw the old copies do not come back (the fence cut the power).
func TestLabRecoverFrozenHost(t *testing.T) {
	testenv.Parallel(t)
	l, _ := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2, GuestKind: testenv.GuestBIOS}, nil)
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	if err := l.Freeze(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	took := waitElsewhere(t, l, guestsOf(l, "h1"), "h1", 60*time.Second)
	t.Logf("frozen h1: guests running elsewhere after %s", took.Round(10*time.Millisecond))
	_ = l.Thaw(ctx, "h1") // the fence powered it off: nothing is left to thaw
	time.Sleep(2 * time.Second)
	for _, g := range guestsOf(l, "h1") {
		if on, _ := l.RunningOn(g.Name); len(on) != 1 || on[0] == "h1" {
			t.Fatalf("after the thaw %s runs on %v", g.Name, on)
		}
	}
}

// TestLabRecoverNoCapacityQueues: a VM that no host can take stays queued and is reported, and
// restarts once room appears. Here an anti-affinity rule keeps g1 off the only other host while
// g2 runs there; when g2 stops, g1 restarts.
func TestLabRecoverNoCapacityQueues(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, VMs: 2, GuestKind: testenv.GuestBIOS}, func(cfg *config.Config) {
		cfg.Placement.Rules = []config.AffinityRule{{Name: "apart", VMs: []string{"g1", "g2"}, Anti: true}}
	})
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rs, _ := c.Recoveries(ctx)
		stuck := false
		for _, r := range rs {
			stuck = stuck || (r.VM == "g1" && r.State == "stuck" && strings.Contains(r.Reason, "anti-affinity"))
		}
		if stuck {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("g1 not reported as waiting for room: %+v", rs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// The restart record (what /v1/recoveries shows) is written first, the journal entry just
	// after it: wait for the entry rather than race it.
	waitJournal(t, c, "recovery", "stuck", "h1", 5*time.Second)
	h2, _ := l.Host("h2")
	if _, err := testenv.Exec(ctx, "virsh", "-c", h2.LibvirtURI, "destroy", "g2"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		if on, _ := l.RunningOn("g1"); len(on) == 1 && on[0] == "h2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("g1 did not restart once room appeared")
		}
		time.Sleep(200 * time.Millisecond)
	}
}
