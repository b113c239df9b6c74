package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// storePath returns a fresh path in a temporary directory.
func storePath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "state.db")
}

// openNew creates a store in a temporary directory.
func openNew(t testing.TB, opts Options) *DB {
	t.Helper()
	opts.Create = true
	db, err := Open(storePath(t), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func vm(i int) VMRecord {
	return VMRecord{
		UUID:        fmt.Sprintf("00000000-0000-4000-8000-%012d", i),
		Name:        fmt.Sprintf("vm-%03d", i),
		Definition:  fmt.Sprintf("<domain type='kvm'><name>vm-%03d</name><memory unit='MiB'>%d</memory></domain>", i, 512*i),
		HomeHost:    fmt.Sprintf("host-%d", i%3),
		CurrentHost: fmt.Sprintf("host-%d", (i+1)%3),
		State:       "running",
		Protected:   i%2 == 0,
		Priority:    i,
		MemoryMiB:   512 * i,
		VCPUs:       i%4 + 1,
		UpdatedAt:   t0.Add(time.Duration(i) * time.Second),
	}
}

func entry(i int) Entry {
	return Entry{
		At:      t0.Add(time.Duration(i) * time.Millisecond),
		Kind:    "observation",
		Host:    "host-1",
		Reason:  "heartbeat",
		Message: fmt.Sprintf("entry %d", i),
		Data:    []byte(fmt.Sprintf(`{"i":%d}`, i)),
	}
}

// populate stores n VMs, 3 hosts and n journal entries.
func populate(t testing.TB, db *DB, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 1; i <= n; i++ {
		if err := db.PutVM(ctx, vm(i)); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Append(ctx, entry(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		h := HostRecord{Name: fmt.Sprintf("host-%d", i), Role: "compute", State: "up", Reason: "ok",
			Message: "host answers", Since: t0, UpdatedAt: t0.Add(time.Minute)}
		if err := db.PutHost(ctx, h); err != nil {
			t.Fatal(err)
		}
	}
}

// validStore returns the bytes of a closed store holding n VMs and entries.
func validStore(t testing.TB, n int) []byte {
	t.Helper()
	path := storePath(t)
	db, err := Open(path, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	populate(t, db, n)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeFile writes b as a store file and returns its path.
func writeFile(t testing.TB, b []byte) string {
	t.Helper()
	path := storePath(t)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// boltEdit applies fn to the store at path with bbolt directly, bypassing
// the store's checks, to make files the store would never write.
func boltEdit(t testing.TB, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Update(fn); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}

// wantOpenError opens path, expects an error matching want that names the
// path, and checks the file was not modified.
func wantOpenError(t *testing.T, path string, want error) error {
	t.Helper()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{})
	if err == nil {
		_ = db.Close()
		t.Fatalf("Open succeeded, want %v", want)
	}
	if !errors.Is(err, want) {
		t.Fatalf("Open error %q does not wrap %q", err, want)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("Open error %q does not name the path %s", err, path)
	}
	after, err2 := os.ReadFile(path)
	if err2 != nil {
		t.Fatal(err2)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("Open modified the file it refused (%d bytes before, %d after)", len(before), len(after))
	}
	return err
}
