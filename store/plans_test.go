package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// plan returns a plan numbered i in the given state.
func plan(i int, state string) Plan {
	return Plan{
		ID: fmt.Sprintf("p-%d", i), Key: fmt.Sprintf("evacuation/host-%d", i%3),
		Kind: "evacuation", Host: fmt.Sprintf("host-%d", i%3), Group: "rack1", Mode: "approve", State: policy.PlanState(state),
		Summary: fmt.Sprintf("host-%d is degraded: move vm-%03d off it", i%3, i),
		Moves:   []PlanMove{{VM: fmt.Sprintf("vm-%03d", i), From: fmt.Sprintf("host-%d", i%3), To: "host-9", Why: "most free memory"}},
		Created: t0.Add(time.Duration(i) * time.Second), Expires: t0.Add(time.Duration(i)*time.Second + 10*time.Minute),
	}
}

// planIDs returns the IDs of plans, in order.
func planIDs(ps []Plan) []string {
	ids := make([]string, len(ps))
	for i, p := range ps {
		ids[i] = p.ID
	}
	return ids
}

func TestPlanRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	if ps, err := db.ListPlans(ctx); err != nil || ps == nil || len(ps) != 0 {
		t.Fatalf("ListPlans of a new store = %#v, %v; want an empty list", ps, err)
	}
	for i := 1; i <= 3; i++ {
		id, err := db.NextPlanID(ctx)
		if err != nil || id != fmt.Sprintf("p-%d", i) {
			t.Fatalf("NextPlanID = %q, %v; want p-%d", id, err, i)
		}
	}
	// Put out of order: the list is in Seq order, Seq taken from the "p-N" ID.
	for _, i := range []int{3, 1, 2} {
		if err := db.PutPlan(ctx, plan(i, "pending")); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := db.ListPlans(ctx)
	if err != nil || !reflect.DeepEqual(planIDs(ps), []string{"p-1", "p-2", "p-3"}) {
		t.Fatalf("ListPlans = %v, %v", planIDs(ps), err)
	}
	for i, p := range ps {
		if p.Seq != uint64(i+1) {
			t.Errorf("%s: Seq %d, want %d", p.ID, p.Seq, i+1)
		}
	}

	// A decision replaces the plan and keeps its Seq.
	decided := plan(2, "rejected")
	decided.DecidedBy, decided.DecidedAt, decided.DecisionReason = "alice@ws1 (from 127.0.0.1)", t0.Add(time.Hour), "change freeze"
	if err := db.PutPlan(ctx, decided); err != nil {
		t.Fatal(err)
	}
	got, err := db.GetPlan(ctx, "p-2")
	decided.Seq = 2
	if err != nil || !reflect.DeepEqual(got, decided) {
		t.Errorf("GetPlan(p-2) = %+v, %v\nwant %+v", got, err, decided)
	}
	if _, err := db.GetPlan(ctx, "p-9"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), `"p-9"`) {
		t.Errorf("GetPlan(p-9) = %v", err)
	}
	if _, err := db.GetPlan(ctx, ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("GetPlan(\"\") = %v", err)
	}
}

func TestPlanValidation(t *testing.T) {
	db := openNew(t, Options{})
	err := db.PutPlan(context.Background(), Plan{State: "pending"})
	if err == nil || err.Error() != "store: plan: id is required" || !errors.Is(err, ErrInvalid) {
		t.Errorf("PutPlan without id = %v", err)
	}
	err = db.PutPlan(context.Background(), Plan{ID: strings.Repeat("p", maxKeyLen+1)})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "id is too long") {
		t.Errorf("PutPlan with a long id = %v", err)
	}
	if err := db.PrunePlans(context.Background(), -1); !errors.Is(err, ErrInvalid) {
		t.Errorf("PrunePlans(-1) = %v", err)
	}
}

func TestPlanSeqAndCounter(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	// A plan put with an id the counter has not reached moves the counter past it.
	if err := db.PutPlan(ctx, plan(5, "pending")); err != nil {
		t.Fatal(err)
	}
	if id, err := db.NextPlanID(ctx); err != nil || id != "p-6" {
		t.Errorf("NextPlanID after p-5 = %q, %v; want p-6", id, err)
	}
	// An id not of the form p-N takes the next counter number as its Seq; an explicit Seq stays.
	other := plan(0, "pending")
	other.ID = "manual"
	if err := db.PutPlan(ctx, other); err != nil {
		t.Fatal(err)
	}
	explicit := plan(0, "pending")
	explicit.ID, explicit.Seq = "first", 1
	if err := db.PutPlan(ctx, explicit); err != nil {
		t.Fatal(err)
	}
	ps, err := db.ListPlans(ctx)
	if err != nil || !reflect.DeepEqual(planIDs(ps), []string{"first", "p-5", "manual"}) || ps[2].Seq != 7 {
		t.Errorf("ListPlans = %+v, %v", ps, err)
	}
	if id, err := db.NextPlanID(ctx); err != nil || id != "p-8" {
		t.Errorf("NextPlanID = %q, %v; want p-8", id, err)
	}
	for _, id := range []string{"p-0", "p-01", "p-", "p-x", "q-3", "p-99999999999999999999"} {
		if n := planNumber(id); n != 0 {
			t.Errorf("planNumber(%q) = %d, want 0", id, n)
		}
	}
}

