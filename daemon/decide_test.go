package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
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
