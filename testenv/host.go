package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// hostBootScript starts a host's virtlockd and libvirtd inside a fresh mount and UTS namespace
// whose libvirt directories are the host's private copies.
func hostBootScript(s *labState, h *hostState) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	fmt.Fprintf(&b, "hostname %s\n", h.Name)
	for _, pd := range privateDirs(s, h) {
		fmt.Fprintf(&b, "mount --bind %q %q\n", pd[0], pd[1])
	}
	fmt.Fprintf(&b, "mount --bind %q /etc/hosts\n", filepath.Join(hostDir(s, h), "hosts"))
	b.WriteString("virtlockd -d -f /etc/libvirt/virtlockd.conf -p /run/libvirt/virtlockd.pid\n")
	b.WriteString("libvirtd -d --listen -f /etc/libvirt/libvirtd.conf -p /run/libvirt/libvirtd.pid\n")
	return b.String()
}

// writeHostsFile gives each host an /etc/hosts that resolves every lab host by name.
func writeHostsFile(s *labState, h *hostState) error {
	var b strings.Builder
	b.WriteString("127.0.0.1\tlocalhost\n")
	for _, o := range s.Hosts {
		fmt.Fprintf(&b, "%s\t%s\n", o.Address, o.Name)
	}
	if err := os.WriteFile(filepath.Join(hostDir(s, h), "hosts"), []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("testenv: host %s: %w", h.Name, err)
	}
	return nil
}

// bootHost powers a host on: a fresh /run (as after a real reboot), then virtlockd and libvirtd,
// and waits until libvirtd answers on its management address.
func bootHost(ctx context.Context, s *labState, h *hostState) error {
	run := filepath.Join(hostDir(s, h), "run")
	if err := os.RemoveAll(run); err != nil {
		return fmt.Errorf("testenv: host %s: clear /run: %w", h.Name, err)
	}
	if err := os.MkdirAll(run, 0o755); err != nil {
		return fmt.Errorf("testenv: host %s: %w", h.Name, err)
	}
	if _, err := runIn(ctx, h.NetNS, "unshare", "--mount", "--uts", "--propagation", "private",
		"sh", "-c", hostBootScript(s, h)); err != nil {
		return fmt.Errorf("testenv: boot host %s: %w", h.Name, err)
	}
	if err := waitLibvirtd(ctx, h); err != nil {
		return err
	}
	// Warming is only an optimisation (the first guest start would probe anyway), and libvirtd
	// has been seen to fail a probe right after start with "cause unknown": retry, then go on.
	for i := 0; i < 3; i++ {
		if warmCapabilities(s, h) == nil {
			break
		}
		time.Sleep(300 * time.Millisecond)
	}
	return nil
}

// warmCapabilities makes libvirtd probe QEMU now (a few seconds, once per host: the result is
// cached in its /var/cache/libvirt), so that the host's first guest start is as fast as later ones.
func warmCapabilities(s *labState, h *hostState) error {
	c, err := hostConn(s, h)
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.GetDomainCapabilities("", "x86_64", "pc", "qemu", 0); err != nil {
		return fmt.Errorf("testenv: host %s: probe QEMU: %w", h.Name, err)
	}
	return nil
}

