package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/bbolt"
)

// keyDisarm holds the Disarm record in the meta bucket (JSON; absent: armed). An additive
// change: the schema version stays 1.
var keyDisarm = []byte("disarm")

// Disarm is whether an admin has stopped all automatic action, and who, when and why.
type Disarm struct {
	Disarmed bool      `json:"disarmed"`
	Reason   string    `json:"reason,omitempty"`
	By       string    `json:"by,omitempty"`
	Since    time.Time `json:"since,omitzero"`
}

// PutDisarm records whether automatic action is disarmed.
func (db *DB) PutDisarm(ctx context.Context, d Disarm) error {
	v, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("store: put disarm: %w", err)
	}
	return db.update(ctx, "put disarm", func(tx *bbolt.Tx) error {
		if err := tx.Bucket(bucketMeta).Put(keyDisarm, v); err != nil {
			return fmt.Errorf("store: put disarm: %w", err)
		}
		return nil
	})
}

// GetDisarm returns the disarm record; a store that never had one is armed.
func (db *DB) GetDisarm(ctx context.Context) (Disarm, error) {
	var d Disarm
	err := db.view(ctx, "get disarm", func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketMeta).Get(keyDisarm)
		if v == nil {
			return nil
		}
		if err := json.Unmarshal(v, &d); err != nil {
			return fmt.Errorf("store: disarm record: %w", err)
		}
		return nil
	})
	return d, err
}
