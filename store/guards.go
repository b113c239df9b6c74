package store

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lifeboat-ha/lifeboat/policy"
	"go.etcd.io/bbolt"
)

// Keys of the guards bucket.
const (
	guardFencePrefix   = "fence/"
	guardRestartPrefix = "restart/"
	guardResetPrefix   = "reset/"
	guardFreeze        = "freeze"
)

// Guards reads the recovery guards' durable state: every host's fence record, the freeze and
// the restart queue, and the VMs' in-place restarts. A store without any has empty guards.
func (db *DB) Guards(ctx context.Context) (policy.Guards, error) {
	g := emptyGuards()
	err := db.view(ctx, "read guards", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketGuards)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error { return decodeGuard(&g, string(k), v) })
	})
	return g, err
}

// PutFence stores a host's fence record. Host is required.
func (db *DB) PutFence(ctx context.Context, r policy.FenceRecord) error {
	return db.putGuard(ctx, "fence record", "host", r.Host, guardFencePrefix+r.Host, r)
}

// PutRestart stores one VM's restart record. UUID is required.
func (db *DB) PutRestart(ctx context.Context, r policy.RestartRecord) error {
	return db.putGuard(ctx, "restart record", "uuid", r.UUID, guardRestartPrefix+r.UUID, r)
}

// DeleteRestart forgets one VM's restart record (deleting a missing one is not an error).
func (db *DB) DeleteRestart(ctx context.Context, uuid string) error {
	return db.deleteGuard(ctx, "delete restart", guardRestartPrefix+uuid)
}

// PutGuestReset stores one VM's in-place restart record. UUID is required.
func (db *DB) PutGuestReset(ctx context.Context, r policy.GuestReset) error {
	return db.putGuard(ctx, "guest reset record", "uuid", r.UUID, guardResetPrefix+r.UUID, r)
}

// DeleteGuestReset forgets one VM's in-place restart record (a missing one is not an error).
func (db *DB) DeleteGuestReset(ctx context.Context, uuid string) error {
	return db.deleteGuard(ctx, "delete guest reset", guardResetPrefix+uuid)
}

func (db *DB) deleteGuard(ctx context.Context, what, key string) error {
	return db.update(ctx, what, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketGuards)
		if err != nil {
			return fmt.Errorf("store: bucket %q: %w", bucketGuards, err)
		}
		return b.Delete([]byte(key))
	})
}

// emptyGuards returns guards with every map made.
func emptyGuards() policy.Guards {
	return policy.Guards{Fences: map[string]policy.FenceRecord{}, Restarts: map[string]policy.RestartRecord{},
		Resets: map[string]policy.GuestReset{}}
}

// PutFreeze stores the freeze of automatic recovery.
func (db *DB) PutFreeze(ctx context.Context, f policy.Freeze) error {
	return db.putGuard(ctx, "freeze", "freeze", guardFreeze, guardFreeze, f)
}

func (db *DB) putGuard(ctx context.Context, what, field, id, key string, v any) error {
	if err := validateKey(what, field, id, func() error { return nil }); err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: put %s %q: %w", what, id, err)
	}
	return db.update(ctx, "put "+what, func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketGuards)
		if err != nil {
			return fmt.Errorf("store: bucket %q: %w", bucketGuards, err)
		}
		return b.Put([]byte(key), raw)
	})
}
