package store

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/bbolt"
)

// SchemaVersion is the version of the bucket layout and record encoding this
// build writes and reads. Open refuses any other version with ErrVersion.
const SchemaVersion = 1

var (
	bucketMeta    = []byte("meta")
	bucketVMs     = []byte("vms")
	bucketHosts   = []byte("hosts")
	bucketJournal = []byte("journal")
	// bucketPlans holds the approval mode's plans; its sequence is the plan counter. A store
	// made before plans existed lacks it until the first write of a plan (an additive change:
	// the schema version stays 1).
	bucketPlans = []byte("plans")
	// bucketGuards holds the recovery guards' durable state: "fence/HOST", "restart/UUID" and
	// "freeze" (additive too: made at the first write).
	bucketGuards = []byte("guards")

	keySchemaVersion = []byte("schema_version") // decimal ASCII
	keyCreatedAt     = []byte("created_at")     // RFC 3339, UTC
)

// initSchema lays out a new, empty store.
func initSchema(tx *bbolt.Tx, now time.Time) error {
	for _, name := range [][]byte{bucketMeta, bucketVMs, bucketHosts, bucketJournal, bucketPlans, bucketGuards} {
		if _, err := tx.CreateBucket(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	meta := tx.Bucket(bucketMeta)
	if err := meta.Put(keySchemaVersion, []byte(strconv.Itoa(SchemaVersion))); err != nil {
		return err
	}
	return meta.Put(keyCreatedAt, []byte(now.UTC().Format(time.RFC3339Nano)))
}

// checkSchema checks, in a file whose page structure checkFile accepted,
// that the buckets and records are lifeboat's. It returns an error wrapping
// ErrVersion for a schema version it does not know, or a plain error
// describing what is wrong (the caller adds ErrCorrupt and the path).
func checkSchema(tx *bbolt.Tx) error {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return errors.New(`no "meta" bucket: not a lifeboat store`)
	}
	raw := meta.Get(keySchemaVersion)
	if raw == nil {
		return errors.New(`meta bucket has no schema_version`)
	}
	v, err := strconv.ParseUint(string(raw), 10, 32)
	if err != nil {
		return fmt.Errorf("meta bucket: schema_version %q is not a number", raw)
	}
	if v != SchemaVersion {
		hint := "written by a newer lifeboat; upgrade lifeboat"
		if v < SchemaVersion {
			hint = "unknown version"
		}
		return fmt.Errorf("%w: schema version %d, this build reads version %d (%s)", ErrVersion, v, SchemaVersion, hint)
	}
	for _, name := range [][]byte{bucketVMs, bucketHosts, bucketJournal} {
		if tx.Bucket(name) == nil {
			return fmt.Errorf("bucket %q is missing", name)
		}
	}
	if err := checkRecords(tx.Bucket(bucketVMs), "vm", func(k, v []byte) (string, error) {
		var r VMRecord
		err := json.Unmarshal(v, &r)
		return r.UUID, err
	}); err != nil {
		return err
	}
	if err := checkRecords(tx.Bucket(bucketHosts), "host", func(k, v []byte) (string, error) {
		var r HostRecord
		err := json.Unmarshal(v, &r)
		return r.Name, err
	}); err != nil {
		return err
	}
	if plans := tx.Bucket(bucketPlans); plans != nil { // optional: see bucketPlans
		if err := checkRecords(plans, "plan", func(k, v []byte) (string, error) {
			var p Plan
			err := json.Unmarshal(v, &p)
			return p.ID, err
		}); err != nil {
			return err
		}
	}
	// Journal entries are many and are decoded when read; check only the keys.
	journal := tx.Bucket(bucketJournal)
	last := journal.Sequence()
	return journal.ForEach(func(k, v []byte) error {
		if v == nil {
			return fmt.Errorf("journal: nested bucket %q", k)
		}
		if len(k) != 8 {
			return fmt.Errorf("journal: key %x is not an 8-byte sequence number", k)
		}
		if seq := binary.BigEndian.Uint64(k); seq == 0 || seq > last {
			return fmt.Errorf("journal: entry %d is outside the assigned sequence numbers 1..%d", seq, last)
		}
		return nil
	})
}

// checkRecords decodes every record of a bucket and checks that it is
// stored under its own key.
func checkRecords(b *bbolt.Bucket, what string, decode func(k, v []byte) (key string, err error)) error {
	return b.ForEach(func(k, v []byte) error {
		if v == nil {
			return fmt.Errorf("%ss: nested bucket %q", what, k)
		}
		key, err := decode(k, v)
		if err != nil {
			return fmt.Errorf("%s record %q: %v", what, k, err)
		}
		if key != string(k) {
			return fmt.Errorf("%s record under key %q names itself %q", what, k, key)
		}
		return nil
	})
}

// decodeJSON decodes a stored record, reporting a failure as ErrCorrupt.
func decodeJSON(what string, key, v []byte, into any) error {
	if err := json.Unmarshal(v, into); err != nil {
		return fmt.Errorf("store: %s %q: %w: %v", what, key, ErrCorrupt, err)
	}
	return nil
}
