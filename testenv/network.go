package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"syscall"
)

// The lab's two networks: management (libvirt, migration) and guests. Each lab takes one /24 of
// each, chosen so that it overlaps with nothing on the machine.
const (
	mgmtNet  = "10.201"
	guestNet = "10.202"
)

// allocLock serialises subnet allocation between labs started at the same time.
const allocLock = "/run/lifeboat-lab.lock"

func randomName() string {
	b := make([]byte, 2)
	_, _ = rand.Read(b)
	return "lb" + hex.EncodeToString(b)
}

func mgmtAddr(subnet, i int) string  { return fmt.Sprintf("%s.%d.%d", mgmtNet, subnet, 10+i) }
func guestAddr(subnet, i int) string { return fmt.Sprintf("%s.%d.%d", guestNet, subnet, 100+i) }

// lockAlloc takes the machine-wide allocation lock; the returned function releases it.
func lockAlloc() (func(), error) {
	f, err := os.OpenFile(allocLock, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("testenv: allocation lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("testenv: allocation lock: %w", err)
	}
	return func() { f.Close() }, nil
}

// freeSubnet picks a subnet index whose management and guest /24s are unused on this machine.
func freeSubnet() (int, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return 0, fmt.Errorf("testenv: list addresses: %w", err)
	}
	used := map[string]bool{}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if v4 := ipn.IP.To4(); v4 != nil {
				used[fmt.Sprintf("%d.%d.%d", v4[0], v4[1], v4[2])] = true
			}
		}
	}
	for n := 1; n < 255; n++ {
		if !used[fmt.Sprintf("%s.%d", mgmtNet, n)] && !used[fmt.Sprintf("%s.%d", guestNet, n)] {
			return n, nil
		}
	}
	return 0, fmt.Errorf("testenv: no free subnet in %s.0.0/16 and %s.0.0/16", mgmtNet, guestNet)
}

// setupBridges creates the lab's management and guest bridges in the root namespace, with the
// management node's address on each.
func setupBridges(ctx context.Context, s *labState) error {
	for _, br := range []struct{ name, addr string }{
		{s.MgmtBridge, fmt.Sprintf("%s.%d.1/24", mgmtNet, s.Subnet)},
		{s.GuestBridge, fmt.Sprintf("%s.%d.1/24", guestNet, s.Subnet)},
	} {
		if err := ipCmd(ctx, "link", "add", br.name, "type", "bridge"); err != nil {
			return fmt.Errorf("testenv: bridge %s: %w", br.name, err)
		}
		if err := ipCmd(ctx, "addr", "add", br.addr, "dev", br.name); err != nil {
			return fmt.Errorf("testenv: bridge %s: %w", br.name, err)
		}
		if err := ipCmd(ctx, "link", "set", br.name, "up"); err != nil {
			return fmt.Errorf("testenv: bridge %s: %w", br.name, err)
		}
	}
	return nil
}

// setupHostNet creates the host's network namespace, its management link (eth0, with the host's
// address) and its guest link into a per-host bridge br-vm that joins the lab's guest bridge.
func setupHostNet(ctx context.Context, s *labState, h *hostState) error {
	ns := h.NetNS
	steps := [][]string{
		{"netns", "add", ns},
		{"-n", ns, "link", "set", "lo", "up"},
		{"link", "add", h.MgmtVeth, "type", "veth", "peer", "name", "eth0", "netns", ns},
		{"link", "set", h.MgmtVeth, "master", s.MgmtBridge, "up"},
		{"-n", ns, "addr", "add", h.Address + "/24", "dev", "eth0"},
		{"-n", ns, "link", "set", "eth0", "up"},
		{"-n", ns, "route", "add", "default", "via", fmt.Sprintf("%s.%d.1", mgmtNet, s.Subnet)},
		{"link", "add", h.GuestVeth, "type", "veth", "peer", "name", "vmlink", "netns", ns},
		{"link", "set", h.GuestVeth, "master", s.GuestBridge, "up"},
		{"-n", ns, "link", "add", "br-vm", "type", "bridge"},
		{"-n", ns, "link", "set", "vmlink", "master", "br-vm", "up"},
		{"-n", ns, "link", "set", "br-vm", "up"},
	}
	for _, st := range steps {
		if err := ipCmd(ctx, st...); err != nil {
			return fmt.Errorf("testenv: network of host %s: %w", h.Name, err)
		}
	}
	return nil
}

// setLink sets the root-side end of a host's management link up or down.
func setLink(ctx context.Context, h *hostState, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	if err := ipCmd(ctx, "link", "set", h.MgmtVeth, state); err != nil {
		return fmt.Errorf("testenv: management link of %s %s: %w", h.Name, state, err)
	}
	return nil
}

// setGuestLink sets the root-side end of a host's guest link up or down: down, the host's guests
// no longer reach (or answer) anyone outside the host.
func setGuestLink(ctx context.Context, h *hostState, up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	if err := ipCmd(ctx, "link", "set", h.GuestVeth, state); err != nil {
		return fmt.Errorf("testenv: guest link of %s %s: %w", h.Name, state, err)
	}
	return nil
}

// linkExists reports whether a network link of that name exists in the root namespace.
func linkExists(name string) bool {
	_, err := net.InterfaceByName(name)
	return err == nil
}

// netnsExists reports whether the named network namespace exists.
func netnsExists(name string) bool {
	_, err := os.Stat("/run/netns/" + name)
	return err == nil
}
