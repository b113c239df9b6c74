package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
)

// RequireLab skips a lab test with a clear message when the machine cannot run a lab (not root,
// no /dev/kvm, no libvirtd). In CI (CI=true) it fails instead: lab tests must run there.
func RequireLab(t testing.TB) {
	t.Helper()
	var why string
	switch {
	case testing.Short():
		why = "-short given"
	case os.Geteuid() != 0:
		why = "the lab needs root"
	default:
		for _, p := range []string{"/dev/kvm", "/usr/sbin/libvirtd", "/usr/sbin/virtlockd", "/usr/bin/qemu-system-x86_64"} {
			if _, err := os.Stat(p); err != nil {
				why = p + " is missing (run `make deps`)"
				break
			}
		}
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" && !testing.Short() {
		t.Fatalf("lab test cannot run in CI: %s", why)
	}
	t.Skipf("lab test skipped: %s", why)
}

// StartForTest starts a lab for a test and removes it when the test ends, whatever the outcome.
// The lab directory is a fresh temporary directory unless opts.Dir is set. It first waits for a
// lab slot (HoldLabSlot), which it frees once the lab is down.
func StartForTest(t testing.TB, opts Options) *Lab {
	t.Helper()
	RequireLab(t)
	if opts.Etcd > 0 {
		etcdtest.Require(t)
	}
	if opts.Dir == "" {
		dir, err := os.MkdirTemp("", "lifeboat-lab-")
		if err != nil {
			t.Fatal(err)
		}
		opts.Dir = filepath.Join(dir, "lab")
		t.Cleanup(func() { _ = os.Remove(dir) })
	}
	if opts.GuestKind == GuestLinux || opts.GuestKind == "" {
		if _, err := os.Stat(filepath.Join(DefaultGuestDir(), "initrd.img")); err != nil && opts.GuestDir == "" && opts.VMs > 0 {
			if os.Getenv("CI") == "true" {
				t.Fatalf("guest image missing in %s: run `make guest`", DefaultGuestDir())
			}
			t.Skipf("lab test skipped: guest image missing in %s (run `make guest`)", DefaultGuestDir())
		}
	}
	HoldLabSlot(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	l, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("start lab: %v", err)
	}
	t.Logf("lab %s up in %s (%d hosts, %d guests)", l.Name(), time.Since(start).Round(time.Millisecond), len(l.Hosts()), len(l.Guests()))
	t.Cleanup(func() {
		stop := time.Now()
		if err := l.Stop(); err != nil {
			t.Errorf("stop lab: %v", err)
		}
		t.Logf("lab %s down in %s", l.Name(), time.Since(stop).Round(time.Millisecond))
		for _, left := range Leftovers(l.Name(), l.Dir()) {
			t.Errorf("lab %s left behind: %s", l.Name(), left)
		}
	})
	return l
}

// Leftovers lists what a stopped lab left on the machine: network namespaces, links, loop devices,
// freezer cgroups, processes and its directory. Empty means the lab cleaned up after itself.
func Leftovers(name, dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/run/netns")
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), name+"-") {
			out = append(out, "network namespace "+e.Name())
		}
	}
	ifs, _ := net.Interfaces()
	for _, i := range ifs {
		if strings.HasPrefix(i.Name, name+"-") {
			out = append(out, "link "+i.Name)
		}
	}
	if loops, err := run(context.Background(), "losetup", "-a"); err == nil {
		for _, line := range strings.Split(loops, "\n") {
			if dir != "" && strings.Contains(line, dir+"/") {
				out = append(out, "loop device "+line)
			}
		}
	}
	fz, _ := os.ReadDir(freezerRoot)
	for _, e := range fz {
		if strings.HasPrefix(e.Name(), "lifeboat-"+name+"-") {
			out = append(out, "freezer cgroup "+e.Name())
		}
	}
	if dir != "" {
		// etcd members whose data lives in the lab directory, and IPMI BMCs.
		procs, _ := os.ReadDir("/proc")
		for _, p := range procs {
			raw, err := os.ReadFile(filepath.Join("/proc", p.Name(), "cmdline"))
			if err == nil && strings.Contains(string(raw), "\x00--data-dir\x00"+filepath.Join(dir, "etcd")+"/") {
				out = append(out, "etcd process "+p.Name())
			}
			// IPMI BMCs (ipmi_sim) whose configuration lives in the lab directory.
			if err == nil && strings.Contains(string(raw), "\x00-c\x00"+filepath.Join(dir, ipmiDir)+"/") {
				out = append(out, "ipmi_sim process "+p.Name())
			}
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		out = append(out, "lab directory "+dir)
	}
	return out
}

// LabProcess is one process a lab started (a host's libvirtd or virtlockd), told apart from a
// later process reusing its pid by its start time.
type LabProcess struct {
	Host  string
	Comm  string
	PID   int
	Start time.Time
}

// Alive reports whether the process still runs (any thread not a zombie) and is the same one.
func (p LabProcess) Alive() bool { return alive(p.PID) && processStart(p.PID).Equal(p.Start) }

// String names the process for test messages.
func (p LabProcess) String() string {
	return fmt.Sprintf("%s of host %s (pid %d)", p.Comm, p.Host, p.PID)
}

// LabDaemons lists the libvirtd and virtlockd processes running for the lab in dir, from their
// pid files, so that a test can check they are gone after `lab down`.
func LabDaemons(dir string) []LabProcess {
	var out []LabProcess
	hosts, _ := os.ReadDir(filepath.Join(dir, "hosts"))
	for _, h := range hosts {
		for _, comm := range []string{"libvirtd", "virtlockd"} {
			b, err := os.ReadFile(filepath.Join(dir, "hosts", h.Name(), "run", comm+".pid"))
			if err != nil {
				continue
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil || !alive(pid) {
				continue
			}
			c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
			if strings.TrimSpace(string(c)) != comm {
				continue
			}
			out = append(out, LabProcess{Host: h.Name(), Comm: comm, PID: pid, Start: processStart(pid)})
		}
	}
	return out
}
