package testenv

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// proc is one process seen in /proc.
type proc struct {
	PID     int
	Comm    string
	Cmdline []string
}

// netnsInode returns the inode number that identifies the named network namespace.
func netnsInode(name string) (uint64, error) {
	var st syscall.Stat_t
	if err := syscall.Stat("/run/netns/"+name, &st); err != nil {
		return 0, fmt.Errorf("testenv: netns %s: %w", name, err)
	}
	return st.Ino, nil
}

// processesIn lists the processes whose network namespace has the given inode. Processes that exit
// during the scan are skipped.
func processesIn(ino uint64) []proc {
	want := fmt.Sprintf("net:[%d]", ino)
	entries, _ := os.ReadDir("/proc")
	var out []proc
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		base := filepath.Join("/proc", e.Name())
		if !inNetNS(base, want) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join(base, "comm"))
		raw, _ := os.ReadFile(filepath.Join(base, "cmdline"))
		var args []string
		for _, a := range bytes.Split(bytes.TrimRight(raw, "\x00"), []byte{0}) {
			args = append(args, string(a))
		}
		out = append(out, proc{PID: pid, Comm: strings.TrimSpace(string(comm)), Cmdline: args})
	}
	return out
}

// inNetNS reports whether the process at base (/proc/PID) runs in the network namespace want
// ("net:[INODE]"). Once a killed multi-threaded process's main thread has exited, its own ns links
// are gone while other threads still run and hold its sockets: those threads' links are read too,
// so such a process is still seen (and waited for) until its last thread is gone.
func inNetNS(base, want string) bool {
	if link, err := os.Readlink(filepath.Join(base, "ns", "net")); err == nil {
		return link == want
	}
	tasks, _ := os.ReadDir(filepath.Join(base, "task"))
	for _, t := range tasks {
		if link, err := os.Readlink(filepath.Join(base, "task", t.Name(), "ns", "net")); err == nil && link == want {
			return true
		}
	}
	return false
}

// qemuGuestName returns the guest name of a QEMU process from its -name argument.
func qemuGuestName(p proc) (string, bool) {
	if !strings.HasPrefix(p.Comm, "qemu-system") {
		return "", false
	}
	for i := 0; i+1 < len(p.Cmdline); i++ {
		if p.Cmdline[i] != "-name" {
			continue
		}
		v := p.Cmdline[i+1]
		for _, part := range strings.Split(v, ",") {
			if name, ok := strings.CutPrefix(part, "guest="); ok {
				return name, true
			}
		}
		return strings.Split(v, ",")[0], true
	}
	return "", false
}

// alive reports whether a process with this pid still exists and is not a zombie. A killed
// multi-threaded process can show its main thread as a zombie while other threads still run (and
// still hold its sockets), so every thread is looked at.
func alive(pid int) bool {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return false
	}
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, t.Name()))
		if err != nil {
			continue
		}
		// The state follows the parenthesised command name.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X' {
			return true
		}
	}
	return false
}

// clockTicks is the kernel's USER_HZ, the unit of /proc/PID/stat start times (100 on Linux).
const clockTicks = 100

// processStart returns when the process started, from /proc (zero if it is gone).
func processStart(pid int) time.Time {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return time.Time{}
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return time.Time{}
	}
	// Fields after the command name start at field 3 (state); starttime is field 22.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return time.Time{}
	}
	ticks, err := strconv.ParseUint(f[19], 10, 64)
	if err != nil {
		return time.Time{}
	}
	return bootTime().Add(time.Duration(ticks) * time.Second / clockTicks)
}

// bootTime is when the machine booted, from /proc/stat's btime.
func bootTime() time.Time {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			if s, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
				return time.Unix(s, 0)
			}
		}
	}
	return time.Time{}
}
