package hypervisor_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabGuestAddresses asks real libvirt for a running Linux guest's addresses. The lab's guests
// sit on a plain bridge with static addresses, which libvirt's LEASE source does not cover, and
// the host's ARP table only knows them once the host has spoken to them: the answer may be empty,
// but it is never an error and never a wrong address, and an unknown domain is ErrNoDomain.
func TestLabGuestAddresses(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 1, VMs: 1, GuestKind: testenv.GuestLinux})
	h, _ := l.Host("h1")
	g := l.Guests()[0]
	ctx := context.Background()
	c, err := hypervisor.Dial(ctx, h.Name, h.LibvirtURI, hypervisor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for !c.Connected() {
		if time.Now().After(deadline) {
			t.Fatal("not connected after 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	addrs, err := c.GuestAddresses(ctx, g.UUID)
	if err != nil {
		t.Fatalf("addresses of %s: %v", g.Name, err)
	}
	if len(addrs) > 0 && !slices.Contains(addrs, g.IP) {
		t.Fatalf("libvirt gives %s the addresses %v, but it has %s", g.Name, addrs, g.IP)
	}
	t.Logf("libvirt knows %s (at %s) by the addresses %v", g.Name, g.IP, addrs)
	if _, err := c.GuestAddresses(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, hypervisor.ErrNoDomain) {
		t.Errorf("unknown domain: %v, want ErrNoDomain", err)
	}
}
