package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// storeWrite is one write the daemon made to its store, kept to be replayed (recordingStore).
type storeWrite struct {
	vms      []store.VMRecord
	host     *store.HostRecord
	entries  []store.Entry
	plan     *store.Plan
	planID   bool // a NextPlanID
	pruned   bool // a PrunePlans(keep)
	keep     int
	fence    *policy.FenceRecord
	restart  *policy.RestartRecord
	unstart  string // a DeleteRestart of this UUID
	freeze   *policy.Freeze
	disarmed *store.Disarm
}

// recordingStore passes every call to the daemon's store and, while recording, keeps a copy of
// each write, so that a benchmark can replay what the real daemon wrote for real events.
type recordingStore struct {
	store.Store
	mu     sync.Mutex
	on     bool
	writes []storeWrite
}

func (s *recordingStore) note(w storeWrite) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.on {
		s.writes = append(s.writes, w)
	}
}

// record starts (or stops) keeping the writes; stopping returns those kept and forgets them.
func (s *recordingStore) record(on bool) []storeWrite {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.on = on
	out := s.writes
	s.writes = nil
	return out
}

func (s *recordingStore) PutVM(ctx context.Context, rs ...store.VMRecord) error {
	s.note(storeWrite{vms: append([]store.VMRecord(nil), rs...)})
	return s.Store.PutVM(ctx, rs...)
}
func (s *recordingStore) PutHost(ctx context.Context, r store.HostRecord) error {
	s.note(storeWrite{host: &r})
	return s.Store.PutHost(ctx, r)
}
func (s *recordingStore) Append(ctx context.Context, es ...store.Entry) ([]uint64, error) {
	s.note(storeWrite{entries: append([]store.Entry(nil), es...)})
	return s.Store.Append(ctx, es...)
}
func (s *recordingStore) PutPlan(ctx context.Context, p store.Plan) error {
	s.note(storeWrite{plan: &p})
	return s.Store.PutPlan(ctx, p)
}
func (s *recordingStore) NextPlanID(ctx context.Context) (string, error) {
	s.note(storeWrite{planID: true})
	return s.Store.NextPlanID(ctx)
}
func (s *recordingStore) PrunePlans(ctx context.Context, keep int) error {
	s.note(storeWrite{pruned: true, keep: keep})
	return s.Store.PrunePlans(ctx, keep)
}
func (s *recordingStore) PutFence(ctx context.Context, r policy.FenceRecord) error {
	s.note(storeWrite{fence: &r})
	return s.Store.PutFence(ctx, r)
}
func (s *recordingStore) PutRestart(ctx context.Context, r policy.RestartRecord) error {
	s.note(storeWrite{restart: &r})
	return s.Store.PutRestart(ctx, r)
}
func (s *recordingStore) DeleteRestart(ctx context.Context, uuid string) error {
	s.note(storeWrite{unstart: uuid})
	return s.Store.DeleteRestart(ctx, uuid)
}
func (s *recordingStore) PutFreeze(ctx context.Context, f policy.Freeze) error {
	s.note(storeWrite{freeze: &f})
	return s.Store.PutFreeze(ctx, f)
}
func (s *recordingStore) PutDisarm(ctx context.Context, d store.Disarm) error {
	s.note(storeWrite{disarmed: &d})
	return s.Store.PutDisarm(ctx, d)
}

// replayWrites writes ws again into db as if they happened shift later: journal entries are
// stamped shift later, and each plan gets a fresh id from the store's plan counter (the same
// plan written twice in ws gets the same new id), so that replays add plans the way new events
// do instead of overwriting the recorded ones. Records keyed by host or VM (host and VM
// records, fence and restart records) overwrite, as they do in the daemon.
func replayWrites(ctx context.Context, db store.Store, ws []storeWrite, shift time.Duration) error {
	ids := map[string]string{}
	for _, w := range ws {
		var err error
		switch {
		case w.vms != nil:
			rs := append([]store.VMRecord(nil), w.vms...)
			for i := range rs {
				rs[i].UpdatedAt = rs[i].UpdatedAt.Add(shift)
			}
			err = db.PutVM(ctx, rs...)
		case w.host != nil:
			r := *w.host
			r.UpdatedAt, r.Since = r.UpdatedAt.Add(shift), r.Since.Add(shift)
			err = db.PutHost(ctx, r)
		case w.entries != nil:
			es := append([]store.Entry(nil), w.entries...)
			for i := range es {
				es[i].Seq, es[i].At = 0, es[i].At.Add(shift)
			}
			_, err = db.Append(ctx, es...)
		case w.plan != nil:
			p := *w.plan
			id, ok := ids[p.ID]
			if !ok {
				if id, err = db.NextPlanID(ctx); err != nil {
					return fmt.Errorf("replay: %w", err)
				}
				ids[p.ID] = id
			}
			p.ID, p.Seq = id, 0
			err = db.PutPlan(ctx, p)
		case w.planID:
			// The plan's own write numbers it (above).
		case w.pruned:
			err = db.PrunePlans(ctx, w.keep)
		case w.fence != nil:
			err = db.PutFence(ctx, *w.fence)
		case w.restart != nil:
			err = db.PutRestart(ctx, *w.restart)
		case w.unstart != "":
			err = db.DeleteRestart(ctx, w.unstart)
		case w.freeze != nil:
			err = db.PutFreeze(ctx, *w.freeze)
		case w.disarmed != nil:
			err = db.PutDisarm(ctx, *w.disarmed)
		}
		if err != nil {
			return fmt.Errorf("replay: %w", err)
		}
	}
	return nil
}
