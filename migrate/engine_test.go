package migrate

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/store"
)

// fakeMigrate stands in for libvirt in these unit tests of the engine's own logic (budgets,
// states, journal); the real migrations are proven in the lab tests.
type fakeMigrate struct {
	mu              sync.Mutex
	out, in         map[string]int
	total, maxTotal int
	maxOut, maxIn   int
	took            time.Duration
	fail            atomic.Bool
}

func (f *fakeMigrate) run(ctx context.Context, s hypervisor.MigrationSpec, ctl hypervisor.MigrationController) (hypervisor.MigrationResult, error) {
	f.mu.Lock()
	f.out[s.SourceURI]++
	f.in[s.DestURI]++
	f.total++
	f.maxOut = max(f.maxOut, f.out[s.SourceURI])
	f.maxIn = max(f.maxIn, f.in[s.DestURI])
	f.maxTotal = max(f.maxTotal, f.total)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.out[s.SourceURI]--
		f.in[s.DestURI]--
		f.total--
		f.mu.Unlock()
	}()
	ctl(hypervisor.MigrationProgress{DataTotal: 100, DataProcessed: 50, DataRemaining: 50})
	select {
	case <-ctx.Done():
		return hypervisor.MigrationResult{}, fmt.Errorf("fake: %w", hypervisor.ErrMigrationCancelled)
	case <-time.After(f.took):
	}
	if f.fail.Load() {
		return hypervisor.MigrationResult{}, errors.New("fake: destination died")
	}
	return hypervisor.MigrationResult{Downtime: 42 * time.Millisecond, DataBytes: 64 << 20}, nil
}

func TestBudgetsNeverExceeded(t *testing.T) {
	f := &fakeMigrate{out: map[string]int{}, in: map[string]int{}, took: 20 * time.Millisecond}
	var mu sync.Mutex
	var journal []store.Entry
	e := New(context.Background(), Options{Budgets: Budgets{PerHostOut: 2, PerHostIn: 1, Cluster: 3}, Migrate: f.run,
		Journal: func(_ context.Context, en store.Entry) { mu.Lock(); journal = append(journal, en); mu.Unlock() }})
	defer e.Close()
	var ids []string
	for i := 0; i < 12; i++ {
		from, to := fmt.Sprintf("h%d", i%2), fmt.Sprintf("t%d", i%4)
		m, err := e.Submit(Request{VM: fmt.Sprintf("vm%d", i), UUID: fmt.Sprintf("u%d", i), From: from, To: to, FromURI: from, ToURI: to, Why: "test"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	if _, err := e.Submit(Request{VM: "vm0", UUID: "u0", From: "h0", To: "t9"}); !errors.Is(err, ErrBusy) {
		t.Errorf("second migration of a busy VM: %v", err)
	}
	if !e.Busy("u11") || e.Busy("u12") {
		t.Errorf("Busy: u11 (queued) %v, u12 (never submitted) %v", e.Busy("u11"), e.Busy("u12"))
	}
	for _, id := range ids {
		m, err := e.Wait(context.Background(), id)
		if err != nil || m.State != StateSucceeded || m.DowntimeMs != 42 {
			t.Fatalf("%s: %+v %v", id, m, err)
		}
	}
	if busy := e.BusyVMs(); len(busy) != 0 || e.Busy("u0") {
		t.Errorf("after every migration ended: BusyVMs %v, Busy(u0) %v", busy, e.Busy("u0"))
	}
	again, err := e.Submit(Request{VM: "vm0", UUID: "u0", From: "h0", To: "t1", FromURI: "h0", ToURI: "t1"})
	if err != nil {
		t.Fatalf("a VM whose migration ended migrates again: %v", err)
	}
	if busy := e.BusyVMs(); !busy["u0"] || len(busy) != 1 {
		t.Errorf("BusyVMs = %v, want u0 alone", busy)
	}
	if m, err := e.Wait(context.Background(), again.ID); err != nil || m.State != StateSucceeded {
		t.Fatalf("%s: %+v %v", again.ID, m, err)
	}
	if f.maxOut > 2 || f.maxIn > 1 || f.maxTotal > 3 {
		t.Fatalf("budgets exceeded: out %d in %d total %d", f.maxOut, f.maxIn, f.maxTotal)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(journal) != 26 {
		t.Fatalf("%d journal entries, want a start and an end for each of 13", len(journal))
	}
}

func TestCancelAndFailureKeepTheRecord(t *testing.T) {
	f := &fakeMigrate{out: map[string]int{}, in: map[string]int{}, took: time.Minute}
	e := New(context.Background(), Options{Migrate: f.run})
	defer e.Close()
	m, _ := e.Submit(Request{VM: "a", UUID: "ua", From: "h1", To: "h2", FromURI: "h1", ToURI: "h2"})
	time.Sleep(20 * time.Millisecond)
	if err := e.Cancel(m.ID); err != nil {
		t.Fatal(err)
	}
	got, _ := e.Wait(context.Background(), m.ID)
	if got.State != StateCancelled || got.Error == "" {
		t.Fatalf("cancelled migration: %+v", got)
	}
	if err := e.Cancel("m-nope"); !errors.Is(err, ErrUnknownMigration) {
		t.Errorf("cancel unknown: %v", err)
	}
	f.took = time.Millisecond
	f.fail.Store(true)
	m, _ = e.Submit(Request{VM: "b", UUID: "ub", From: "h1", To: "h2", FromURI: "h1", ToURI: "h2"})
	got, _ = e.Wait(context.Background(), m.ID)
	if got.State != StateFailed || got.Error == "" {
		t.Fatalf("failed migration: %+v", got)
	}
}
