package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/redfish"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// fleetRig drives a daemon over a simulated fleet (testenv/fleet, behind hypervisor.Host) by
// hand, on an injected clock: every probe interval it probes every host and folds the answer in
// (as probeLoop does), every inventory interval it reads every host's memory (as
// inventoryLoop does), and every rigStep it decides what is pending (as decideLoop does).
type fleetRig struct {
	t   *testing.T
	ctx context.Context
	cfg config.Config
	d   *Daemon
	f   *fleet.Fleet
	clk *fakeClock
	// elapsed is the simulated time since the start.
	elapsed time.Duration
}

const rigStep = 100 * time.Millisecond

func newFleetRig(t *testing.T, n int) *fleetRig {
	t.Helper()
	ctx := context.Background()
	cfg := fleetConfig(t.TempDir(), n)
	cfg.Recovery.PartitionPolicy = config.PartitionFence // no guest witness: libvirt alone decides
	cfg.Timings.StableFor = config.Duration(5 * time.Second)
	clk := &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	f := fleet.New(2)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	d, err := New(ctx, cfg, Options{Dial: f.Dial, Now: clk.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range d.hosts {
		if w.conn, err = f.Dial(ctx, w.cfg.Name, w.cfg.URI, hypervisor.Options{Now: clk.Now}); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, w := range d.hosts {
			w.conn.Close()
		}
		d.db.Close()
	})
	d.queue.markAll() // as Run does: a first verdict on every host
	return &fleetRig{t: t, ctx: ctx, cfg: cfg, d: d, f: f, clk: clk}
}

// advance runs the fleet for dur of simulated time.
func (r *fleetRig) advance(dur time.Duration) {
	probeEvery := r.cfg.Timings.ProbeInterval.D()
	invEvery := r.cfg.Timings.InventoryInterval.D()
	for end := r.elapsed + dur; r.elapsed < end; {
		r.clk.Add(rigStep)
		r.elapsed += rigStep
		if r.elapsed%probeEvery == 0 {
			for _, w := range r.d.hosts {
				r.d.recordProbe(r.ctx, w, w.conn.Probe(r.ctx))
			}
		}
		if r.elapsed%invEvery == 0 {
			for _, w := range r.d.hosts {
				r.d.sampleMemory(r.ctx, w)
			}
		}
		r.d.decidePending(r.ctx)
	}
}

// decisions is the number of detector runs so far.
func (r *fleetRig) decisions() int { return int(testutil.ToFloat64(r.d.m.decisions)) }

// state is a host's verdict now.
func (r *fleetRig) state(i int) policy.HostState {
	r.d.mu.Lock()
	defer r.d.mu.Unlock()
	return r.d.hosts[i].verdict.State
}

// until advances until host i is in state want, and returns the simulated time it took.
func (r *fleetRig) until(i int, want policy.HostState, limit time.Duration) time.Duration {
	r.t.Helper()
	start := r.elapsed
	for r.state(i) != want {
		if r.elapsed-start > limit {
			r.t.Fatalf("%s is still %s after %s, want %s", r.d.hosts[i].cfg.Name, r.state(i), limit, want)
		}
		r.advance(rigStep)
	}
	return r.elapsed - start
}

// TestDecisionsFollowChange runs fleets of 100 and 1,000 healthy simulated hosts and counts
// detector runs: in steady state there are none, whatever the size (the old decide loop ran
// one per host every 200 ms); a host whose probes start failing still turns suspect at
// suspect_after and unreachable at unreachable_after, to the step; a flapping host still waits
// out stable_for, doubled once it flaps beyond the threshold. Each of those costs a few
// decisions of that host alone.
func TestDecisionsFollowChange(t *testing.T) {
	steady := map[int]int{}
	for _, n := range []int{100, 1000} {
		t.Run(fmt.Sprintf("hosts=%d", n), func(t *testing.T) {
			r := newFleetRig(t, n)
			r.advance(time.Second)
			if got := testutil.ToFloat64(r.d.m.hostState.WithLabelValues(string(policy.Healthy))); int(got) != n {
				t.Fatalf("lifeboat_hosts{state=healthy} %v after the first probes, want %d", got, n)
			}
			first := r.decisions()
			if first < n || first > 3*n {
				t.Fatalf("%d decisions to reach the first verdicts of %d hosts", first, n)
			}

			// Steady state: half a minute of probes and memory readings, and no decision.
			r.advance(30 * time.Second)
			steady[n] = r.decisions() - first
			if steady[n] != 0 {
				t.Fatalf("%d decisions in a steady half minute of %d healthy hosts, want none", steady[n], n)
			}
			if dirty, timed := r.d.queue.pending(); dirty != 0 || timed != 0 {
				t.Fatalf("steady fleet: %d hosts dirty, %d with a next check; want none", dirty, timed)
			}

			// A host whose probes fail: suspect at suspect_after, unreachable at
			// unreachable_after, counted from its first failed probe.
			lost := n / 2
			before := r.decisions()
			r.f.Host(r.d.hosts[lost].cfg.Name).SetOutcome(hypervisor.ProbeTimeout)
			r.until(lost, policy.Suspect, 10*time.Second)
			r.d.mu.Lock()
			failingSince := r.d.hosts[lost].sig.Libvirt.FailingSince
			suspectAt := r.d.hosts[lost].verdict.Since
			r.d.mu.Unlock()
			if got, want := suspectAt.Sub(failingSince), r.cfg.Timings.SuspectAfter.D(); got != want {
				t.Fatalf("suspect %s after the first failed probe, want %s", got, want)
			}
			r.until(lost, policy.Unreachable, 10*time.Second)
			r.d.mu.Lock()
			unreachableAt := r.d.hosts[lost].verdict.Since
			r.d.mu.Unlock()
			if got, want := unreachableAt.Sub(failingSince), r.cfg.Timings.UnreachableAfter.D(); got != want {
				t.Fatalf("unreachable %s after the first failed probe, want %s", got, want)
			}
			r.advance(10 * time.Second)
			if got := r.decisions() - before; got > 4 {
				t.Fatalf("%d decisions for one host's loss, want at most 4 (its failed probe, suspect, unreachable)", got)
			}
			if got := testutil.ToFloat64(r.d.m.hostState.WithLabelValues(string(policy.Unreachable))); got != 1 {
				t.Fatalf("lifeboat_hosts{state=unreachable} %v, want 1", got)
			}

			// The host flaps: each time it answers again it must be stable for stable_for,
			// doubled for each bad spell beyond the flap threshold.
			det := r.d.det
			for spell := 1; spell <= det.FlapThreshold+1; spell++ {
				if spell > 1 {
					r.f.Host(r.d.hosts[lost].cfg.Name).SetOutcome(hypervisor.ProbeTimeout)
					r.until(lost, policy.Unreachable, 10*time.Second)
				}
				r.f.Host(r.d.hosts[lost].cfg.Name).SetOutcome(hypervisor.ProbeOK)
				r.until(lost, policy.Recovering, 10*time.Second)
				r.d.mu.Lock()
				okSince := r.d.hosts[lost].sig.Libvirt.OKSince
				r.d.mu.Unlock()
				waiting := r.decisions()
				r.until(lost, policy.Healthy, 5*time.Minute)
				r.d.mu.Lock()
				healthyAt := r.d.hosts[lost].verdict.Since
				r.d.mu.Unlock()
				want := det.StableFor
				if spell > det.FlapThreshold {
					want *= 2
				}
				if got := healthyAt.Sub(okSince); got != want {
					t.Fatalf("bad spell %d: healthy %s after libvirt answered again, want %s", spell, got, want)
				}
				if got := r.decisions() - waiting; got > 1 {
					t.Fatalf("bad spell %d: %d decisions while the host stabilised, want 1 (its stable period ending)", spell, got)
				}
			}
			if got := testutil.ToFloat64(r.d.m.hostState.WithLabelValues(string(policy.Healthy))); int(got) != n {
				t.Fatalf("lifeboat_hosts{state=healthy} %v at the end, want %d", got, n)
			}
			t.Logf("%d hosts: %d decisions for the first verdicts, %d in a steady half minute (a walk every 200 ms: %d), %d in all",
				n, first, steady[n], n*5*30, r.decisions())
		})
	}
	if steady[100] != steady[1000] {
		t.Fatalf("steady decisions grow with the fleet: %v", steady)
	}
}

// staticBMC is a BMC that always gives the same answer.
type staticBMC struct{ st redfish.Status }

func (b *staticBMC) Status(context.Context) (redfish.Status, error) { return b.st, nil }

// TestSignalsMarkTheirHost: every path that stores an observation asks for a decision on that
// host, so that the decide loop, which walks nothing, sees it: memory pressure, a guest paused
// on an I/O error, an Alertmanager alert, an operator's marks, and a BMC reading while libvirt
// fails (even one that says what the previous one said).
func TestSignalsMarkTheirHost(t *testing.T) {
	r := newFleetRig(t, 4)
	r.advance(time.Second)
	d, ctx := r.d, r.ctx
	health := func(i int) policy.HealthVerdict {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.hosts[i].sig.Health
	}
	expect := func(what string, i int, want policy.HostState, score int) {
		t.Helper()
		r.advance(rigStep)
		if got := r.state(i); got != want || health(i).Score != score {
			t.Fatalf("%s: %s is %s with health score %d; want %s, %d", what, d.hosts[i].cfg.Name, got, health(i).Score, want, score)
		}
	}

	// Memory pressure (a warning), read by the next memory sample, and its end.
	low := fleet.DefaultMemory
	low.FreeKiB, low.BuffersKiB, low.CachedKiB = 1<<20, 0, 0
	r.f.Host(d.hosts[0].cfg.Name).SetMemory(low)
	r.advance(r.cfg.Timings.InventoryInterval.D())
	expect("memory pressure", 0, policy.Healthy, 50)
	r.f.Host(d.hosts[0].cfg.Name).SetMemory(fleet.DefaultMemory)
	r.advance(r.cfg.Timings.InventoryInterval.D())
	expect("memory pressure over", 0, policy.Healthy, 0)

	// A guest paused on an I/O error, seen by the next inventory.
	w := d.hosts[1]
	doms, err := w.conn.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.f.Host(w.cfg.Name).SetDomainState(doms[0].UUID, hypervisor.StatePaused, hypervisor.ReasonIOError); err != nil {
		t.Fatal(err)
	}
	if doms, err = w.conn.Domains(ctx); err != nil {
		t.Fatal(err)
	}
	d.updateInventory(ctx, w, doms)
	expect("guest paused on an I/O error", 1, policy.Degraded, 100)

	// An Alertmanager alert, and an operator's degrade and repair.
	alert := api.AlertObservation{Host: d.hosts[2].cfg.Name, Fingerprint: "fp", Name: "NodeDiskErrors", Firing: true, Severity: "critical"}
	if err := d.ReceiveAlerts(ctx, []api.AlertObservation{alert}); err != nil {
		t.Fatal(err)
	}
	expect("critical alert", 2, policy.Degraded, 100)
	if err := d.Degrade(ctx, d.hosts[0].cfg.Name, "fan noise"); err != nil {
		t.Fatal(err)
	}
	expect("operator degrade", 0, policy.Degraded, 100)
	if err := d.Repair(ctx, d.hosts[0].cfg.Name); err != nil {
		t.Fatal(err)
	}
	expect("operator repair", 0, policy.Degraded, 0) // clearing: health.clear_after

	// The BMC said power off a while ago (stale by now as proof of death). Libvirt then fails, and the next reading
	// says off again: no change of reading, but it is fresh proof of death.
	w = d.hosts[3]
	bmc := &staticBMC{st: redfish.Status{Power: "off", Health: "ok"}}
	d.mu.Lock()
	w.bmc, w.sig.BMC.Configured = bmc, true
	d.mu.Unlock()
	d.readBMC(ctx, w)
	r.advance(d.det.BMCStaleAfter + time.Second)
	if stale := d.det.BMCStaleAfter + time.Second; stale >= bmcHealthStaleAfter(r.cfg.Timings, d.det) {
		t.Fatalf("the test wants a reading stale for the detector (%s) but not for health (%s)", stale, bmcHealthStaleAfter(r.cfg.Timings, d.det))
	}
	expect("power off read while libvirt answers", 3, policy.Healthy, 0)
	r.f.Host(w.cfg.Name).SetOutcome(hypervisor.ProbeTimeout)
	r.advance(r.cfg.Timings.ProbeInterval.D())
	expect("one failed probe", 3, policy.Healthy, 0)
	d.readBMC(ctx, w)
	expect("fresh power off while libvirt fails", 3, policy.Failed, 0)
}
