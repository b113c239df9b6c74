package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/migrate"
)

func TestDrainBackoffGrowsAndCaps(t *testing.T) {
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		if got := drainBackoff(i + 1); got != w {
			t.Errorf("drainBackoff(%d) = %s, want %s", i+1, got, w)
		}
	}
}

// TestDrainRetriesBackOffAFailingVM: each failed migration counts once, the VM waits out a growing
// backoff from the failure's end, it turns hopeless after drainHopeless failures, and a success
// clears it.
func TestDrainRetriesBackOffAFailingVM(t *testing.T) {
	t0 := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	r := newDrainRetries()
	fail := func(id string, end time.Time) migrate.Migration {
		return migrate.Migration{ID: id, VM: "g1", UUID: "u1", From: "h1", To: "h2", State: migrate.StateFailed, Ended: end, Error: "unsafe migration"}
	}
	running := migrate.Migration{ID: "m0", VM: "g2", UUID: "u2", State: migrate.StateRunning}
	if _, ok := r.blocked("u1", t0); ok {
		t.Fatal("a VM with no failed migration is blocked")
	}
	ms := []migrate.Migration{running, fail("m1", t0)}
	r.observe(ms)
	r.observe(ms) // seen twice, counted once
	if rt, ok := r.blocked("u1", t0.Add(4*time.Second)); !ok || rt.failures != 1 {
		t.Fatalf("after one failure, 4 s later: blocked=%v %+v", ok, rt)
	}
	if _, ok := r.blocked("u1", t0.Add(5*time.Second)); ok {
		t.Fatal("still blocked once the 5 s backoff has passed")
	}
	if _, ok := r.blocked("u2", t0); ok {
		t.Fatal("a running migration blocks its VM")
	}
	ms = append(ms, fail("m2", t0.Add(6*time.Second)), fail("m3", t0.Add(17*time.Second)))
	r.observe(ms)
	sv, ok := r.stuck("g1", "u1")
	if !ok || sv.Failures != 3 || !sv.Hopeless || !sv.RetryAt.Equal(t0.Add(37*time.Second)) ||
		!strings.Contains(sv.Reason, "to h2 failed 3 time(s) in a row (last: failed: unsafe migration)") {
		t.Fatalf("after three failures: %v %+v", ok, sv)
	}
	r.observe([]migrate.Migration{{ID: "m4", UUID: "u1", State: migrate.StateSucceeded, Ended: t0.Add(40 * time.Second)}})
	if _, ok := r.stuck("g1", "u1"); ok {
		t.Fatal("a success did not clear the VM's failures")
	}
	if len(r.counted) != 1 {
		t.Errorf("ids of migrations the engine forgot are kept: %v", r.counted)
	}
}
