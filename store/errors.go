package store

import "errors"

// Sentinel errors. Every error returned by this package that matches one of
// them wraps it with %w together with the details (path, record, field), so
// callers test with errors.Is and print the error as is.
var (
	// ErrNotFound reports a missing store file (Open without Create) or a
	// missing record (GetVM, GetHost, DeleteVM).
	ErrNotFound = errors.New("not found")

	// ErrLocked reports that another process (or another Open in this
	// process) holds the store file's lock for longer than Options.LockTimeout.
	ErrLocked = errors.New("locked by another process")

	// ErrCorrupt reports a store file, or a record in it, that cannot be read:
	// not a bbolt file, truncated, damaged pages, missing buckets, undecodable
	// records. The file is never modified or recreated when this is returned.
	ErrCorrupt = errors.New("corrupt")

	// ErrVersion reports a store file whose schema version (or bbolt file
	// format version) this build does not understand, typically because it
	// was written by a newer lifeboat.
	ErrVersion = errors.New("unsupported version")

	// ErrClosed reports a call on a DB after Close, including a Wait that was
	// blocked when Close was called.
	ErrClosed = errors.New("store closed")

	// ErrInvalid reports a record or journal entry that fails validation; the
	// message names the offending field.
	ErrInvalid = errors.New("invalid record")
)

// fieldError is a validation failure of one field of a record. It matches
// ErrInvalid and reads "store: <what>: <field> <problem>", for example
// "store: vm record: uuid is required".
type fieldError struct {
	what    string // "vm record", "host record", "journal entry 3"
	field   string // JSON name of the field
	problem string // "is required", "is too long (…)"
}

func (e *fieldError) Error() string {
	return "store: " + e.what + ": " + e.field + " " + e.problem
}

// Is makes errors.Is(err, ErrInvalid) true for validation failures.
func (e *fieldError) Is(target error) bool { return target == ErrInvalid }

// ErrNotLeader reports a write refused because this daemon does not hold the leadership it
// was given (its term ended: another daemon leads, or its session expired). The action the
// write would have recorded must not run.
var ErrNotLeader = errors.New("not the leader")
