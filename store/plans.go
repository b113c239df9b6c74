package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/lifeboat-ha/lifeboat/policy"
	"go.etcd.io/bbolt"
)

// planIDPrefix starts the ids NextPlanID hands out: "p-1", "p-2", ...
const planIDPrefix = "p-"

// PlanMove is one VM's move in a plan.
type PlanMove = policy.Move

// Plan is a plan (policy.Plan), stored as JSON under its ID.
type Plan = policy.Plan

// validatePlan reports the first field that makes the plan unstorable.
func validatePlan(p Plan) error {
	return validateKey("plan", "id", p.ID, func() error { return nil })
}

// planNumber is N of an id "p-N" (N > 0), or 0.
func planNumber(id string) uint64 {
	s, ok := strings.CutPrefix(id, planIDPrefix)
	if !ok || s == "" || s[0] == '0' {
		return 0
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// NextPlanID returns a new plan id, "p-1", "p-2", ...: the plan counter is stored, so ids are
// never reused, also across restarts and after PrunePlans.
func (db *DB) NextPlanID(ctx context.Context) (string, error) {
	var n uint64
	err := db.update(ctx, "next plan id", func(tx *bbolt.Tx) error {
		b, err := plansBucket(tx)
		if err != nil {
			return err
		}
		n, err = b.NextSequence()
		if err != nil {
			return fmt.Errorf("store: next plan id: %w", err)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return planIDPrefix + strconv.FormatUint(n, 10), nil
}

// PutPlan stores p under p.ID, replacing any plan with that ID. ID is required (an error naming
// the field wraps ErrInvalid). A zero Seq is filled in: the stored plan's Seq when p replaces
// one, else N of an ID "p-N", else the next number of the plan counter. An ID "p-N" the counter
// has not reached yet moves the counter to N, so that NextPlanID never hands it out.
func (db *DB) PutPlan(ctx context.Context, p Plan) error {
	if err := validatePlan(p); err != nil {
		return err
	}
	return db.update(ctx, "put plan", func(tx *bbolt.Tx) error {
		p := p // a batch may run this again (see update): start from the caller's plan each time
		b, err := plansBucket(tx)
		if err != nil {
			return err
		}
		n := planNumber(p.ID)
		if n > b.Sequence() {
			if err := b.SetSequence(n); err != nil {
				return fmt.Errorf("store: put plan %q: %w", p.ID, err)
			}
		}
		if p.Seq == 0 {
			if v := b.Get([]byte(p.ID)); v != nil {
				old, err := decodePlan([]byte(p.ID), v)
				if err != nil {
					return err
				}
				p.Seq = old.Seq
			}
		}
		if p.Seq == 0 {
			p.Seq = n
		}
		if p.Seq == 0 {
			if p.Seq, err = b.NextSequence(); err != nil {
				return fmt.Errorf("store: put plan %q: %w", p.ID, err)
			}
		}
		v, err := json.Marshal(p)
		if err != nil {
			return fmt.Errorf("store: put plan %q: %w", p.ID, err)
		}
		return b.Put([]byte(p.ID), v)
	})
}

// GetPlan returns the plan with the given ID, or an error wrapping ErrNotFound.
func (db *DB) GetPlan(ctx context.Context, id string) (Plan, error) {
	var p Plan
	if id == "" {
		return p, &fieldError{what: "get plan", field: "id", problem: "is required"}
	}
	err := db.view(ctx, "get plan", func(tx *bbolt.Tx) error {
		var v []byte
		if b := tx.Bucket(bucketPlans); b != nil {
			v = b.Get([]byte(id))
		}
		if v == nil {
			return fmt.Errorf("store: plan %q: %w", id, ErrNotFound)
		}
		var err error
		p, err = decodePlan([]byte(id), v)
		return err
	})
	return p, err
}

// ListPlans returns every plan, sorted by Seq, then ID (an empty, non-nil slice if there are
// none).
func (db *DB) ListPlans(ctx context.Context) ([]Plan, error) {
	var out []Plan
	err := db.view(ctx, "list plans", func(tx *bbolt.Tx) error {
		var err error
		out, err = readPlans(tx)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PrunePlans deletes the oldest (by Seq) decided plans beyond the newest keep of them. Open
// plans (pending, approved, running) are never deleted. A negative keep wraps ErrInvalid.
func (db *DB) PrunePlans(ctx context.Context, keep int) error {
	if keep < 0 {
		return &fieldError{what: "prune plans", field: "keep", problem: fmt.Sprintf("is %d, want 0 or more", keep)}
	}
	return db.update(ctx, "prune plans", func(tx *bbolt.Tx) error {
		plans, err := readPlans(tx)
		if err != nil {
			return err
		}
		var decided []Plan
		for _, p := range plans {
			if !p.State.Open() {
				decided = append(decided, p)
			}
		}
		if len(decided) <= keep {
			return nil
		}
		b := tx.Bucket(bucketPlans)
		for _, p := range decided[:len(decided)-keep] {
			if err := b.Delete([]byte(p.ID)); err != nil {
				return fmt.Errorf("store: prune plans: delete %q: %w", p.ID, err)
			}
		}
		return nil
	})
}

// plansBucket returns the plans bucket for writing, making it in a store created before plans
// existed.
func plansBucket(tx *bbolt.Tx) (*bbolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists(bucketPlans)
	if err != nil {
		return nil, fmt.Errorf("store: bucket %q: %w", bucketPlans, err)
	}
	return b, nil
}

// readPlans decodes every plan, sorted by Seq, then ID; a store without the plans bucket has
// none.
func readPlans(tx *bbolt.Tx) ([]Plan, error) {
	out := []Plan{}
	b := tx.Bucket(bucketPlans)
	if b == nil {
		return out, nil
	}
	err := b.ForEach(func(k, v []byte) error {
		p, err := decodePlan(k, v)
		out = append(out, p)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

func decodePlan(k, v []byte) (Plan, error) {
	var p Plan
	if v == nil {
		return p, fmt.Errorf("store: plan %q: %w: a nested bucket, not a record", k, ErrCorrupt)
	}
	err := decodeJSON("plan", k, v, &p)
	return p, err
}

// planCounter reads the plan counter without moving it.
func (db *DB) planCounter(ctx context.Context) (uint64, error) {
	var n uint64
	err := db.view(ctx, "read the plan counter", func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bucketPlans); b != nil {
			n = b.Sequence()
		}
		return nil
	})
	return n, err
}
