package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
)

// opener opens the subtest's store: every call opens the same data (the caller closes the
// previous one first), with the given journal bound (0: the default).
type opener func(t *testing.T, maxJournal int) Store

// contract is the behaviour every backend has; TestContract runs it against bbolt and a real
// etcd.
var contract = map[string]func(t *testing.T, open opener){
	"VMs":               contractVMs,
	"Hosts":             contractHosts,
	"Journal":           contractJournal,
	"JournalPruning":    contractPruning,
	"JournalWait":       contractWait,
	"Plans":             contractPlans,
	"PrunePlans":        contractPrunePlans,
	"Guards":            contractGuards,
	"Disarm":            contractDisarm,
	"Closed":            contractClosed,
	"ConcurrentAppends": contractConcurrentAppends,
}

func TestContract(t *testing.T) {
	t.Run("bbolt", func(t *testing.T) {
		for name, fn := range contract {
			t.Run(name, func(t *testing.T) {
				path := storePath(t)
				fn(t, func(t *testing.T, maxJournal int) Store {
					// Through the configuration, as the daemon opens it (store.journal_max_entries).
					db, err := OpenConfig(context.Background(), config.Store{Backend: config.StoreBbolt, Path: path, JournalMaxEntries: maxJournal})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = db.Close() })
					return db
				})
			})
		}
	})
	t.Run("etcd", func(t *testing.T) {
		m := etcdtest.StartForTest(t)
		for name, fn := range contract {
			t.Run(name, func(t *testing.T) {
				prefix := "/lifeboat-test/" + name + "/"
				fn(t, func(t *testing.T, maxJournal int) Store {
					s, err := OpenConfig(context.Background(), config.Store{Backend: config.StoreEtcd, JournalMaxEntries: maxJournal,
						Etcd: config.Etcd{Endpoints: []string{m.ClientURL}, Prefix: prefix}})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = s.Close() })
					return s
				})
			})
		}
	})
}

func contractVMs(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 0)
	if vms, err := s.ListVMs(ctx); err != nil || vms == nil || len(vms) != 0 {
		t.Fatalf("ListVMs of a new store = %#v, %v; want an empty slice", vms, err)
	}
	for _, i := range []int{3, 1, 2} {
		if err := s.PutVM(ctx, vm(i)); err != nil {
			t.Fatal(err)
		}
	}
	changed := vm(2)
	changed.CurrentHost = "host-9"
	if err := s.PutVM(ctx, changed); err != nil {
		t.Fatal(err)
	}
	vms, err := s.ListVMs(ctx)
	if err != nil || len(vms) != 3 || vms[0].Name != "vm-001" || vms[2].Name != "vm-003" {
		t.Fatalf("ListVMs = %+v, %v", vms, err)
	}
	if !reflect.DeepEqual(vms[1], changed) {
		t.Errorf("vm-002 = %+v, want %+v", vms[1], changed)
	}
	for _, bad := range []VMRecord{{Name: "x"}, {UUID: "u"}, {UUID: strings.Repeat("u", maxKeyLen+1), Name: "x"}} {
		if err := s.PutVM(ctx, bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("PutVM(%.20v) = %v, want ErrInvalid", bad, err)
		}
	}

	// Many records in one call (more than one etcd transaction holds); one invalid record
	// stores none of them.
	var batch []VMRecord
	for i := 10; i < 10+2*etcdVMBatch+3; i++ {
		batch = append(batch, vm(i))
	}
	if err := s.PutVM(ctx, append([]VMRecord{vm(4)}, VMRecord{Name: "no uuid"})...); !errors.Is(err, ErrInvalid) {
		t.Errorf("PutVM of a batch with an invalid record = %v, want ErrInvalid", err)
	}
	if err := s.PutVM(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	if err := s.PutVM(ctx); err != nil {
		t.Errorf("PutVM of no record = %v", err)
	}
	vms, err = s.ListVMs(ctx)
	if err != nil || len(vms) != 3+len(batch) {
		t.Fatalf("after a batch of %d: %d records (%v), want %d", len(batch), len(vms), err, 3+len(batch))
	}
	for _, r := range vms {
		if r.Name == vm(4).Name {
			t.Errorf("%s stored from a batch with an invalid record", r.Name)
		}
	}
}

