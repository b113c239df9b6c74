package daemon

import (
	"context"
	"fmt"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// actingStore is the daemon's store seen through its leadership. Writes that precede an
// action (plans and the plan counter, fence, restart and guest reset records, the freeze) fail with
// store.ErrNotLeader while the daemon does not act, so the action does not run; on etcd the
// store itself also makes each such write conditional on the leader's term. What a follower
// observes (host verdicts, VM records, journal entries) is not written to a shared store
// (etcd): it stays in the follower's memory, the acting daemon records the cluster, and a
// takeover starts warm from memory and adopts the records from the store. A single daemon's
// store is its own file, so what it observes is written whether it acts or not.
type actingStore struct {
	store.Store
	acting func() bool
	shared bool
}

// observing tells whether an observation is written.
func (s actingStore) observing() bool { return !s.shared || s.acting() }

func (s actingStore) refuse(what string) error {
	if s.acting() {
		return nil
	}
	return fmt.Errorf("store: %s: %w (this daemon does not act)", what, store.ErrNotLeader)
}

// PutVM is skipped on a follower.
func (s actingStore) PutVM(ctx context.Context, rs ...store.VMRecord) error {
	if !s.observing() {
		return nil
	}
	return s.Store.PutVM(ctx, rs...)
}

// PutHost is skipped on a follower.
func (s actingStore) PutHost(ctx context.Context, r store.HostRecord) error {
	if !s.observing() {
		return nil
	}
	return s.Store.PutHost(ctx, r)
}

// Append is skipped on a follower (it returns no sequence numbers).
func (s actingStore) Append(ctx context.Context, entries ...store.Entry) ([]uint64, error) {
	if !s.observing() {
		return nil, nil
	}
	return s.Store.Append(ctx, entries...)
}

// PrunePlans is skipped on a follower.
func (s actingStore) PrunePlans(ctx context.Context, keep int) error {
	if !s.observing() {
		return nil
	}
	return s.Store.PrunePlans(ctx, keep)
}

// NextPlanID is refused on a follower.
func (s actingStore) NextPlanID(ctx context.Context) (string, error) {
	if err := s.refuse("next plan id"); err != nil {
		return "", err
	}
	return s.Store.NextPlanID(ctx)
}

// PutPlan is refused on a follower.
func (s actingStore) PutPlan(ctx context.Context, p store.Plan) error {
	if err := s.refuse("put plan " + p.ID); err != nil {
		return err
	}
	return s.Store.PutPlan(ctx, p)
}

// PutFence is refused on a follower.
func (s actingStore) PutFence(ctx context.Context, r policy.FenceRecord) error {
	if err := s.refuse("put fence record of " + r.Host); err != nil {
		return err
	}
	return s.Store.PutFence(ctx, r)
}

// PutRestart is refused on a follower.
func (s actingStore) PutRestart(ctx context.Context, r policy.RestartRecord) error {
	if err := s.refuse("put restart record of " + r.VM); err != nil {
		return err
	}
	return s.Store.PutRestart(ctx, r)
}

// DeleteRestart is refused on a follower.
func (s actingStore) DeleteRestart(ctx context.Context, uuid string) error {
	if err := s.refuse("delete restart record"); err != nil {
		return err
	}
	return s.Store.DeleteRestart(ctx, uuid)
}

// PutGuestReset is refused on a follower.
func (s actingStore) PutGuestReset(ctx context.Context, r policy.GuestReset) error {
	if err := s.refuse("put guest reset record of " + r.VM); err != nil {
		return err
	}
	return s.Store.PutGuestReset(ctx, r)
}

// DeleteGuestReset is refused on a follower.
func (s actingStore) DeleteGuestReset(ctx context.Context, uuid string) error {
	if err := s.refuse("delete guest reset record"); err != nil {
		return err
	}
	return s.Store.DeleteGuestReset(ctx, uuid)
}

// PutDisarm is refused on a follower.
func (s actingStore) PutDisarm(ctx context.Context, d store.Disarm) error {
	if err := s.refuse("put disarm"); err != nil {
		return err
	}
	return s.Store.PutDisarm(ctx, d)
}

// PutFreeze is refused on a follower.
func (s actingStore) PutFreeze(ctx context.Context, f policy.Freeze) error {
	if err := s.refuse("put freeze"); err != nil {
		return err
	}
	return s.Store.PutFreeze(ctx, f)
}
