package daemon

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
)

// TestHealthSignals drives one host's health inputs (probe round trips, memory readings, a
// guest paused on an I/O error, an I/O-error event, Alertmanager alerts) on an injected clock
// and checks the verdicts they add up to, with the hysteresis on the way back.
func TestHealthSignals(t *testing.T) {
	ctx := context.Background()
	cfg := fleetConfig(t.TempDir(), 1)
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	d := newTestDaemon(t, cfg, clk)
	defer d.db.Close()
	w := d.hosts[0]
	probes := func(rtt time.Duration) {
		for range rttSamples {
			clk.Add(500 * time.Millisecond)
			d.recordProbe(ctx, w, hypervisor.Probe{Outcome: hypervisor.ProbeOK, TCP: hypervisor.ProbeOK, RTT: rtt, Connected: true, At: clk.Now()})
		}
	}
	verdict := func(want policy.HostState, reason policy.Reason, says string) {
		t.Helper()
		d.decideAll(ctx)
		v := w.verdict
		if v.State != want || (reason != "" && v.Reason != reason) || !strings.Contains(v.Message, says) {
			t.Fatalf("verdict %s/%s %q; want %s/%s mentioning %q", v.State, v.Reason, v.Message, want, reason, says)
		}
	}

	probes(time.Millisecond)
	verdict(policy.Healthy, policy.ReasonLibvirtOK, "libvirt answers")
	// Slow RPCs alone: a warning (50), below the degrade score (100).
	probes(800 * time.Millisecond)
	verdict(policy.Healthy, "", "")
	if w.sig.Health.Score != 50 || !strings.Contains(w.sig.Health.Message, "round trips are slow") {
		t.Fatalf("health after slow probes: %+v", w.sig.Health)
	}
	// Memory pressure too: two warnings make the host degraded.
	w.health.mem, w.health.memAt = hypervisor.NodeMemory{TotalKiB: 64 << 20, FreeKiB: 1 << 20}, clk.Now()
	verdict(policy.Degraded, policy.ReasonHealthWarning, "memory pressure")
	// Both clear: the hysteresis holds the verdict for health.clear_after.
	probes(time.Millisecond)
	w.health.mem.FreeKiB = 32 << 20
	verdict(policy.Degraded, policy.ReasonHealthClearing, "below 50")
	clk.Add(cfg.Health.ClearAfter.D() - time.Second)
	verdict(policy.Degraded, policy.ReasonHealthClearing, "")
	clk.Add(2 * time.Second)
	w.health.memAt = clk.Now()
	verdict(policy.Healthy, policy.ReasonLibvirtOK, "")

	// A guest paused on an I/O error is critical on its own.
	w.domains = []hypervisor.Domain{{UUID: "u1", Name: "db1", State: hypervisor.StatePaused, StateReason: hypervisor.ReasonIOError}}
	verdict(policy.Degraded, policy.ReasonHealthCritical, "db1 is paused on an I/O error")
	w.domains = nil
	clk.Add(cfg.Health.ClearAfter.D() + time.Second)
	d.decideAll(ctx)
	clk.Add(cfg.Health.ClearAfter.D() + time.Second)
	w.health.memAt = clk.Now()
	verdict(policy.Healthy, "", "")

	// An I/O-error event counts for health.event_ttl, then lapses; a repair clears it at once.
	d.recordIOError(ctx, hypervisor.Event{Host: w.cfg.Name, Kind: hypervisor.EventIOError, At: clk.Now(), UUID: "u1", Domain: "db1", Detail: "virtio-disk0 (/dev/sdb): I/O error, guest paused"})
	verdict(policy.Degraded, policy.ReasonHealthCritical, "db1 had a disk I/O error")
	clk.Add(cfg.Health.EventTTL.D())
	d.decideAll(ctx)
	clk.Add(cfg.Health.ClearAfter.D() + time.Second)
	w.health.memAt = clk.Now()
	verdict(policy.Healthy, "", "")
	d.recordIOError(ctx, hypervisor.Event{Host: w.cfg.Name, Kind: hypervisor.EventIOError, At: clk.Now(), UUID: "u1", Domain: "db1", Detail: "I/O error"})
	d.decideAll(ctx)
	if err := d.Repair(ctx, w.cfg.Name); err != nil {
		t.Fatal(err)
	}
	verdict(policy.Degraded, policy.ReasonHealthClearing, "")

	// Alertmanager: a critical alert degrades, its resolution clears.
	clk.Add(cfg.Health.ClearAfter.D() + time.Second)
	w.health.memAt = clk.Now()
	verdict(policy.Healthy, "", "")
	alert := api.AlertObservation{Host: w.cfg.Name, Fingerprint: "fp1", Name: "NodeDiskErrors", Firing: true, Severity: "critical", Summary: "sdb errors"}
	if err := d.ReceiveAlerts(ctx, []api.AlertObservation{alert, {Host: "nope", Fingerprint: "x", Firing: true}}); err != nil {
		t.Fatal(err)
	}
	verdict(policy.Degraded, policy.ReasonHealthCritical, "alert NodeDiskErrors (critical): sdb errors")
	alert.Firing = false
	if err := d.ReceiveAlerts(ctx, []api.AlertObservation{alert}); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Second)
	d.decideAll(ctx)
	clk.Add(cfg.Health.ClearAfter.D())
	w.health.memAt = clk.Now()
	verdict(policy.Healthy, "", "")
}

// TestRTTSlowIsTheMedian: rttSlow (a count) agrees with the median of the sorted samples
// exceeding the limit, for every count from too few to rttSamples and random round trips.
func TestRTTSlowIsTheMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	lim := 500 * time.Millisecond
	for range 5000 {
		n := rng.IntN(rttSamples + 1)
		rtts := make([]time.Duration, n)
		for i := range rtts {
			rtts[i] = time.Duration(rng.IntN(1000)) * time.Millisecond
		}
		want := false
		if n >= rttSamples/2 {
			s := slices.Clone(rtts)
			slices.Sort(s)
			want = s[len(s)/2] > lim
		}
		if got := rttSlow(rtts, lim); got != want {
			t.Fatalf("rttSlow(%v) = %v, want %v", rtts, got, want)
		}
	}
	if rttSlow([]time.Duration{time.Hour, time.Hour, time.Hour, time.Hour, time.Hour}, 0) {
		t.Error("health.rpc_latency 0 (off) still reports slow")
	}
}
