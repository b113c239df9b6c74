package store

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestJournalBoundedByBytes: with MaxJournalBytes, the oldest entries go once the journal's
// encoded size is over it, across a reopen; a huge message is cut and huge data replaced.
func TestJournalBoundedByBytes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	const limit = 16 << 10
	open := func() *DB {
		db, err := Open(path, Options{Create: true, MaxJournalBytes: limit})
		if err != nil {
			t.Fatal(err)
		}
		return db
	}
	at := time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)
	size := func(db *DB) (int, int, uint64) {
		evs, err := db.Journal(ctx, 0, 100000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			b, _ := json.Marshal(e)
			n += len(b)
		}
		return n, len(evs), evs[0].Seq
	}
	db := open()
	for range 100 {
		if _, err := db.Append(ctx, Entry{At: at, Kind: "audit", Message: strings.Repeat("x", 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, count, first := size(db); n > limit || count < 10 || first == 1 {
		t.Fatalf("after 100 entries of 1 KB: %d bytes in %d entries from #%d; want at most %d bytes, the oldest gone", n, count, first, limit)
	}
	db.Close()
	db = open()
	defer db.Close()
	for range 50 {
		if _, err := db.Append(ctx, Entry{At: at, Kind: "audit", Message: strings.Repeat("y", 1000)}); err != nil {
			t.Fatal(err)
		}
	}
	if n, _, _ := size(db); n > limit {
		t.Fatalf("after a reopen: %d bytes, want at most %d", n, limit)
	}

	seqs, err := db.Append(ctx, Entry{At: at, Kind: "audit", Message: strings.Repeat("é", 100000), Data: json.RawMessage(`"` + strings.Repeat("z", 100000) + `"`)})
	if err != nil {
		t.Fatal(err)
	}
	evs, err := db.Journal(ctx, seqs[0]-1, 1)
	if err != nil || len(evs) != 1 {
		t.Fatal(evs, err)
	}
	e := evs[0]
	if len(e.Message) > MaxMessageBytes+len("…") || !strings.HasSuffix(e.Message, "é…") || string(e.Data) != `{"truncated_bytes":100002}` {
		t.Fatalf("a huge entry is stored as %d message bytes (ends %q) and data %s", len(e.Message), e.Message[len(e.Message)-8:], e.Data)
	}
}
