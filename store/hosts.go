package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"go.etcd.io/bbolt"
)

// HostRecord is the last verdict on a host. It is stored as JSON under its
// name.
type HostRecord struct {
	Name      string    `json:"name"`       // key
	Role      string    `json:"role"`       // the host's role in the cluster
	State     string    `json:"state"`      // the verdict
	Reason    string    `json:"reason"`     // machine-readable code
	Message   string    `json:"message"`    // sentence for people
	Since     time.Time `json:"since"`      // when the host entered State
	UpdatedAt time.Time `json:"updated_at"` // set by the caller
	// Maintenance records an operator's drain, so that it survives a restart of the daemon.
	Maintenance bool `json:"maintenance,omitempty"`
	// Degraded and DegradedReason record an operator's degraded mark, so that it survives too.
	Degraded       bool   `json:"degraded,omitempty"`
	DegradedReason string `json:"degraded_reason,omitempty"`
	// Observations are the latched health observations (firing alerts, guest I/O errors), so
	// that a restarted daemon still counts them.
	Observations []Observation `json:"observations,omitempty"`
}

// Observation is one latched health observation of a host.
type Observation struct {
	Source   string    `json:"source"`
	Key      string    `json:"key"`
	Severity string    `json:"severity"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
	Expires  time.Time `json:"expires,omitzero"`
}

func (r HostRecord) validate() error {
	return validateKey("host record", "name", r.Name, func() error { return nil })
}

// PutHost stores r under r.Name, replacing any record with that name. Name
// is required (an error naming the field wraps ErrInvalid).
func (db *DB) PutHost(ctx context.Context, r HostRecord) error {
	if err := r.validate(); err != nil {
		return err
	}
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: put host %q: %w", r.Name, err)
	}
	return db.update(ctx, "put host", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketHosts).Put([]byte(r.Name), v)
	})
}

// GetHost returns the record of the named host, or an error wrapping
// ErrNotFound.
func (db *DB) GetHost(ctx context.Context, name string) (HostRecord, error) {
	var r HostRecord
	if name == "" {
		return r, &fieldError{what: "get host", field: "name", problem: "is required"}
	}
	err := db.view(ctx, "get host", func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketHosts).Get([]byte(name))
		if v == nil {
			return fmt.Errorf("store: host %q: %w", name, ErrNotFound)
		}
		var err error
		r, err = decodeHost([]byte(name), v)
		return err
	})
	return r, err
}

// ListHosts returns every host record, sorted by Name (an empty, non-nil
// slice if there are none).
func (db *DB) ListHosts(ctx context.Context) ([]HostRecord, error) {
	out := []HostRecord{}
	err := db.view(ctx, "list hosts", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketHosts).ForEach(func(k, v []byte) error {
			r, err := decodeHost(k, v)
			out = append(out, r)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func decodeHost(k, v []byte) (HostRecord, error) {
	var r HostRecord
	err := decodeJSON("host", k, v, &r)
	return r, err
}
