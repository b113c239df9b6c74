package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// freezerRoot is the cgroup v1 freezer hierarchy.
const freezerRoot = "/sys/fs/cgroup/freezer"

// ErrNoFreezer means the machine has no cgroup v1 freezer, so a hung host cannot be emulated.
var ErrNoFreezer = errors.New("cgroup v1 freezer not mounted at " + freezerRoot)

// freeze puts every process of the host into its own freezer cgroup and freezes it: the host
// hangs, its processes in state D, its sockets open but silent.
func freeze(h *hostState) error {
	if _, err := os.Stat(filepath.Join(freezerRoot, "cgroup.procs")); err != nil {
		return fmt.Errorf("testenv: %w", ErrNoFreezer)
	}
	dir := filepath.Join(freezerRoot, h.Freezer)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("testenv: freeze %s: %w", h.Name, err)
	}
	ino, err := netnsInode(h.NetNS)
	if err != nil {
		return err
	}
	for _, p := range processesIn(ino) {
		if err := os.WriteFile(filepath.Join(dir, "cgroup.procs"), []byte(strconv.Itoa(p.PID)), 0o644); err != nil && alive(p.PID) {
			return fmt.Errorf("testenv: freeze %s: move pid %d: %w", h.Name, p.PID, err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("FROZEN"), 0o644); err != nil {
		return fmt.Errorf("testenv: freeze %s: %w", h.Name, err)
	}
	return waitFreezer(dir, "FROZEN")
}

// thaw thaws the host's freezer cgroup, moves its processes back and removes the cgroup.
func thaw(h *hostState) error {
	dir := filepath.Join(freezerRoot, h.Freezer)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err := os.WriteFile(filepath.Join(dir, "freezer.state"), []byte("THAWED"), 0o644); err != nil {
		return fmt.Errorf("testenv: thaw %s: %w", h.Name, err)
	}
	if err := waitFreezer(dir, "THAWED"); err != nil {
		return err
	}
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, pid := range strings.Fields(string(b)) {
		_ = os.WriteFile(filepath.Join(freezerRoot, "cgroup.procs"), []byte(pid), 0o644)
	}
	for i := 0; i < 100; i++ {
		if err := os.Remove(dir); err == nil || errors.Is(err, os.ErrNotExist) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("testenv: thaw %s: cgroup %s still busy", h.Name, dir)
}

func waitFreezer(dir, want string) error {
	for i := 0; i < 250; i++ {
		b, err := os.ReadFile(filepath.Join(dir, "freezer.state"))
		if err != nil {
			return fmt.Errorf("testenv: freezer %s: %w", dir, err)
		}
		if strings.TrimSpace(string(b)) == want {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("testenv: freezer %s did not reach %s", dir, want)
}
