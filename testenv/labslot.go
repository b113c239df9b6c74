package testenv

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// Lab slots bound how many labs run on this machine at once, across every test process: lab tests
// run in parallel (t.Parallel) and lab packages side by side (go test -p), yet at most LabSlots()
// labs boot guests, migrate and wait out detection windows at the same time. A slot is an flock on
// one of a few files in /run, so a process that dies frees its slot with it.
const (
	// slotEnv overrides how many labs may run at once (default defaultSlots; 1 runs them one by one).
	slotEnv      = "LIFEBOAT_LAB_SLOTS"
	defaultSlots = 2
	slotFile     = "/run/lifeboat-lab-slot-%d.lock"
	// slotPoll is how often a test waiting for a slot tries them again.
	slotPoll = 200 * time.Millisecond
)

// LabSlots is how many labs may run on this machine at once: LIFEBOAT_LAB_SLOTS, or 2.
func LabSlots() (int, error) {
	v := os.Getenv(slotEnv)
	if v == "" {
		return defaultSlots, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > 16 {
		return 0, fmt.Errorf("testenv: %s=%q: want a whole number of labs from 1 to 16", slotEnv, v)
	}
	return n, nil
}

// Parallel marks a lab test as one that may run beside other lab tests: it skips (or, in CI,
// fails) as RequireLab does, then calls t.Parallel. StartForTest still waits for a free lab slot,
// so at most LabSlots() labs run at once. Call it first in the test, and only in tests that
// change nothing process-wide (no t.Setenv, os.Chdir, slog.SetDefault or package variables).
func Parallel(t *testing.T) {
	t.Helper()
	RequireLab(t)
	t.Parallel()
}

// HoldLabSlot waits for a free lab slot and holds it until the test ends (its cleanup frees it,
// after every cleanup registered later, such as the lab's own). StartForTest calls it; a test that
// starts a lab another way (Start, or `lifeboat lab up`) calls it before.
func HoldLabSlot(t testing.TB) {
	t.Helper()
	n, err := LabSlots()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for {
		for i := 0; i < n; i++ {
			f, err := tryLockSlot(fmt.Sprintf(slotFile, i))
			if err != nil {
				t.Fatal(err)
			}
			if f != nil {
				if waited := time.Since(start); waited > time.Second {
					t.Logf("waited %s for lab slot %d of %d", waited.Round(time.Millisecond), i+1, n)
				}
				t.Cleanup(func() { f.Close() })
				return
			}
		}
		time.Sleep(slotPoll)
	}
}

// tryLockSlot takes the slot file's lock without waiting: the open file holding it, or nil when
// another lab holds it.
func tryLockSlot(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testenv: lab slot: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("testenv: lab slot %s: %w", path, err)
	}
	return f, nil
}
