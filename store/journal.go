package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"go.etcd.io/bbolt"
)

// DefaultJournalLimit is how many entries Journal returns when its limit is
// zero or less.
const DefaultJournalLimit = 1000

// Limits on one journal entry: Append cuts a longer Message (with "…") and
// replaces a larger Data with {"truncated_bytes": N}, so that no entry, and
// with Options.MaxJournalBytes no journal, grows without bound.
const (
	MaxMessageBytes = 8 << 10
	MaxDataBytes    = 64 << 10
)

// keyJournalBytes holds the journal's encoded size in the meta bucket
// (decimal); a store without it gets it computed on the next Append.
var keyJournalBytes = []byte("journal_bytes")

// bounded returns e with its Message and Data within the entry limits.
func (e Entry) bounded() Entry {
	if len(e.Message) > MaxMessageBytes {
		cut := MaxMessageBytes
		for cut > 0 && !utf8.RuneStart(e.Message[cut]) {
			cut--
		}
		e.Message = e.Message[:cut] + "…"
	}
	if len(e.Data) > MaxDataBytes {
		e.Data = json.RawMessage(fmt.Sprintf(`{"truncated_bytes":%d}`, len(e.Data)))
	}
	return e
}

// Entry is one journal entry: an observation, verdict, decision or action.
// The journal is append-only; the oldest entries are pruned beyond
// Options.MaxJournal.
type Entry struct {
	Seq     uint64          `json:"seq"`              // assigned by Append, strictly increasing, never reused
	At      time.Time       `json:"at"`               // set by the caller (injected clock); Append rejects zero
	Kind    string          `json:"kind"`             // e.g. "verdict", "observation", "decision", "action", "daemon"
	Host    string          `json:"host,omitempty"`   // the host concerned, if any
	VM      string          `json:"vm,omitempty"`     // the VM concerned (UUID), if any
	Reason  string          `json:"reason,omitempty"` // machine-readable code
	Message string          `json:"message"`          // sentence for people
	Data    json.RawMessage `json:"data,omitempty"`   // details, any JSON value
}

func (e Entry) validate(i int) error {
	what := fmt.Sprintf("journal entry %d", i)
	switch {
	case e.At.IsZero():
		return &fieldError{what: what, field: "at", problem: "is required"}
	case e.Kind == "":
		return &fieldError{what: what, field: "kind", problem: "is required"}
	case len(e.Data) > 0 && !json.Valid(e.Data):
		return &fieldError{what: what, field: "data", problem: "is not valid JSON"}
	}
	return nil
}

// seqKey is the journal key of seq: big-endian, so keys sort by sequence.
func seqKey(seq uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), seq)
}

// Append adds entries to the journal in one transaction and returns the
// sequence numbers it gave them, in order. The caller's Seq fields are
// ignored. Every entry needs At and Kind; if any entry is invalid nothing is
// written. Entries beyond Options.MaxJournal are pruned, oldest first, in the
// same transaction, and goroutines blocked in Wait are woken.
func (db *DB) Append(ctx context.Context, entries ...Entry) ([]uint64, error) {
	for i, e := range entries {
		if err := e.validate(i); err != nil {
			return nil, err
		}
	}
	if len(entries) == 0 {
		return nil, nil
	}
	seqs := make([]uint64, 0, len(entries))
	err := db.update(ctx, "append to the journal", func(tx *bbolt.Tx) error {
		seqs = seqs[:0] // a batch may run this again (see update)
		b := tx.Bucket(bucketJournal)
		size, err := journalBytes(tx)
		if err != nil {
			return err
		}
		for _, e := range entries {
			seq, err := b.NextSequence()
			if err != nil {
				return fmt.Errorf("store: append to the journal: %w", err)
			}
			e = e.bounded()
			e.Seq = seq
			v, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("store: append to the journal: entry %d: %w", len(seqs), err)
			}
			if err := b.Put(seqKey(seq), v); err != nil {
				return fmt.Errorf("store: append to the journal: %w", err)
			}
			size += int64(len(v))
			seqs = append(seqs, seq)
		}
		if size, err = db.prune(b, size); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(keyJournalBytes, []byte(strconv.FormatInt(size, 10)))
	})
	if err != nil {
		return nil, err
	}
	db.broadcast()
	return seqs, nil
}

// prune deletes the entries older than the newest maxJournal sequence
// numbers, then the oldest while the journal's size is over maxJournalSz
// (keeping the newest entry whatever its size). Sequence numbers are dense
// (nothing but pruning deletes), so this keeps exactly maxJournal entries once
// that many were appended and they fit. It returns the size left.
func (db *DB) prune(b *bbolt.Bucket, size int64) (int64, error) {
	last := b.Sequence()
	var cutoff uint64
	if last > uint64(db.maxJournal) {
		cutoff = last - uint64(db.maxJournal)
	}
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.First() {
		seq := binary.BigEndian.Uint64(k)
		if seq > cutoff && (size <= db.maxJournalSz || seq == last) {
			break
		}
		size -= int64(len(v))
		if err := c.Delete(); err != nil {
			return 0, fmt.Errorf("store: prune the journal: %w", err)
		}
	}
	return size, nil
}

// journalBytes returns the journal's encoded size from the meta bucket,
// computing it once for a store that does not have it yet.
func journalBytes(tx *bbolt.Tx) (int64, error) {
	if raw := tx.Bucket(bucketMeta).Get(keyJournalBytes); raw != nil {
		if n, err := strconv.ParseInt(string(raw), 10, 64); err == nil && n >= 0 {
			return n, nil
		}
	}
	var n int64
	err := tx.Bucket(bucketJournal).ForEach(func(_, v []byte) error {
		n += int64(len(v))
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: size the journal: %w", err)
	}
	return n, nil
}

// Journal returns the entries with Seq > after, oldest first, at most limit
// of them (DefaultJournalLimit if limit <= 0). Pass the last Seq returned to
// get the next page; an empty result means there is nothing newer yet. If
// entries after `after` were pruned meanwhile, the result starts at the
// oldest entry kept, and the gap in Seq shows how many were lost.
func (db *DB) Journal(ctx context.Context, after uint64, limit int) ([]Entry, error) {
	if limit <= 0 {
		limit = DefaultJournalLimit
	}
	if after == math.MaxUint64 {
		return []Entry{}, nil
	}
	out := []Entry{}
	err := db.view(ctx, "read the journal", func(tx *bbolt.Tx) error {
		c := tx.Bucket(bucketJournal).Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			var e Entry
			if err := decodeJSON("journal entry", k, v, &e); err != nil {
				return err
			}
			e.Seq = binary.BigEndian.Uint64(k)
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LastSeq returns the sequence number of the newest entry ever appended (0
// for a new store). It does not go back when old entries are pruned.
func (db *DB) LastSeq(ctx context.Context) (uint64, error) {
	var last uint64
	err := db.view(ctx, "read the journal", func(tx *bbolt.Tx) error {
		last = tx.Bucket(bucketJournal).Sequence()
		return nil
	})
	return last, err
}
