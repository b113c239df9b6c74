// Package store is lifeboat's durable state: the protected VMs (with their
// definitions and home hosts), the last verdict on each host, and an
// append-only journal of observations, verdicts, decisions and actions. It
// is one bbolt file, locked by the one daemon that uses it.
//
// The store never loses or rewrites what it cannot read. Open checks the
// whole file first, with plain reads, and a damaged file is refused with an
// error that wraps ErrCorrupt and names the path; the file is left exactly
// as it was. A new store is built aside and moved into place in one step, so
// a crash while creating never leaves a half-made file at the path.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/lifeboat-ha/lifeboat/config"
)

// lockRetry is how often bbolt retries a held lock.
const lockRetry = 50 * time.Millisecond

// Defaults for Options.
const (
	DefaultLockTimeout     = time.Second
	DefaultMaxJournal      = config.DefaultJournalMaxEntries
	DefaultMaxJournalBytes = 256 << 20
)

// Options tune Open.
type Options struct {
	// Create makes a new, empty store if the file is missing; without it a
	// missing file is ErrNotFound.
	Create bool
	// LockTimeout is how long Open waits for the file lock held by another
	// process (or another Open in this process) before failing with
	// ErrLocked. Zero or less means DefaultLockTimeout.
	LockTimeout time.Duration
	// MaxJournal is the most journal entries kept; Append prunes the oldest
	// beyond it. Zero or less means DefaultMaxJournal.
	MaxJournal int
	// MaxJournalBytes bounds the journal's encoded size too; Append prunes
	// the oldest entries beyond it. Zero or less means DefaultMaxJournalBytes.
	MaxJournalBytes int64
}

func (o Options) withDefaults() Options {
	if o.LockTimeout <= 0 {
		o.LockTimeout = DefaultLockTimeout
	}
	if o.MaxJournal <= 0 {
		o.MaxJournal = DefaultMaxJournal
	}
	if o.MaxJournalBytes <= 0 {
		o.MaxJournalBytes = DefaultMaxJournalBytes
	}
	return o
}

// DB is an open store. It is safe for concurrent use by goroutines of one
// process; other processes are kept out by the file lock.
type DB struct {
	bolt         *bbolt.DB
	path         string
	maxJournal   int
	maxJournalSz int64

	mu     sync.Mutex
	notify chan struct{} // closed and replaced on each Append; see Wait
	done   chan struct{} // closed by Close

	closeOnce sync.Once
	closeErr  error
}

// Open opens the store at path, taking its lock, after checking the whole
// file. Errors wrap ErrNotFound (missing file without Options.Create),
// ErrLocked, ErrCorrupt or ErrVersion, and name the path; a missing parent
// directory is reported by name.
func Open(path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("store: open: no path given")
	}
	opts = opts.withDefaults()
	path = filepath.Clean(path)
	dir := filepath.Dir(path)

	switch fi, err := os.Stat(dir); {
	case errors.Is(err, fs.ErrNotExist) && !opts.Create:
		return nil, fmt.Errorf("store: open %s: %w: directory %s does not exist", path, ErrNotFound, dir)
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("store: create %s: directory %s does not exist (create it first): %w", path, dir, err)
	case err != nil:
		return nil, fmt.Errorf("store: open %s: directory %s: %w", path, dir, err)
	case !fi.IsDir():
		return nil, fmt.Errorf("store: open %s: %s is not a directory", path, dir)
	}

	switch fi, err := os.Stat(path); {
	case errors.Is(err, fs.ErrNotExist) && !opts.Create:
		return nil, fmt.Errorf("store: open %s: %w (no such file; Create makes a new store)", path, ErrNotFound)
	case errors.Is(err, fs.ErrNotExist):
		if err := create(path, opts); err != nil {
			return nil, err
		}
	case err != nil:
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	case !fi.Mode().IsRegular():
		return nil, fmt.Errorf("store: open %s: not a regular file (%s)", path, fi.Mode().Type())
	case fi.Size() == 0:
		return nil, corrupt(path, errors.New("the file is empty (0 bytes); lifeboat never leaves an empty store, so something else made or truncated it"))
	}

	if err := validate(path, opts); err != nil {
		return nil, err
	}
	b, err := openBolt(path, opts, false)
	if err != nil {
		return nil, openError(path, err)
	}
	return &DB{
		bolt:         b,
		path:         path,
		maxJournal:   opts.MaxJournal,
		maxJournalSz: opts.MaxJournalBytes,
		notify:       make(chan struct{}),
		done:         make(chan struct{}),
	}, nil
}