func contractHosts(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 0)
	h := HostRecord{Name: "h2", Role: "active", State: "failed", Reason: "unreachable", Since: t0, UpdatedAt: t0, Maintenance: true,
		Observations: []Observation{{Source: "alertmanager", Key: "a", Severity: "critical", Reason: "disk", At: t0}}}
	if err := s.PutHost(ctx, h); err != nil {
		t.Fatal(err)
	}
	if err := s.PutHost(ctx, HostRecord{Name: "h1", State: "healthy"}); err != nil {
		t.Fatal(err)
	}
	hs, err := s.ListHosts(ctx)
	if err != nil || len(hs) != 2 || hs[0].Name != "h1" || !reflect.DeepEqual(hs[1], h) {
		t.Fatalf("ListHosts = %+v, %v", hs, err)
	}
	if err := s.PutHost(ctx, HostRecord{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "name") {
		t.Errorf("PutHost without a name = %v", err)
	}
}

func contractJournal(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 0)
	if last, err := s.LastSeq(ctx); err != nil || last != 0 {
		t.Fatalf("LastSeq of a new store = %d, %v", last, err)
	}
	seqs, err := s.Append(ctx, entry(1), entry(2), entry(3))
	if err != nil || !reflect.DeepEqual(seqs, []uint64{1, 2, 3}) {
		t.Fatalf("Append = %v, %v", seqs, err)
	}
	if _, err := s.Append(ctx, entry(4), Entry{At: t0}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "journal entry 1: kind") {
		t.Errorf("Append with an entry without kind = %v", err)
	}
	// 150 entries in one call: more than one etcd transaction; the numbers stay dense.
	batch := make([]Entry, 150)
	for i := range batch {
		batch[i] = entry(4 + i)
	}
	seqs, err = s.Append(ctx, batch...)
	if err != nil || !reflect.DeepEqual(seqs, seqRange(4, 153)) {
		t.Fatalf("Append of 150 = %v, %v", seqs, err)
	}
	es, err := s.Journal(ctx, 0, 2)
	if err != nil || !reflect.DeepEqual(seqsOf(es), []uint64{1, 2}) {
		t.Fatalf("Journal(0, 2) = %v, %v", seqsOf(es), err)
	}
	want := entry(2)
	want.Seq = 2
	if !reflect.DeepEqual(es[1], want) {
		t.Errorf("entry 2 = %+v, want %+v", es[1], want)
	}
	es, err = s.Journal(ctx, 150, 0)
	if err != nil || !reflect.DeepEqual(seqsOf(es), []uint64{151, 152, 153}) {
		t.Errorf("Journal(150) = %v, %v", seqsOf(es), err)
	}
	if es, err := s.Journal(ctx, 153, 0); err != nil || es == nil || len(es) != 0 {
		t.Errorf("Journal after the last = %v, %v; want an empty slice", es, err)
	}
	if last, err := s.LastSeq(ctx); err != nil || last != 153 {
		t.Errorf("LastSeq = %d, %v", last, err)
	}
}

