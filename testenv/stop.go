package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Stop removes everything the lab made: its processes (by the namespaces they run in), freezer
// cgroups, network namespaces, links and bridges, loop devices and files. It keeps going past
// errors and returns them all. Calling it twice is harmless.
func (l *Lab) Stop() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return nil
	}
	l.done = true
	l.cancel()
	errs := l.stopEtcd()
	errs = append(errs, l.stopIPMIs()...)
	for _, srv := range l.bmcs {
		if err := srv.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errs = append(errs, teardown(ctx, l.st))
	return errors.Join(errs...)
}

// Cleanup removes the lab described in dir without a running Lab value: after a crash of the
// process that started it, or from `lifeboat lab down`. If a supervisor process still serves the
// lab, it is asked to exit first.
func Cleanup(ctx context.Context, dir string) error {
	st, err := loadState(dir)
	if err != nil {
		return err
	}
	var errs []error
	if pid := st.SupervisorPID; pid > 0 && pid != os.Getpid() && isSupervisor(pid, st.Dir) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(90 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if alive(pid) {
			errs = append(errs, fmt.Errorf("testenv: supervisor pid %d did not exit", pid))
		}
		if _, err := os.Stat(filepath.Join(st.Dir, stateFile)); errors.Is(err, os.ErrNotExist) {
			return errors.Join(errs...)
		}
	}
	errs = append(errs, teardown(ctx, st))
	return errors.Join(errs...)
}

// isSupervisor checks that pid is a `lifeboat lab run` process for this lab directory, so that
// only the lab's own process is ever signalled.
func isSupervisor(pid int, dir string) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	hasRun, hasDir := false, false
	for i, a := range args {
		if a == "run" && i > 0 && args[i-1] == "lab" {
			hasRun = true
		}
		if a == dir || a == "--dir="+dir {
			hasDir = true
		}
	}
	return hasRun && hasDir
}

// teardown removes what the state describes, in reverse order of creation.
func teardown(ctx context.Context, st *labState) error {
	errs := teardownEtcd(ctx, st)
	if err := teardownIPMIs(st); err != nil {
		errs = append(errs, err)
	}
	for i := range st.Hosts {
		h := &st.Hosts[i]
		if !netnsExists(h.NetNS) {
			continue
		}
		h.Frozen = true // thaw whatever is in the freezer before waiting for the kill
		if err := killHost(ctx, h); err != nil {
			errs = append(errs, err)
		}
	}
	for i := range st.Hosts {
		h := &st.Hosts[i]
		if err := thaw(h); err != nil {
			errs = append(errs, err)
		}
		if netnsExists(h.NetNS) {
			if err := ipCmd(ctx, "netns", "del", h.NetNS); err != nil {
				errs = append(errs, err)
			}
		}
		for _, link := range []string{h.MgmtVeth, h.GuestVeth} {
			if link != "" && linkExists(link) {
				if err := ipCmd(ctx, "link", "del", link); err != nil && linkExists(link) {
					errs = append(errs, err)
				}
			}
		}
	}
	for _, br := range []string{st.MgmtBridge, st.GuestBridge} {
		if br != "" && linkExists(br) {
			if err := ipCmd(ctx, "link", "del", br); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, g := range st.Guests {
		if _, err := os.Stat(g.LUNFile); err == nil {
			if err := detachLUNs(ctx, g.LUNFile); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		// Keep the state file so that a second `lab down` can finish the job.
		return errors.Join(errs...)
	}
	if err := removeFiles(st); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// labFiles are the entries a lab creates in its directory.
var labFiles = []string{"hosts", "luns", "lockspace", "bmc", ipmiDir, "lifeboat.yaml", "lifeboat.db", "lab.log", "control.sock", "etcd", stateFile + ".tmp", stateFile}

// removeFiles deletes the lab's files; the directory too if the lab created it and it is empty.
func removeFiles(st *labState) error {
	var errs []error
	for _, f := range labFiles {
		if err := os.RemoveAll(filepath.Join(st.Dir, f)); err != nil {
			errs = append(errs, err)
		}
	}
	if st.CreatedDir {
		if err := os.Remove(st.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("testenv: lab dir %s not empty after cleanup: %w", st.Dir, err))
		}
	}
	return errors.Join(errs...)
}
