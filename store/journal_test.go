package store

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"
)

func seqsOf(es []Entry) []uint64 {
	var out []uint64
	for _, e := range es {
		out = append(out, e.Seq)
	}
	return out
}

func seqRange(from, to uint64) []uint64 {
	var out []uint64
	for s := from; s <= to; s++ {
		out = append(out, s)
	}
	return out
}

func TestAppendAndRead(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	if last, err := db.LastSeq(ctx); err != nil || last != 0 {
		t.Fatalf("LastSeq on a new store = %d, %v", last, err)
	}
	if es, err := db.Journal(ctx, 0, 0); err != nil || len(es) != 0 {
		t.Fatalf("Journal on a new store = %v, %v", es, err)
	}
	in := entry(1)
	in.Seq = 999 // ignored
	in.VM = "00000000-0000-4000-8000-000000000001"
	in.Data = json.RawMessage(`{ "load": [1, 2, 3], "why": "test" }`)
	seqs, err := db.Append(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seqs, []uint64{1}) {
		t.Fatalf("Append seqs = %v", seqs)
	}
	seqs, err = db.Append(ctx, entry(2), entry(3), entry(4))
	if err != nil || !reflect.DeepEqual(seqs, []uint64{2, 3, 4}) {
		t.Fatalf("batch Append = %v, %v", seqs, err)
	}
	if seqs, err := db.Append(ctx); err != nil || len(seqs) != 0 {
		t.Fatalf("empty Append = %v, %v", seqs, err)
	}
	es, err := db.Journal(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seqsOf(es), []uint64{1, 2, 3, 4}) {
		t.Fatalf("Journal seqs = %v", seqsOf(es))
	}
	got := es[0]
	if got.Kind != in.Kind || got.Host != in.Host || got.VM != in.VM || got.Reason != in.Reason ||
		got.Message != in.Message || !got.At.Equal(in.At) {
		t.Errorf("entry = %+v, want %+v", got, in)
	}
	var a, b any
	_ = json.Unmarshal(got.Data, &a)
	_ = json.Unmarshal(in.Data, &b)
	if !reflect.DeepEqual(a, b) {
		t.Errorf("Data = %s, want %s", got.Data, in.Data)
	}
	if last, _ := db.LastSeq(ctx); last != 4 {
		t.Errorf("LastSeq = %d, want 4", last)
	}
}

func TestAppendValidation(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	noAt := entry(2)
	noAt.At = time.Time{}
	noKind := entry(2)
	noKind.Kind = ""
	badData := entry(2)
	badData.Data = json.RawMessage(`{"x":`)
	tests := []struct {
		e    Entry
		want string
	}{
		{noAt, "store: journal entry 1: at is required"},
		{noKind, "store: journal entry 1: kind is required"},
		{badData, "store: journal entry 1: data is not valid JSON"},
	}
	for _, tt := range tests {
		seqs, err := db.Append(ctx, entry(1), tt.e)
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrInvalid) || seqs != nil {
			t.Errorf("Append = %v, %v; want %q", seqs, err, tt.want)
		}
	}
	if last, _ := db.LastSeq(ctx); last != 0 {
		t.Errorf("a rejected batch was partly written: LastSeq = %d", last)
	}
}

func TestJournalPaging(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	var batch []Entry
	for i := 1; i <= 25; i++ {
		batch = append(batch, entry(i))
	}
	if _, err := db.Append(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	var all []uint64
	var after uint64
	for pages := 0; ; pages++ {
		es, err := db.Journal(ctx, after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			break
		}
		if len(es) > 10 {
			t.Fatalf("page of %d entries, limit 10", len(es))
		}
		all = append(all, seqsOf(es)...)
		after = es[len(es)-1].Seq
	}
	if !reflect.DeepEqual(all, seqRange(1, 25)) {
		t.Errorf("paged seqs = %v", all)
	}
	if es, _ := db.Journal(ctx, 20, 0); !reflect.DeepEqual(seqsOf(es), seqRange(21, 25)) {
		t.Errorf("Journal(20) = %v", seqsOf(es))
	}
	if es, _ := db.Journal(ctx, 25, 0); len(es) != 0 {
		t.Errorf("Journal(25) = %v", seqsOf(es))
	}
	if es, _ := db.Journal(ctx, ^uint64(0), 0); len(es) != 0 {
		t.Errorf("Journal(max) = %v", seqsOf(es))
	}
}

func TestJournalDefaultLimit(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	batch := make([]Entry, DefaultJournalLimit+5)
	for i := range batch {
		batch[i] = entry(i)
	}
	if _, err := db.Append(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	es, err := db.Journal(ctx, 0, -1)
	if err != nil || len(es) != DefaultJournalLimit {
		t.Errorf("Journal(limit -1) returned %d entries, %v", len(es), err)
	}
}

func TestPruning(t *testing.T) {
	ctx := context.Background()
	path := storePath(t)
	db, err := Open(path, Options{Create: true, MaxJournal: 10})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 7; i++ {
		if _, err := db.Append(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Append(ctx, entry(8), entry(9), entry(10), entry(11), entry(12)); err != nil {
		t.Fatal(err)
	}
	es, _ := db.Journal(ctx, 0, 0)
	if !reflect.DeepEqual(seqsOf(es), seqRange(3, 12)) {
		t.Errorf("after 12 appends with MaxJournal 10: %v", seqsOf(es))
	}
	// A batch larger than MaxJournal keeps its newest entries.
	batch := make([]Entry, 15)
	for i := range batch {
		batch[i] = entry(13 + i)
	}
	seqs, err := db.Append(ctx, batch...)
	if err != nil || !reflect.DeepEqual(seqs, seqRange(13, 27)) {
		t.Fatalf("big batch = %v, %v", seqs, err)
	}
	es, _ = db.Journal(ctx, 0, 0)
	if !reflect.DeepEqual(seqsOf(es), seqRange(18, 27)) {
		t.Errorf("after a batch of 15: %v", seqsOf(es))
	}
	if es[0].Message != "entry 18" {
		t.Errorf("oldest kept entry = %+v", es[0])
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Sequence numbers are never reused, and a smaller limit applies on the
	// next Append.
	db, err = Open(path, Options{MaxJournal: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	if last, _ := db.LastSeq(ctx); last != 27 {
		t.Errorf("LastSeq after reopen = %d", last)
	}
	if seqs, _ := db.Append(ctx, entry(28)); !reflect.DeepEqual(seqs, []uint64{28}) {
		t.Errorf("seq after reopen = %v", seqs)
	}
	es, _ = db.Journal(ctx, 0, 0)
	if !reflect.DeepEqual(seqsOf(es), seqRange(26, 28)) {
		t.Errorf("after reopen with MaxJournal 3: %v", seqsOf(es))
	}
}
