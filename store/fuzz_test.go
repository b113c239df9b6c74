package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// FuzzOpen writes arbitrary bytes as the store file: Open must never panic,
// and either succeed or fail with ErrCorrupt or ErrVersion, leaving a refused
// file untouched. A store it accepts must be readable without panics.
func FuzzOpen(f *testing.F) {
	// Small seeds (1 KiB pages, no slack) keep fuzzing and minimizing fast.
	tiny := smallStore(f, 2)
	branchy := smallStore(f, 60) // the journal needs branch pages
	f.Add([]byte{})
	f.Add([]byte("not a database"))
	f.Add(tiny)
	f.Add(branchy)
	f.Add(branchy[:len(branchy)/2])
	// A bbolt file that is not a lifeboat store, and one from a newer one.
	for _, version := range []string{"", "7"} {
		path := storePath(f)
		bboltFile(f, path, func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucket([]byte("meta"))
			if err != nil || version == "" {
				return err
			}
			return b.Put(keySchemaVersion, []byte(version))
		})
		if b, err := os.ReadFile(path); err == nil {
			f.Add(b)
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		path := writeFile(t, data)
		db, err := Open(path, Options{LockTimeout: time.Second})
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrVersion) {
				t.Fatalf("Open: %v, want ErrCorrupt or ErrVersion", err)
			}
			after, rerr := os.ReadFile(path)
			if rerr != nil {
				t.Fatal(rerr)
			}
			if !bytes.Equal(after, data) {
				t.Fatal("Open modified a file it refused")
			}
			return
		}
		defer func() { _ = db.Close() }()
		ctx := context.Background()
		if _, err := db.ListVMs(ctx); err != nil {
			t.Fatalf("ListVMs of an accepted store: %v", err)
		}
		if _, err := db.ListHosts(ctx); err != nil {
			t.Fatalf("ListHosts of an accepted store: %v", err)
		}
		if _, err := db.Journal(ctx, 0, 1<<20); err != nil && !errors.Is(err, ErrCorrupt) {
			t.Fatalf("Journal of an accepted store: %v", err)
		}
		if _, err := db.LastSeq(ctx); err != nil {
			t.Fatalf("LastSeq: %v", err)
		}
	})
}

// bboltFile makes a bbolt file with 1 KiB pages and applies fn to it.
func bboltFile(t testing.TB, path string, fn func(tx *bbolt.Tx) error) {
	t.Helper()
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{PageSize: 1024, Timeout: time.Second})
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

// smallStore returns the bytes of a store with 1 KiB pages holding a VM, a
// host and n short journal entries, cut to the end of its data.
func smallStore(t testing.TB, n int) []byte {
	t.Helper()
	path := storePath(t)
	bboltFile(t, path, func(tx *bbolt.Tx) error { return initSchema(tx, t0) })
	db, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.PutVM(ctx, VMRecord{UUID: "u1", Name: "vm1", HomeHost: "h1", Definition: "<domain/>"}); err != nil {
		t.Fatal(err)
	}
	if err := db.PutHost(ctx, HostRecord{Name: "h1", State: "up"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i++ {
		if _, err := db.Append(ctx, Entry{At: t0, Kind: "k", Message: "m"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Compact away the pages earlier transactions freed.
	src, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = src.Close() }()
	dstPath := path + ".compact"
	dst, err := bbolt.Open(dstPath, 0o600, &bbolt.Options{PageSize: 1024, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := bbolt.Compact(dst, src, 0); err != nil {
		t.Fatal(err)
	}
	var size int64
	if err := dst.View(func(tx *bbolt.Tx) error { size = tx.Size(); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(dstPath)
	if err != nil {
		t.Fatal(err)
	}
	return b[:size]
}

func TestSmallStoreSeedsOpen(t *testing.T) {
	for _, n := range []int{2, 60} {
		b := smallStore(t, n)
		t.Logf("small store with %d entries: %d bytes", n, len(b))
		db, err := Open(writeFile(t, b), Options{})
		if err != nil {
			t.Fatal(err)
		}
		vms, err := db.ListVMs(context.Background())
		if err != nil || len(vms) != 1 {
			t.Errorf("ListVMs = %d, %v", len(vms), err)
		}
		if last, err := db.LastSeq(context.Background()); err != nil || last != uint64(n) {
			t.Errorf("LastSeq = %d, %v, want %d", last, err, n)
		}
		_ = db.Close()
	}
}

// TestBranchCycle points a branch page at itself, which would send bbolt
// into endless recursion: Open must refuse the file.
func TestBranchCycle(t *testing.T) {
	b := smallStore(t, 60)
	const pageSize = 1024
	found := false
	for id := 2; (id+1)*pageSize <= len(b); id++ {
		p := b[id*pageSize:]
		if binary.NativeEndian.Uint16(p[8:]) != branchPageFlag {
			continue
		}
		found = true
		c := append([]byte(nil), b...)
		binary.NativeEndian.PutUint64(c[id*pageSize+pageHeaderSize+8:], uint64(id))
		err := wantOpenError(t, writeFile(t, c), ErrCorrupt)
		if !strings.Contains(err.Error(), "referenced twice") {
			t.Errorf("error %q does not report the cycle", err)
		}
		t.Log(err)
	}
	if !found {
		t.Fatal("the seed store has no branch page")
	}
}