// runIn runs a command inside the network namespace ns.
func runIn(ctx context.Context, ns string, args ...string) (string, error) {
	return run(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

// waitLibvirtd waits until the host's libvirtd accepts TCP connections.
func waitLibvirtd(ctx context.Context, h *hostState) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	addr := net.JoinHostPort(h.Address, "16509")
	for {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: libvirtd of host %s did not answer on %s: %w", h.Name, addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// killHost is a hard power loss: SIGKILL to every process in the host's namespaces, thawing them
// first if frozen, then waiting until they are gone: every process seen in the namespace, and
// each one first seen (libvirtd, virtlockd, QEMU) until its last thread has exited, within
// killWait. A process that outlives that bound is named in the error.
func killHost(ctx context.Context, h *hostState) error {
	ino, err := netnsInode(h.NetNS)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, killWait)
	defer cancel()
	seen := map[int]killed{}
	note := func(ps []proc) {
		for _, p := range ps {
			if _, ok := seen[p.PID]; !ok {
				seen[p.PID] = killed{comm: p.Comm, start: processStart(p.PID)}
			}
		}
	}
	procs := processesIn(ino)
	note(procs)
	for _, p := range procs {
		_ = syscall.Kill(p.PID, syscall.SIGKILL)
	}
	if h.Frozen {
		if err := thaw(h); err != nil {
			return err
		}
	}
	for {
		var left []string
		scan := processesIn(ino)
		note(scan)
		for _, p := range scan {
			if alive(p.PID) {
				_ = syscall.Kill(p.PID, syscall.SIGKILL)
			}
		}
		for pid, k := range seen {
			// The same pid with the same start time is the same process (not a reused pid).
			if alive(pid) && processStart(pid).Equal(k.start) {
				left = append(left, fmt.Sprintf("%s (pid %d)", k.comm, pid))
			}
		}
		if len(left) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			sort.Strings(left)
			return fmt.Errorf("testenv: host %s: still running after SIGKILL and %s: %s: %w", h.Name, killWait, strings.Join(left, ", "), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// killWait bounds how long killHost waits for a host's processes to exit.
const killWait = 30 * time.Second

// killed is a process killHost waits for: its name and its start time, which tells it apart from
// a later process that reuses its pid.
type killed struct {
	comm  string
	start time.Time
}

// pidFromFile reads a pid file and checks that the process is alive, is the expected program
// and lives in the host's network namespace, so that only the lab's own processes are touched.
func pidFromFile(h *hostState, path, comm string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("testenv: host %s: %s: %w", h.Name, comm, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("testenv: host %s: bad pid file %s: %w", h.Name, path, err)
	}
	ino, err := netnsInode(h.NetNS)
	if err != nil {
		return 0, err
	}
	for _, p := range processesIn(ino) {
		if p.PID == pid && p.Comm == comm && alive(pid) {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("testenv: host %s: %w: %s (pid %d)", h.Name, errNotRunning, comm, pid)
}

var errNotRunning = errors.New("not running")

// crashLibvirtd kills only the host's libvirtd; guests and virtlockd live on.
func crashLibvirtd(ctx context.Context, s *labState, h *hostState) error {
	pid, err := pidFromFile(h, filepath.Join(hostDir(s, h), "run", "libvirtd.pid"), "libvirtd")
	if err != nil {
		return err
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("testenv: host %s: kill libvirtd: %w", h.Name, err)
	}
	for alive(pid) {
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: host %s: libvirtd (pid %d) survived SIGKILL: %w", h.Name, pid, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

// startLibvirtd starts libvirtd again in the host's existing namespaces (found through its
// virtlockd), as an administrator restarting the service would.
func startLibvirtd(ctx context.Context, s *labState, h *hostState) error {
	if _, err := pidFromFile(h, filepath.Join(hostDir(s, h), "run", "libvirtd.pid"), "libvirtd"); err == nil {
		return nil
	}
	anchor, err := pidFromFile(h, filepath.Join(hostDir(s, h), "run", "virtlockd.pid"), "virtlockd")
	if err != nil {
		return fmt.Errorf("testenv: host %s: cannot start libvirtd without its host (powered off?): %w", h.Name, err)
	}
	if _, err := run(ctx, "nsenter", "--target", strconv.Itoa(anchor), "--mount", "--uts", "--net",
		"libvirtd", "-d", "--listen", "-f", "/etc/libvirt/libvirtd.conf", "-p", "/run/libvirt/libvirtd.pid"); err != nil {
		return fmt.Errorf("testenv: host %s: start libvirtd: %w", h.Name, err)
	}
	return waitLibvirtd(ctx, h)
}
