package daemon

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// countingStore records every write that reaches the store.
type countingStore struct {
	store.Store
	mu     sync.Mutex
	writes []string
}

func (s *countingStore) note(w string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes = append(s.writes, w)
}

// since returns the writes after the first n.
func (s *countingStore) since(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.writes[n:]...)
}

func (s *countingStore) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.writes) }

func (s *countingStore) PutVM(ctx context.Context, rs ...store.VMRecord) error {
	for _, r := range rs {
		s.note("vm " + r.Name)
	}
	return s.Store.PutVM(ctx, rs...)
}
func (s *countingStore) PutHost(ctx context.Context, r store.HostRecord) error {
	s.note("host " + r.Name)
	return s.Store.PutHost(ctx, r)
}
func (s *countingStore) Append(ctx context.Context, es ...store.Entry) ([]uint64, error) {
	for _, e := range es {
		s.note(fmt.Sprintf("journal %s %s %s: %s", e.Kind, e.Host, e.Reason, e.Message))
	}
	return s.Store.Append(ctx, es...)
}
func (s *countingStore) PutPlan(ctx context.Context, p store.Plan) error {
	s.note("plan " + p.ID)
	return s.Store.PutPlan(ctx, p)
}
func (s *countingStore) NextPlanID(ctx context.Context) (string, error) {
	s.note("plan counter")
	return s.Store.NextPlanID(ctx)
}
func (s *countingStore) PrunePlans(ctx context.Context, keep int) error {
	s.note("prune plans")
	return s.Store.PrunePlans(ctx, keep)
}
func (s *countingStore) PutFence(ctx context.Context, r policy.FenceRecord) error {
	s.note("fence " + r.Host)
	return s.Store.PutFence(ctx, r)
}
func (s *countingStore) PutRestart(ctx context.Context, r policy.RestartRecord) error {
	s.note("restart " + r.VM)
	return s.Store.PutRestart(ctx, r)
}
func (s *countingStore) DeleteRestart(ctx context.Context, uuid string) error {
	s.note("restart delete " + uuid)
	return s.Store.DeleteRestart(ctx, uuid)
}
func (s *countingStore) PutFreeze(ctx context.Context, f policy.Freeze) error {
	s.note("freeze")
	return s.Store.PutFreeze(ctx, f)
}

// TestSteadyStateWritesNothing watches a simulated fleet (testenv/fleet) through the real daemon
// loops and counts the store writes over many probe intervals once every host is healthy and
// every VM on record: there must be none (only changes are written). Then one host fails and
// the writes resume, so the counter does see writes.
func TestSteadyStateWritesNothing(t *testing.T) {
	const hosts, probes = 20, 30
	cfg := fleetConfig(t.TempDir(), hosts)
	cfg.Recovery.Automatic = false
	cfg.Timings.ProbeInterval = config.Duration(20 * time.Millisecond)
	cfg.Timings.InventoryInterval = config.Duration(100 * time.Millisecond)
	f := fleet.New(2)
	d, err := New(context.Background(), cfg, Options{Dial: f.Dial})
	if err != nil {
		t.Fatal(err)
	}
	as, ok := d.db.(actingStore)
	if !ok {
		t.Fatalf("the daemon's store is a %T, want actingStore", d.db)
	}
	cs := &countingStore{Store: as.Store}
	as.Store = cs
	d.db = as
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitFor(t, time.Minute, "every host healthy and every VM on record, in the store", func() bool {
		hs, _ := cs.Store.ListHosts(ctx)
		vms, _ := cs.Store.ListVMs(ctx)
		es, _ := cs.Store.Journal(ctx, 0, 10000)
		healthy, verdicts := 0, 0
		for _, h := range hs {
			if h.State == "healthy" {
				healthy++
			}
		}
		for _, e := range es {
			if e.Kind == "verdict" && e.Reason == string(policy.ReasonLibvirtOK) {
				verdicts++
			}
		}
		return healthy == hosts && verdicts == hosts && len(vms) == hosts*2
	})
	okProbes := func() float64 { return testutil.ToFloat64(d.m.probes.WithLabelValues(string(hypervisor.ProbeOK))) }
	n0, p1 := cs.count(), okProbes()
	waitFor(t, time.Minute, fmt.Sprintf("%d probes of each host", probes), func() bool { return okProbes() >= p1+probes*hosts })
	if w := cs.since(n0); len(w) > 0 {
		t.Errorf("%d store writes during %d probes of %d healthy hosts, want none: %q", len(w), probes, hosts, w)
	}
	t.Logf("%.0f probes of %d healthy hosts: %d store writes", okProbes()-p1, hosts, len(cs.since(n0)))

	// A change is written.
	n1 := cs.count()
	f.Host(cfg.Hosts[0].Name).SetOutcome(hypervisor.ProbeRefused)
	waitFor(t, time.Minute, "a write after a host's libvirt failed", func() bool { return cs.count() > n1 })
}
