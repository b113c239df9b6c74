package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"go.etcd.io/bbolt"
)

// maxKeyLen bounds record keys (VM UUIDs, host names).
const maxKeyLen = 512

// VMRecord is everything lifeboat must remember about a protected VM ("no VM
// is forgotten"). It is stored as JSON under its UUID.
type VMRecord struct {
	UUID        string    `json:"uuid"`         // key
	Name        string    `json:"name"`         // libvirt domain name
	Definition  string    `json:"definition"`   // libvirt domain XML (inactive definition), to restart it elsewhere
	HomeHost    string    `json:"home_host"`    // where it belongs (failback target)
	CurrentHost string    `json:"current_host"` // where it was last seen running ("" if nowhere)
	State       string    `json:"state"`        // last seen libvirt state: running, paused, shutoff, crashed, missing...
	Protected   bool      `json:"protected"`    // whether lifeboat restarts it elsewhere
	Priority    int       `json:"priority"`     // restart order, higher first
	MemoryMiB   int       `json:"memory_mib"`   // memory it needs
	VCPUs       int       `json:"vcpus"`        // virtual CPUs it needs
	UpdatedAt   time.Time `json:"updated_at"`   // set by the caller
	// ProbeAddress is the address libvirt reported for the VM while its host was reachable, at
	// which its liveness is probed on its own network while its host is cut off ("" if none).
	ProbeAddress string `json:"probe_address,omitempty"`
}

// validate reports the first field that makes the record unstorable.
func (r VMRecord) validate() error {
	return validateKey("vm record", "uuid", r.UUID, func() error {
		if r.Name == "" {
			return &fieldError{what: "vm record", field: "name", problem: "is required"}
		}
		return nil
	})
}

// validateKey checks a record key, then the rest of the record.
func validateKey(what, field, key string, rest func() error) error {
	switch {
	case key == "":
		return &fieldError{what: what, field: field, problem: "is required"}
	case len(key) > maxKeyLen:
		return &fieldError{what: what, field: field, problem: fmt.Sprintf("is too long (%d bytes, at most %d)", len(key), maxKeyLen)}
	}
	return rest()
}

// PutVM stores each record under its UUID, replacing any record with that UUID, all in one
// transaction (a fleet's inventory at start is one write per host, not one per VM). UUID and
// Name are required (an error naming the field wraps ErrInvalid; then nothing is stored).
func (db *DB) PutVM(ctx context.Context, rs ...VMRecord) error {
	vs, err := encodeVMs(rs)
	if err != nil || len(rs) == 0 {
		return err
	}
	return db.update(ctx, "put vm", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketVMs)
		for i, r := range rs {
			if err := b.Put([]byte(r.UUID), vs[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

// encodeVMs validates and encodes VM records.
func encodeVMs(rs []VMRecord) ([][]byte, error) {
	vs := make([][]byte, len(rs))
	for i, r := range rs {
		if err := r.validate(); err != nil {
			return nil, err
		}
		v, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("store: put vm %q: %w", r.UUID, err)
		}
		vs[i] = v
	}
	return vs, nil
}

// GetVM returns the record of the VM with the given UUID, or an error
// wrapping ErrNotFound.
func (db *DB) GetVM(ctx context.Context, uuid string) (VMRecord, error) {
	var r VMRecord
	if uuid == "" {
		return r, &fieldError{what: "get vm", field: "uuid", problem: "is required"}
	}
	err := db.view(ctx, "get vm", func(tx *bbolt.Tx) error {
		v := tx.Bucket(bucketVMs).Get([]byte(uuid))
		if v == nil {
			return fmt.Errorf("store: vm %q: %w", uuid, ErrNotFound)
		}
		var err error
		r, err = decodeVM([]byte(uuid), v)
		return err
	})
	return r, err
}

// ListVMs returns every VM record, sorted by Name, then UUID (an empty,
// non-nil slice if there are none).
func (db *DB) ListVMs(ctx context.Context) ([]VMRecord, error) {
	out := []VMRecord{}
	err := db.view(ctx, "list vms", func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketVMs).ForEach(func(k, v []byte) error {
			r, err := decodeVM(k, v)
			out = append(out, r)
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].UUID < out[j].UUID
	})
	return out, nil
}

// DeleteVM forgets the VM with the given UUID. Deleting a VM that is not
// stored returns an error wrapping ErrNotFound.
func (db *DB) DeleteVM(ctx context.Context, uuid string) error {
	if uuid == "" {
		return &fieldError{what: "delete vm", field: "uuid", problem: "is required"}
	}
	return db.update(ctx, "delete vm", func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketVMs)
		if b.Get([]byte(uuid)) == nil {
			return fmt.Errorf("store: vm %q: %w", uuid, ErrNotFound)
		}
		return b.Delete([]byte(uuid))
	})
}

func decodeVM(k, v []byte) (VMRecord, error) {
	var r VMRecord
	err := decodeJSON("vm", k, v, &r)
	return r, err
}
