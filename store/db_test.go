package store

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/fnv"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

func TestOpenMissingFile(t *testing.T) {
	path := storePath(t)
	_, err := Open(path, Options{})
	if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Open missing file: %v, want ErrNotFound naming %s", err, path)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open without Create made the file: %v", err)
	}
}

func TestOpenMissingDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "no", "such")
	path := filepath.Join(dir, "state.db")
	for _, create := range []bool{false, true} {
		_, err := Open(path, Options{Create: create})
		if err == nil || !strings.Contains(err.Error(), "directory "+dir) {
			t.Errorf("Create=%v: %v, want an error naming directory %s", create, err, dir)
		}
		if create && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Create=true: %v does not wrap fs.ErrNotExist", err)
		}
		if !create && !errors.Is(err, ErrNotFound) {
			t.Errorf("Create=false: %v does not wrap ErrNotFound", err)
		}
	}
}

func TestOpenNotAFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(dir, Options{Create: true}); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
	if _, err := Open("", Options{Create: true}); err == nil {
		t.Fatal("Open of an empty path succeeded")
	}
}

func TestCreateLeavesOnlyTheStore(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Open(filepath.Join(dir, "state.db", "x.db"), Options{Create: true})
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("Open through a file as directory: %v", err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	db, err := Open(filepath.Join(dir, ".", "state.db"), Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	if db.Path() != path {
		t.Errorf("Path() = %q, want %q", db.Path(), path)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "state.db" {
		t.Errorf("directory holds %v, want only state.db", ents)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("store mode %v, want 0600", fi.Mode().Perm())
	}
	// The new store has its schema.
	b, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = b.Close() }()
	err = b.View(func(tx *bbolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if got := string(m.Get(keySchemaVersion)); got != "1" {
			t.Errorf("schema_version = %q, want 1", got)
		}
		if _, err := time.Parse(time.RFC3339Nano, string(m.Get(keyCreatedAt))); err != nil {
			t.Errorf("created_at: %v", err)
		}
		for _, name := range [][]byte{bucketVMs, bucketHosts, bucketJournal} {
			if tx.Bucket(name) == nil {
				t.Errorf("bucket %s missing", name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestReopenKeepsEverything(t *testing.T) {
	ctx := context.Background()
	path := storePath(t)
	db, err := Open(path, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	populate(t, db, 20)
	vms, err := db.ListVMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hosts, err := db.ListHosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	journal, err := db.Journal(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = Open(path, Options{}) // no Create: it must exist
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	vms2, err := db.ListVMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(vms, vms2) || len(vms2) != 20 {
		t.Errorf("VMs after reopen differ:\n%+v\n%+v", vms, vms2)
	}
	for _, r := range vms2 {
		want := vm(mustAtoi(t, strings.TrimPrefix(r.Name, "vm-")))
		if r.HomeHost != want.HomeHost || r.Definition != want.Definition || !r.UpdatedAt.Equal(want.UpdatedAt) {
			t.Errorf("VM %s after reopen: %+v, want %+v", r.UUID, r, want)
		}
	}
	hosts2, err := db.ListHosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(hosts, hosts2) || len(hosts2) != 3 {
		t.Errorf("hosts after reopen differ:\n%+v\n%+v", hosts, hosts2)
	}
	journal2, err := db.Journal(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(journal, journal2) || len(journal2) != 20 {
		t.Errorf("journal after reopen differs")
	}
	seqs, err := db.Append(ctx, entry(21), entry(22))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(seqs, []uint64{21, 22}) {
		t.Errorf("seqs after reopen = %v, want [21 22]", seqs)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("not a number: %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

func TestLocked(t *testing.T) {
	path := storePath(t)
	db, err := Open(path, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), path) {
		t.Fatalf("second Open: %v, want ErrLocked naming %s", err, path)
	}
	if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
		t.Errorf("second Open gave up after %v, want about 100ms", d)
	}
	// A second Create must not replace the locked store either.
	if _, err := Open(path, Options{Create: true, LockTimeout: 100 * time.Millisecond}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open with Create: %v, want ErrLocked", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(path, Options{LockTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	_ = db.Close()
}

func TestCorruptGarbage(t *testing.T) {
	garbage := make([]byte, 64<<10)
	for i := range garbage {
		garbage[i] = byte(i*7919 + i>>8)
	}
	err := wantOpenError(t, writeFile(t, garbage), ErrCorrupt)
	t.Log(err)
}

func TestCorruptTruncated(t *testing.T) {
	valid := validStore(t, 300)
	path := writeFile(t, valid[:len(valid)/2])
	// The data must reach past the half for this test to mean anything.
	err := wantOpenError(t, path, ErrCorrupt)
	if !strings.Contains(err.Error(), "truncated") {
		t.Errorf("error %q does not say the file is truncated", err)
	}
	t.Log(err)
}

func TestCorruptOther(t *testing.T) {
	valid := validStore(t, 5)
	tests := map[string]func(t *testing.T) string{
		"empty": func(t *testing.T) string { return writeFile(t, nil) },
		"text":  func(t *testing.T) string { return writeFile(t, []byte("hosts:\n  - name: kvm1\n")) },
		"short": func(t *testing.T) string { return writeFile(t, valid[:100]) },
		"both meta pages damaged": func(t *testing.T) string {
			b := append([]byte(nil), valid...)
			b[70] ^= 0xff
			b[4096+70] ^= 0xff
			return writeFile(t, b)
		},
		"no meta bucket": func(t *testing.T) string {
			path := storePath(t)
			boltEdit(t, path, func(tx *bbolt.Tx) error {
				_, err := tx.CreateBucket([]byte("something-else"))
				return err
			})
			return path
		},
		"empty bbolt file": func(t *testing.T) string {
			path := storePath(t)
			boltEdit(t, path, func(tx *bbolt.Tx) error { return nil })
			return path
		},
		"missing vms bucket": func(t *testing.T) string {
			path := writeFile(t, valid)
			boltEdit(t, path, func(tx *bbolt.Tx) error { return tx.DeleteBucket(bucketVMs) })
			return path
		},
		"bad vm json": func(t *testing.T) string {
			path := writeFile(t, valid)
			boltEdit(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketVMs).Put([]byte("x"), []byte("{not json")) })
			return path
		},
		"vm under wrong key": func(t *testing.T) string {
			path := writeFile(t, valid)
			boltEdit(t, path, func(tx *bbolt.Tx) error {
				return tx.Bucket(bucketVMs).Put([]byte("x"), []byte(`{"uuid":"y","name":"n"}`))
			})
			return path
		},
		"bad journal key": func(t *testing.T) string {
			path := writeFile(t, valid)
			boltEdit(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketJournal).Put([]byte("abc"), []byte("{}")) })
			return path
		},
		"journal beyond sequence": func(t *testing.T) string {
			path := writeFile(t, valid)
			boltEdit(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketJournal).Put(seqKey(999), []byte("{}")) })
			return path
		},
		"schema_version not a number": func(t *testing.T) string {
			path := writeFile(t, valid)
			boltEdit(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("one")) })
			return path
		},
	}
	for name, mk := range tests {
		t.Run(name, func(t *testing.T) {
			err := wantOpenError(t, mk(t), ErrCorrupt)
			t.Log(err)
		})
	}
}

// TestDamagedPages overwrites each page of a valid store in turn with
// garbage, keeping the meta pages: Open must refuse or accept, never panic,
// and reads of an accepted store must not panic either.
func TestDamagedPages(t *testing.T) {
	valid := validStore(t, 40)
	const pageSize = 4096
	for page := 2; page*pageSize < len(valid); page++ {
		for _, at := range []int{0, 8, 16, 20, 100, 1000} {
			b := append([]byte(nil), valid...)
			for i := 0; i < 8; i++ {
				b[page*pageSize+at+i] ^= byte(0xa5 + i*13)
			}
			path := writeFile(t, b)
			db, err := Open(path, Options{})
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("page %d+%d: %v, want ErrCorrupt", page, at, err)
				}
				continue
			}
			ctx := context.Background()
			for _, read := range []func() error{
				func() error { _, err := db.ListVMs(ctx); return err },
				func() error { _, err := db.ListHosts(ctx); return err },
				func() error { _, err := db.Journal(ctx, 0, 1<<20); return err },
			} {
				if err := read(); err != nil && !errors.Is(err, ErrCorrupt) {
					t.Errorf("page %d+%d: read: %v, want nil or ErrCorrupt", page, at, err)
				}
			}
			_ = db.Close()
		}
	}
}

// setMeta rewrites the fields of both bbolt meta pages with fn and fixes
// their checksums.
func setMeta(b []byte, fn func(m []byte)) {
	for _, off := range []int{0, 4096} {
		m := b[off+pageHeaderSize : off+pageHeaderSize+metaSize]
		fn(m)
		h := fnv.New64a()
		_, _ = h.Write(m[:56])
		binary.NativeEndian.PutUint64(m[56:], h.Sum64())
	}
}

func TestVersionMismatch(t *testing.T) {
	valid := validStore(t, 3)
	t.Run("newer schema", func(t *testing.T) {
		path := writeFile(t, valid)
		boltEdit(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("2")) })
		err := wantOpenError(t, path, ErrVersion)
		if !strings.Contains(err.Error(), "schema version 2") {
			t.Errorf("error %q does not give the version", err)
		}
		t.Log(err)
	})
	t.Run("schema 0", func(t *testing.T) {
		path := writeFile(t, valid)
		boltEdit(t, path, func(tx *bbolt.Tx) error { return tx.Bucket(bucketMeta).Put(keySchemaVersion, []byte("0")) })
		wantOpenError(t, path, ErrVersion)
	})
	t.Run("bbolt format", func(t *testing.T) {
		b := append([]byte(nil), valid...)
		setMeta(b, func(m []byte) { binary.NativeEndian.PutUint32(m[4:], 3) })
		err := wantOpenError(t, writeFile(t, b), ErrVersion)
		t.Log(err)
	})
}

func TestMetaFallback(t *testing.T) {
	// bbolt keeps two meta pages; damage to one of them is survivable.
	valid := validStore(t, 3)
	for _, off := range []int{0, 4096} {
		b := append([]byte(nil), valid...)
		b[off+70] ^= 0xff
		db, err := Open(writeFile(t, b), Options{})
		if err != nil {
			t.Fatalf("meta page at %d damaged: %v", off, err)
		}
		vms, err := db.ListVMs(context.Background())
		if err != nil || len(vms) == 0 {
			t.Errorf("meta page at %d damaged: ListVMs = %d, %v", off, len(vms), err)
		}
		_ = db.Close()
	}
}

func TestClosed(t *testing.T) {
	db := openNew(t, Options{})
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	ctx := context.Background()
	if err := db.PutVM(ctx, vm(1)); !errors.Is(err, ErrClosed) {
		t.Errorf("PutVM after Close: %v", err)
	}
	if _, err := db.Journal(ctx, 0, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Journal after Close: %v", err)
	}
	if err := db.Wait(ctx, 0); !errors.Is(err, ErrClosed) {
		t.Errorf("Wait after Close: %v", err)
	}
}

func TestContextHonoured(t *testing.T) {
	db := openNew(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := db.PutVM(ctx, vm(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("PutVM: %v", err)
	}
	if _, err := db.Append(ctx, entry(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append: %v", err)
	}
	if _, err := db.ListVMs(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("ListVMs: %v", err)
	}
	if _, err := db.GetVM(context.Background(), vm(1).UUID); !errors.Is(err, ErrNotFound) {
		t.Errorf("PutVM with a cancelled context stored the record: %v", err)
	}
}
