package fleet

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// userHZ is the unit of the CPU times in /proc/PID/stat: Linux reports them in USER_HZ, 100
// per second on every architecture Go runs lifeboat on.
const userHZ = 100

// Usage is what a process has cost so far.
type Usage struct {
	// CPU is the user and system time the process has used since it started.
	CPU time.Duration
	// RSSKiB is its resident set size now (VmRSS).
	RSSKiB int64
}

// Usage reads the child's CPU time from /proc/PID/stat and its RSS from /proc/PID/status.
func (p *BMCProcess) Usage() (Usage, error) {
	return ProcUsage(p.Pid())
}

// ProcUsage reads the usage of a process by pid (benchmarks measure the daemon with it too).
func ProcUsage(pid int) (Usage, error) {
	statPath := fmt.Sprintf("/proc/%d/stat", pid)
	raw, err := os.ReadFile(statPath)
	if err != nil {
		return Usage{}, fmt.Errorf("fleet: %w", err)
	}
	cpu, err := parseStatCPU(string(raw))
	if err != nil {
		return Usage{}, fmt.Errorf("fleet: %s: %w", statPath, err)
	}
	statusPath := fmt.Sprintf("/proc/%d/status", pid)
	raw, err = os.ReadFile(statusPath)
	if err != nil {
		return Usage{}, fmt.Errorf("fleet: %w", err)
	}
	rss, err := parseStatusRSS(string(raw))
	if err != nil {
		return Usage{}, fmt.Errorf("fleet: %s: %w", statusPath, err)
	}
	return Usage{CPU: cpu, RSSKiB: rss}, nil
}

// parseStatCPU returns utime + stime (fields 14 and 15) of a /proc/PID/stat line. The command
// name (field 2) is in parentheses and may hold spaces, so the fields are counted after its
// closing one.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no ')' after the command name in %q", stat)
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return 0, fmt.Errorf("%d fields after the command name, want at least 13", len(f))
	}
	var ticks int64
	for _, s := range f[11:13] {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("utime or stime %q: %w", s, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// parseStatusRSS returns the VmRSS line of /proc/PID/status, in KiB.
func parseStatusRSS(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("VmRSS %q: %w", strings.TrimSpace(v), err)
			}
			return n, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS line")
}
