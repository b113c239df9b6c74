package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestWaitReturnsAtOnce(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	if _, err := db.Append(ctx, entry(1)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := db.Wait(ctx, 0); err != nil {
		t.Fatalf("Wait(0) with entry 1 present: %v", err)
	}
}

func TestWaitWakesOnAppend(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	const waiters = 5
	done := make(chan error, waiters)
	for i := 0; i < waiters; i++ {
		go func() {
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			done <- db.Wait(ctx, 1)
		}()
	}
	// Entry 1 does not satisfy Wait(1): the waiters go back to sleep.
	if _, err := db.Append(ctx, entry(1)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		t.Fatalf("Wait(1) returned after entry 1: %v", err)
	case <-time.After(50 * time.Millisecond):
	}
	start := time.Now()
	if _, err := db.Append(ctx, entry(2)); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < waiters; i++ {
		if err := <-done; err != nil {
			t.Fatalf("Wait: %v", err)
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waiters woke %v after Append", d)
	}
}

func TestWaitHonoursContext(t *testing.T) {
	db := openNew(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := db.Wait(ctx, 0)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
}

func TestWaitEndsOnClose(t *testing.T) {
	db := openNew(t, Options{})
	done := make(chan error, 1)
	go func() { done <- db.Wait(context.Background(), 0) }()
	time.Sleep(20 * time.Millisecond)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Wait after Close = %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Wait did not return after Close")
	}
}