// validate checks the file at path while holding a shared lock on it: the
// page structure first (plain reads), then, through bbolt, the buckets and
// records. Nothing is written.
func validate(path string, opts Options) error {
	ro, err := openBolt(path, opts, true)
	if err != nil {
		if errors.Is(err, berrors.ErrTimeout) {
			return openError(path, err)
		}
		// bbolt refused the file (bad meta pages, too small, ...): explain
		// why in our own words if the check finds it.
		if cerr := checkFile(path); cerr != nil {
			return checkError(path, cerr)
		}
		return openError(path, err)
	}
	defer func() { _ = ro.Close() }()

	if err := checkFile(path); err != nil {
		return checkError(path, err)
	}
	err = guard(func() error { return ro.View(checkSchema) })
	if err != nil {
		return checkError(path, err)
	}
	return nil
}

// openBolt opens the bbolt file. A panic inside bbolt (which should not
// happen on a file that checkFile accepted) is returned as an error wrapping
// ErrCorrupt, and the file descriptor bbolt had opened is closed so the lock
// is not leaked.
func openBolt(path string, opts Options, readOnly bool) (db *bbolt.DB, err error) {
	var file *os.File
	bopts := &bbolt.Options{
		// bbolt retries the lock every 50ms and gives up once less than
		// 50ms of its timeout remains; add that back so Open waits at
		// least LockTimeout.
		Timeout:  opts.LockTimeout + lockRetry,
		ReadOnly: readOnly,
		OpenFile: func(name string, flag int, mode os.FileMode) (*os.File, error) {
			// Never create: the file exists (create made it if asked).
			f, err := os.OpenFile(name, flag&^os.O_CREATE, mode)
			file = f
			return f, err
		},
	}
	err = guard(func() error {
		var err error
		db, err = bbolt.Open(path, 0o600, bopts)
		if err == nil {
			db.MaxBatchDelay = maxBatchDelay
		}
		return err
	})
	if err != nil && db == nil && file != nil && errors.Is(err, ErrCorrupt) {
		_ = file.Close()
	}
	return db, err
}

// guard runs fn, turning a panic (including a memory fault on bbolt's
// mapping) into an error wrapping ErrCorrupt.
func guard(fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: bbolt failed reading the file: %v", ErrCorrupt, r)
		}
	}()
	return fn()
}

// create makes a new store at path: it builds it in a temporary file in the
// same directory, then links it into place, so the path holds either nothing
// or a complete store. If another process created the path meanwhile, its
// store is kept and opened instead.
func create(path string, opts Options) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".new-*")
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer func() { _ = os.Remove(tmpName) }()

	b, err := bbolt.Open(tmpName, 0o600, &bbolt.Options{Timeout: opts.LockTimeout})
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}
	err = b.Update(func(tx *bbolt.Tx) error { return initSchema(tx, time.Now()) })
	if cerr := b.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: create %s: %w", path, err)
	}

	if err := os.Link(tmpName, path); err != nil {
		switch {
		case errors.Is(err, fs.ErrExist):
			return nil // created by someone else in the meantime: use theirs
		default:
			// Filesystems without hard links: rename, after checking again.
			if _, serr := os.Lstat(path); serr == nil {
				return nil
			}
			if rerr := os.Rename(tmpName, path); rerr != nil {
				return fmt.Errorf("store: create %s: %w", path, rerr)
			}
		}
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// openError turns an error from bbolt.Open into one of ours.
func openError(path string, err error) error {
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return fmt.Errorf("store: open %s: %w (another lifeboat daemon is probably running)", path, ErrLocked)
	case errors.Is(err, ErrCorrupt):
		return fmt.Errorf("store: open %s: %w", path, err)
	case errors.Is(err, berrors.ErrInvalid), errors.Is(err, berrors.ErrChecksum):
		return corrupt(path, err)
	case errors.Is(err, berrors.ErrVersionMismatch):
		return fmt.Errorf("store: open %s: %w: %v", path, ErrVersion, err)
	default:
		return fmt.Errorf("store: open %s: %w", path, err)
	}
}