func contractPruning(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 10)
	for i := 1; i <= 12; i++ {
		if _, err := s.Append(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	es, _ := s.Journal(ctx, 0, 0)
	if !reflect.DeepEqual(seqsOf(es), seqRange(3, 12)) {
		t.Errorf("after 12 appends with MaxJournal 10: %v", seqsOf(es))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, 3)
	if seqs, err := s.Append(ctx, entry(13)); err != nil || !reflect.DeepEqual(seqs, []uint64{13}) {
		t.Errorf("seq after reopen = %v, %v", seqs, err)
	}
	es, _ = s.Journal(ctx, 0, 0)
	if !reflect.DeepEqual(seqsOf(es), seqRange(11, 13)) || es[0].Message != "entry 11" {
		t.Errorf("after reopen with MaxJournal 3: %v", seqsOf(es))
	}
}

func contractWait(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 0)
	if _, err := s.Append(ctx, entry(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait(ctx, 0); err != nil {
		t.Errorf("Wait(0) with an entry = %v", err)
	}
	woke := make(chan error, 1)
	go func() { woke <- s.Wait(ctx, 1) }()
	if _, err := s.Append(ctx, entry(2)); err != nil {
		t.Fatal(err)
	}
	if err := <-woke; err != nil {
		t.Errorf("Wait(1) after an append = %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	go func() { woke <- s.Wait(cctx, 2) }()
	cancel()
	if err := <-woke; !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel = %v, want context.Canceled", err)
	}
	go func() { woke <- s.Wait(ctx, 2) }()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-woke; !errors.Is(err, ErrClosed) {
		t.Errorf("Wait blocked across Close = %v, want ErrClosed", err)
	}
}

func contractPlans(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 0)
	if err := s.PutPlan(ctx, plan(5, "pending")); err != nil {
		t.Fatal(err)
	}
	if id, err := s.NextPlanID(ctx); err != nil || id != "p-6" {
		t.Errorf("NextPlanID after p-5 = %q, %v; want p-6", id, err)
	}
	other := plan(0, "pending")
	other.ID = "manual"
	if err := s.PutPlan(ctx, other); err != nil {
		t.Fatal(err)
	}
	explicit := plan(0, "pending")
	explicit.ID, explicit.Seq = "first", 1
	if err := s.PutPlan(ctx, explicit); err != nil {
		t.Fatal(err)
	}
	// Replacing a plan keeps its Seq.
	again := plan(5, "approved")
	if err := s.PutPlan(ctx, again); err != nil {
		t.Fatal(err)
	}
	ps, err := s.ListPlans(ctx)
	if err != nil || !reflect.DeepEqual(planIDs(ps), []string{"first", "p-5", "manual"}) || ps[2].Seq != 7 || ps[1].Seq != 5 || ps[1].State != "approved" {
		t.Errorf("ListPlans = %+v, %v", ps, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open(t, 0)
	if id, err := s.NextPlanID(ctx); err != nil || id != "p-8" {
		t.Errorf("NextPlanID after reopening = %q, %v; want p-8", id, err)
	}
	if err := s.PutPlan(ctx, Plan{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("PutPlan without an id = %v", err)
	}
}

func contractPrunePlans(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 0)
	states := []string{"done", "pending", "rejected", "approved", "expired", "running", "failed", "notified", "done"}
	for i, st := range states {
		if err := s.PutPlan(ctx, plan(i+1, st)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PrunePlans(ctx, 2); err != nil {
		t.Fatal(err)
	}
	ps, err := s.ListPlans(ctx)
	if want := []string{"p-2", "p-4", "p-6", "p-8", "p-9"}; err != nil || !reflect.DeepEqual(planIDs(ps), want) {
		t.Errorf("after PrunePlans(2): %v, %v; want %v", planIDs(ps), err, want)
	}
	if err := s.PrunePlans(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if ps, _ := s.ListPlans(ctx); !reflect.DeepEqual(planIDs(ps), []string{"p-2", "p-4", "p-6"}) {
		t.Errorf("after PrunePlans(0): %v", planIDs(ps))
	}
	if id, err := s.NextPlanID(ctx); err != nil || id != "p-10" {
		t.Errorf("NextPlanID after pruning = %q, %v; want p-10", id, err)
	}
	if err := s.PrunePlans(ctx, -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("PrunePlans(-1) = %v", err)
	}
}

func contractGuards(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 0)
	g, err := s.Guards(ctx)
	if err != nil || len(g.Fences) != 0 || len(g.Restarts) != 0 || g.Freeze.Frozen {
		t.Fatalf("Guards of a new store = %+v, %v", g, err)
	}
	fr := policy.FenceRecord{Host: "h1", Attempted: t0, Outcome: policy.FenceVerified, At: t0.Add(time.Second), By: "redfish"}
	fz := policy.Freeze{Frozen: true, Reason: policy.ReasonMassFailure, Since: t0, Hosts: []string{"h1", "h2"}, Message: "mass failure"}
	rr := policy.RestartRecord{VM: "db1", UUID: "u1", From: "h1", To: "h3", Stage: policy.RestartRestarting, Since: t0}
	gr := policy.GuestReset{VM: "db1", UUID: "u1", Host: "h3", Times: []time.Time{t0, t0.Add(time.Minute)}, Kind: policy.GuestPanicked,
		Outcome: policy.ResetDone, At: t0.Add(time.Minute)}
	for _, err := range []error{s.PutFence(ctx, fr), s.PutFreeze(ctx, fz), s.PutRestart(ctx, rr),
		s.PutRestart(ctx, policy.RestartRecord{VM: "db2", UUID: "u2", Stage: policy.RestartStuck, Since: t0}),
		s.DeleteRestart(ctx, "u2"), s.DeleteRestart(ctx, "never-there"),
		s.PutGuestReset(ctx, gr), s.PutGuestReset(ctx, policy.GuestReset{VM: "db2", UUID: "u2", Times: []time.Time{t0}}),
		s.DeleteGuestReset(ctx, "u2"), s.DeleteGuestReset(ctx, "never-there")} {
		if err != nil {
			t.Fatal(err)
		}
	}
	g, err = s.Guards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Fence("h1"); !reflect.DeepEqual(got, fr) {
		t.Errorf("fence record %+v, want %+v", got, fr)
	}
	if !reflect.DeepEqual(g.Freeze, fz) {
		t.Errorf("freeze %+v, want %+v", g.Freeze, fz)
	}
	if len(g.Restarts) != 1 || !reflect.DeepEqual(g.Restarts["u1"], rr) {
		t.Errorf("restarts %+v", g.Restarts)
	}
	if len(g.Resets) != 1 || !reflect.DeepEqual(g.Resets["u1"], gr) {
		t.Errorf("guest resets %+v, want only %+v", g.Resets, gr)
	}
	if err := s.PutGuestReset(ctx, policy.GuestReset{VM: "x"}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "uuid") {
		t.Errorf("a guest reset record without a uuid: %v, want ErrInvalid naming the uuid", err)
	}
	if err := s.PutFence(ctx, policy.FenceRecord{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "host") {
		t.Errorf("a fence record without a host: %v, want ErrInvalid naming the host", err)
	}
}

func contractDisarm(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 0)
	if d, err := s.GetDisarm(ctx); err != nil || d.Disarmed {
		t.Fatalf("a new store: %+v, %v; want armed", d, err)
	}
	want := Disarm{Disarmed: true, Reason: "switch upgrade", By: "ada (from 10.0.0.5)", Since: t0}
	if err := s.PutDisarm(ctx, want); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetDisarm(ctx); err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("GetDisarm = %+v, %v; want %+v", got, err, want)
	}
	if err := s.PutDisarm(ctx, Disarm{}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.GetDisarm(ctx); err != nil || got.Disarmed {
		t.Fatalf("after arming: %+v, %v", got, err)
	}
}

func contractClosed(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 0)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := s.Append(ctx, entry(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if _, err := s.ListVMs(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("ListVMs after Close = %v, want ErrClosed", err)
	}
}

// contractConcurrentAppends: appends from many goroutines get dense, distinct numbers.
func contractConcurrentAppends(t *testing.T, open opener) {
	ctx := context.Background()
	s := open(t, 0)
	const writers, each = 8, 10
	var mu sync.Mutex
	seen := map[uint64]string{}
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				e := entry(i)
				e.Message = fmt.Sprintf("writer %d entry %d", w, i)
				seqs, err := s.Append(ctx, e)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				seen[seqs[0]] = e.Message
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	es, err := s.Journal(ctx, 0, 0)
	if err != nil || !reflect.DeepEqual(seqsOf(es), seqRange(1, writers*each)) {
		t.Fatalf("journal after concurrent appends: %v, %v", seqsOf(es), err)
	}
	for _, e := range es {
		if seen[e.Seq] != e.Message {
			t.Errorf("entry %d is %q, its writer was told %q", e.Seq, e.Message, seen[e.Seq])
		}
	}
}
