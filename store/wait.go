package store

import (
	"context"
	"fmt"
)

// Wait blocks until the journal holds an entry with Seq > after, ctx ends
// (an error wrapping ctx.Err()) or the DB is closed (ErrClosed). It returns
// at once if such an entry exists. It is woken by Append in this process; it
// does not poll the file (no other process can write it while it is open).
func (db *DB) Wait(ctx context.Context, after uint64) error {
	for {
		// Take the channel before reading, so an Append that commits after
		// the read closes a channel we already hold.
		db.mu.Lock()
		ch := db.notify
		db.mu.Unlock()

		last, err := db.LastSeq(ctx)
		if err != nil {
			return err
		}
		if last > after {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("store: wait: %w", ctx.Err())
		case <-db.done:
			return fmt.Errorf("store: wait: %w", ErrClosed)
		}
	}
}

// broadcast wakes every Wait: it closes the current channel and installs a
// new one.
func (db *DB) broadcast() {
	db.mu.Lock()
	close(db.notify)
	db.notify = make(chan struct{})
	db.mu.Unlock()
}
