package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// LockFile is the controller lock's name in the lease directory.
const LockFile = "lifeboat-controller.lock"

// lockRetry is how often a single daemon that does not hold the lock tries again.
const lockRetry = time.Second

// holder is what the lock's owner writes into the lock file, so that others can say who.
type holder struct {
	Name  string    `json:"name"`
	URL   string    `json:"url,omitempty"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// Single is the controller of the embedded store: one daemon, no election. With a lease
// directory it holds an exclusive lock (flock) on LockFile there, and acts only while it does;
// a second single daemon pointed at the same cluster waits for the lock and says who holds it.
// Without a lease directory it always acts.
type Single struct {
	dir  string
	opts Options

	n      notifier
	mu     sync.Mutex
	st     Status
	file   *os.File
	acting bool
}

// NewSingle returns the controller of a single daemon; leaseDir may be "".
func NewSingle(leaseDir string, opts Options) *Single {
	opts.defaults()
	s := &Single{dir: leaseDir, opts: opts}
	s.st = Status{Name: opts.Name, Role: RoleSingle, Peers: []Peer{{Name: opts.Name, URL: opts.URL}}}
	if leaseDir == "" {
		s.acting = true
		s.st.Acting, s.st.Leader, s.st.LeaderURL = true, opts.Name, opts.URL
		s.st.Why = "embedded store and no lease_dir: no controller lock; make sure no other lifeboat daemon watches this cluster"
	}
	return s
}

// Run takes the lock (trying again every second while another daemon holds it), adopts, and
// holds the lock until ctx ends.
func (s *Single) Run(ctx context.Context) error {
	if s.dir == "" {
		if err := s.opts.Adopt(ctx); err != nil {
			return fmt.Errorf("controller: adopt: %w", err)
		}
		s.notify()
		<-ctx.Done()
		return nil
	}
	path := filepath.Join(s.dir, LockFile)
	defer s.release()
	t := time.NewTicker(lockRetry)
	defer t.Stop()
	for {
		if !s.holding() {
			s.try(ctx, path)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// try takes the lock if it is free.
func (s *Single) try(ctx context.Context, path string) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		s.set(false, "", "", fmt.Sprintf("cannot open the controller lock %s: %v; not acting", path, err))
		return
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		h := readHolder(path)
		why := fmt.Sprintf("another lifeboat daemon holds the controller lock %s", path)
		if h.Name != "" {
			why = fmt.Sprintf("another lifeboat daemon (%s, pid %d, since %s) holds the controller lock %s", h.Name, h.PID, h.Since.Format(time.RFC3339), path)
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			why = fmt.Sprintf("cannot lock %s: %v", path, err)
		}
		s.set(false, h.Name, h.URL, why+"; not acting (a second single daemon on one cluster would act twice)")
		return
	}
	b, _ := json.Marshal(holder{Name: s.opts.Name, URL: s.opts.URL, PID: os.Getpid(), Since: time.Now().UTC()})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
		_ = f.Sync()
	}
	if err := s.opts.Adopt(ctx); err != nil {
		_ = f.Close()
		s.set(false, "", "", fmt.Sprintf("could not load the store after taking the lock: %v", err))
		return
	}
	s.mu.Lock()
	s.file = f
	s.mu.Unlock()
	s.set(true, s.opts.Name, s.opts.URL, "holds the controller lock "+path)
	s.opts.Logger.Info("controller: holding the controller lock; acting", "lock", path)
}

func readHolder(path string) holder {
	var h holder
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &h)
	}
	return h
}

func (s *Single) holding() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.file != nil
}

func (s *Single) set(acting bool, leader, url, why string) {
	s.mu.Lock()
	changed := s.acting != acting || s.st.Leader != leader || s.st.Why != why
	s.acting = acting
	s.st.Acting, s.st.Leader, s.st.LeaderURL, s.st.Why = acting, leader, url, why
	s.mu.Unlock()
	if changed {
		if !acting {
			s.opts.Logger.Warn("controller: not acting", "why", why)
		}
		s.notify()
	}
}

// release stops acting, then unlocks (closing the file releases the flock).
func (s *Single) release() {
	s.mu.Lock()
	f := s.file
	s.file = nil
	s.acting = false
	s.st.Acting = false
	s.mu.Unlock()
	if f != nil {
		_ = f.Close()
	}
}

// Acting tells whether this daemon holds the lock (or has no lease directory).
func (s *Single) Acting() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.acting
}

// Status reports the lock's state.
func (s *Single) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.Peers = append([]Peer(nil), s.st.Peers...)
	return st
}

// notify reports the current status to Options.Changed.
func (s *Single) notify() { s.n.notify(s.opts, s.Status) }