// checkError turns a finding of checkFile or checkSchema into one of ours.
func checkError(path string, err error) error {
	var ioe ioError
	switch {
	case errors.Is(err, ErrVersion), errors.Is(err, ErrCorrupt):
		return fmt.Errorf("store: open %s: %w", path, err)
	case errors.As(err, &ioe):
		return fmt.Errorf("store: open %s: reading the file: %w", path, ioe.err)
	default:
		return corrupt(path, err)
	}
}

func corrupt(path string, err error) error {
	return fmt.Errorf("store: open %s: %w: %v (the file was left untouched; move it aside or restore a backup)", path, ErrCorrupt, err)
}

// Close releases the file and its lock. Blocked Waits return ErrClosed. It
// waits for running transactions and may be called more than once.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		close(db.done)
		if err := db.bolt.Close(); err != nil {
			db.closeErr = fmt.Errorf("store: close %s: %w", db.path, err)
		}
	})
	return db.closeErr
}

// Path returns the (cleaned) path the store was opened from.
func (db *DB) Path() string { return db.path }

func (db *DB) closed() bool {
	select {
	case <-db.done:
		return true
	default:
		return false
	}
}

// view runs fn in a read transaction. Errors returned by fn are passed
// through as they are; errors of the transaction itself are wrapped with what.
func (db *DB) view(ctx context.Context, what string, fn func(*bbolt.Tx) error) error {
	return db.tx(ctx, what, false, fn)
}

// maxBatchDelay is how long a write waits for others to share its transaction (update).
const maxBatchDelay = 2 * time.Millisecond

// update runs fn in a write transaction, committed (and synced) if fn
// returns nil.
//
// Writes are group-committed (bbolt's Batch): the writes that arrive together share one
// transaction and one fsync, so thousands of hosts' inventories at start, or a wave of restarts,
// are not paced by the disk's fsync, at the cost of waiting up to maxBatchDelay for
// companions. Batch may run fn more than once (again, alone, when another write of
// its batch failed: the batch's transaction is rolled back first), so fn must start from its
// inputs each time and not accumulate outside the transaction.
func (db *DB) update(ctx context.Context, what string, fn func(*bbolt.Tx) error) error {
	return db.tx(ctx, what, true, fn)
}

func (db *DB) tx(ctx context.Context, what string, write bool, fn func(*bbolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("store: %s: %w", what, err)
	}
	if db.closed() {
		return fmt.Errorf("store: %s: %w", what, ErrClosed)
	}
	var fnErr error
	run := func(tx *bbolt.Tx) error {
		fnErr = fn(tx)
		return fnErr
	}
	var err error
	if write {
		err = db.bolt.Batch(run)
	} else {
		err = db.bolt.View(run)
	}
	switch {
	case fnErr != nil:
		return fnErr
	case errors.Is(err, berrors.ErrDatabaseNotOpen):
		return fmt.Errorf("store: %s: %w", what, ErrClosed)
	case err != nil:
		return fmt.Errorf("store: %s: %w", what, err)
	}
	return nil
}
