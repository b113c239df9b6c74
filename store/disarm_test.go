package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestDisarmSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "s.db")
	db, err := Open(path, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := db.GetDisarm(ctx); err != nil || d.Disarmed {
		t.Fatalf("a new store: %+v %v, want armed", d, err)
	}
	want := Disarm{Disarmed: true, Reason: "switch upgrade", By: "alice (from 10.0.0.5)", Since: time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC)}
	if err := db.PutDisarm(ctx, want); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.GetDisarm(ctx)
	if err != nil || got.Disarmed != want.Disarmed || got.Reason != want.Reason || got.By != want.By || !got.Since.Equal(want.Since) {
		t.Fatalf("after reopening: %+v %v, want %+v", got, err, want)
	}
}