func TestPrunePlans(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	states := []string{"done", "pending", "rejected", "approved", "expired", "running", "failed", "notified", "done"}
	for i, s := range states {
		if err := db.PutPlan(ctx, plan(i+1, s)); err != nil {
			t.Fatal(err)
		}
	}
	// Decided: p-1 p-3 p-5 p-7 p-8 p-9. Keep the newest 2 of them and every open plan.
	if err := db.PrunePlans(ctx, 2); err != nil {
		t.Fatal(err)
	}
	ps, err := db.ListPlans(ctx)
	if want := []string{"p-2", "p-4", "p-6", "p-8", "p-9"}; err != nil || !reflect.DeepEqual(planIDs(ps), want) {
		t.Errorf("after PrunePlans(2): %v, %v; want %v", planIDs(ps), err, want)
	}
	if err := db.PrunePlans(ctx, 5); err != nil {
		t.Fatal(err)
	}
	if ps, _ := db.ListPlans(ctx); len(ps) != 5 {
		t.Errorf("PrunePlans(5) with 2 decided deleted something: %v", planIDs(ps))
	}
	if err := db.PrunePlans(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if ps, _ := db.ListPlans(ctx); !reflect.DeepEqual(planIDs(ps), []string{"p-2", "p-4", "p-6"}) {
		t.Errorf("after PrunePlans(0): %v", planIDs(ps))
	}
	// Pruned ids are not handed out again.
	if id, err := db.NextPlanID(ctx); err != nil || id != "p-10" {
		t.Errorf("NextPlanID after pruning = %q, %v; want p-10", id, err)
	}
}

func TestPlansSurviveReopen(t *testing.T) {
	ctx := context.Background()
	path := storePath(t)
	db, err := Open(path, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 4; i++ {
		id, err := db.NextPlanID(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p := plan(i, "pending")
		p.ID = id
		if err := db.PutPlan(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	before, err := db.ListPlans(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	after, err := db.ListPlans(ctx)
	if err != nil || !reflect.DeepEqual(before, after) || len(after) != 4 {
		t.Errorf("plans after reopen differ: %v\n%+v\n%+v", err, before, after)
	}
	if id, err := db.NextPlanID(ctx); err != nil || id != "p-5" {
		t.Errorf("NextPlanID after reopen = %q, %v; want p-5", id, err)
	}
}

// TestStoreWithoutPlansBucket: a store made before plans existed opens, has no plans, and gets
// the bucket on the first write.
func TestStoreWithoutPlansBucket(t *testing.T) {
	ctx := context.Background()
	path := writeFile(t, validStore(t, 3))
	boltEdit(t, path, func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketPlans) })
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatalf("Open of a store without plans: %v", err)
	}
	defer func() { _ = db.Close() }()
	if ps, err := db.ListPlans(ctx); err != nil || len(ps) != 0 {
		t.Errorf("ListPlans = %v, %v", ps, err)
	}
	if _, err := db.GetPlan(ctx, "p-1"); !errors.Is(err, ErrNotFound) {
		t.Errorf("GetPlan = %v", err)
	}
	if err := db.PrunePlans(ctx, 0); err != nil {
		t.Errorf("PrunePlans = %v", err)
	}
	if id, err := db.NextPlanID(ctx); err != nil || id != "p-1" {
		t.Fatalf("NextPlanID = %q, %v", id, err)
	}
	if err := db.PutPlan(ctx, plan(1, "pending")); err != nil {
		t.Fatal(err)
	}
	if p, err := db.GetPlan(ctx, "p-1"); err != nil || p.Seq != 1 {
		t.Errorf("GetPlan(p-1) = %+v, %v", p, err)
	}
}

func TestCorruptPlanRecords(t *testing.T) {
	for name, edit := range map[string]func(tx *bbolt.Tx) error{
		"undecodable": func(tx *bbolt.Tx) error { return tx.Bucket(bucketPlans).Put([]byte("p-1"), []byte("{not json")) },
		"misfiled": func(tx *bbolt.Tx) error {
			return tx.Bucket(bucketPlans).Put([]byte("p-1"), []byte(`{"id":"p-2"}`))
		},
		"nested bucket": func(tx *bbolt.Tx) error {
			_, err := tx.Bucket(bucketPlans).CreateBucket([]byte("p-1"))
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			path := writeFile(t, validStore(t, 1))
			boltEdit(t, path, edit)
			err := wantOpenError(t, path, ErrCorrupt)
			if !strings.Contains(err.Error(), "plan") {
				t.Errorf("the error does not name the plans: %v", err)
			}
		})
	}
}
