package store

import (
	"context"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// Store is what the daemon keeps: VM and host records, the journal, the approval mode's plans
// and the recovery guards. Two backends implement it: the embedded bbolt file (DB, one daemon)
// and etcd (Etcd, several daemons of which one leads). Both behave the same; one contract test
// suite runs against both.
type Store interface {
	// PutVM stores VM records, each under its UUID: all in one write (bbolt), or in writes of
	// at most etcdVMBatch records (etcd). An invalid record stores none of them.
	PutVM(ctx context.Context, rs ...VMRecord) error
	// ListVMs returns every VM record, sorted by Name, then UUID.
	ListVMs(ctx context.Context) ([]VMRecord, error)

	// PutHost stores a host record under its name.
	PutHost(ctx context.Context, r HostRecord) error
	// ListHosts returns every host record, sorted by Name.
	ListHosts(ctx context.Context) ([]HostRecord, error)

	// Append adds entries to the journal and returns their sequence numbers.
	Append(ctx context.Context, entries ...Entry) ([]uint64, error)
	// Journal returns the entries with Seq > after, oldest first, at most limit of them.
	Journal(ctx context.Context, after uint64, limit int) ([]Entry, error)
	// LastSeq returns the sequence number of the newest entry ever appended.
	LastSeq(ctx context.Context) (uint64, error)
	// Wait blocks until the journal holds an entry with Seq > after.
	Wait(ctx context.Context, after uint64) error

	// NextPlanID returns a new plan id from the stored plan counter.
	NextPlanID(ctx context.Context) (string, error)
	// PutPlan stores a plan under its ID.
	PutPlan(ctx context.Context, p Plan) error
	// ListPlans returns every plan, sorted by Seq, then ID.
	ListPlans(ctx context.Context) ([]Plan, error)
	// PrunePlans deletes the oldest decided plans beyond the newest keep of them.
	PrunePlans(ctx context.Context, keep int) error

	// Guards reads the recovery guards: fence records, restart records, in-place restart records
	// and the freeze.
	Guards(ctx context.Context) (policy.Guards, error)
	// PutFence stores a host's fence record.
	PutFence(ctx context.Context, r policy.FenceRecord) error
	// PutRestart stores a VM's restart record.
	PutRestart(ctx context.Context, r policy.RestartRecord) error
	// DeleteRestart forgets a VM's restart record.
	DeleteRestart(ctx context.Context, uuid string) error
	// PutGuestReset stores a VM's in-place restart record (VM-level monitoring).
	PutGuestReset(ctx context.Context, r policy.GuestReset) error
	// DeleteGuestReset forgets a VM's in-place restart record.
	DeleteGuestReset(ctx context.Context, uuid string) error
	// PutFreeze stores the freeze of automatic recovery.
	PutFreeze(ctx context.Context, f policy.Freeze) error
	// PutDisarm stores whether an admin has stopped all automatic action.
	PutDisarm(ctx context.Context, d Disarm) error
	// GetDisarm returns the disarm record; a store that never had one is armed.
	GetDisarm(ctx context.Context) (Disarm, error)

	// Location says where the store is, for status and logs: a file path or etcd endpoints
	// and prefix.
	Location() string
	// Close releases the store; blocked Waits return ErrClosed.
	Close() error
}

// Location returns the store's file path.
func (db *DB) Location() string { return db.path }

var _ Store = (*DB)(nil)
