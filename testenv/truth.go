package testenv

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/lifeboat-ha/lifeboat/witness"
)

// Running lists every guest that runs on any lab host, found by scanning each host's processes
// (its network namespace), not by asking libvirt. A guest listed twice runs twice.
func (l *Lab) Running() ([]GuestProcess, error) {
	l.mu.Lock()
	hosts := append([]hostState(nil), l.st.Hosts...)
	l.mu.Unlock()
	return scanGuests(hosts)
}

func scanGuests(hosts []hostState) ([]GuestProcess, error) {
	var out []GuestProcess
	for _, h := range hosts {
		ino, err := netnsInode(h.NetNS)
		if err != nil {
			return nil, err
		}
		for _, p := range processesIn(ino) {
			if name, ok := qemuGuestName(p); ok && alive(p.PID) {
				out = append(out, GuestProcess{Host: h.Name, Guest: name, PID: p.PID,
					Incoming: slices.Contains(p.Cmdline, "-incoming"), Started: processStart(p.PID)})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Guest != out[j].Guest {
			return out[i].Guest < out[j].Guest
		}
		return out[i].Host < out[j].Host
	})
	return out, nil
}

// RunningOn returns the hosts on which the guest runs, from the process scan.
func (l *Lab) RunningOn(guest string) ([]string, error) {
	procs, err := l.Running()
	if err != nil {
		return nil, err
	}
	var hosts []string
	for _, p := range procs {
		if p.Guest == guest {
			hosts = append(hosts, p.Host)
		}
	}
	return hosts, nil
}

// LeaseHolder returns the host whose virtlockd holds the guest's disk lease, or "" when no host
// does. It only queries the lock and never takes it.
func (l *Lab) LeaseHolder(guest string) (string, error) {
	l.mu.Lock()
	st := *l.st
	hosts := append([]hostState(nil), l.st.Hosts...)
	var disk string
	for _, g := range l.st.Guests {
		if g.Name == guest {
			disk = g.LUNDev
		}
	}
	l.mu.Unlock()
	if disk == "" {
		return "", fmt.Errorf("testenv: unknown guest %q", guest)
	}
	pid, err := witness.Holder(leaseFile(&st, disk))
	if err != nil || pid == 0 {
		return "", err
	}
	for _, h := range hosts {
		ino, err := netnsInode(h.NetNS)
		if err != nil {
			continue
		}
		for _, p := range processesIn(ino) {
			if p.PID == pid {
				return h.Name, nil
			}
		}
	}
	return "", fmt.Errorf("testenv: lease of %s held by pid %d, which is no lab host's", guest, pid)
}

// LeaseFile is the path of the lock file that guards the guest's disk in the shared lockspace.
func (l *Lab) LeaseFile(guest string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, g := range l.st.Guests {
		if g.Name == guest {
			return leaseFile(l.st, g.LUNDev), nil
		}
	}
	return "", fmt.Errorf("testenv: unknown guest %q", guest)
}

// DoubleRuns returns the guests that run twice: a guest with two or more processes, where a
// younger one was not started as a migration destination (-incoming), or has been one for longer
// than maxMigration (a migration that should have ended). An empty result is the "never runs
// twice" invariant.
func DoubleRuns(procs []GuestProcess, now time.Time, maxMigration time.Duration) []string {
	by := map[string][]GuestProcess{}
	for _, p := range procs {
		by[p.Guest] = append(by[p.Guest], p)
	}
	var out []string
	for g, ps := range by {
		if len(ps) < 2 {
			continue
		}
		sort.Slice(ps, func(i, j int) bool { return ps[i].Started.Before(ps[j].Started) })
		for _, p := range ps[1:] {
			if !p.Incoming || now.Sub(p.Started) > maxMigration {
				out = append(out, g)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
