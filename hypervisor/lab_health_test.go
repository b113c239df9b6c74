package hypervisor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabHostHealthSignals reads the health signals a degrading host shows on a real lab host:
// the node's memory and the reason a guest is paused.
func TestLabHostHealthSignals(t *testing.T) {
	l := testenv.StartForTest(t, testenv.Options{Hosts: 1, VMs: 1, GuestKind: testenv.GuestBIOS})
	h, _ := l.Host("h1")
	g := l.Guests()[0]
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := dialConnected(ctx, t, h)

	m, err := c.NodeMemory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The lab's hosts share this machine's kernel: the reading is the machine's /proc/meminfo.
	// (Info's MemoryKiB, summed over NUMA cells, need not match it: on this machine kind node0
	// reports less than MemTotal.)
	share := m.AvailableShare()
	if m.TotalKiB < 256<<10 || m.FreeKiB == 0 || m.FreeKiB > m.TotalKiB || m.CachedKiB > m.TotalKiB ||
		share <= 0 || share > 1 {
		t.Fatalf("node memory %+v (available %.2f)", m, share)
	}
	t.Logf("node memory: %+v, available %.1f %%", m, 100*share)

	dom := findDomain(ctx, t, c, g.UUID)
	if dom.State != hypervisor.StateRunning || (dom.StateReason != "" && dom.StateReason != "booted") || dom.PausedOnError() {
		t.Fatalf("running guest: %+v", dom)
	}

	if _, err := testenv.Exec(ctx, "virsh", "-c", h.LibvirtURI, "suspend", g.Name); err != nil {
		t.Fatal(err)
	}
	dom = findDomain(ctx, t, c, g.UUID)
	if dom.State != hypervisor.StatePaused || dom.StateReason != "user" || dom.PausedOnError() {
		t.Fatalf("suspended guest: %+v", dom)
	}

	if _, err := testenv.Exec(ctx, "virsh", "-c", h.LibvirtURI, "resume", g.Name); err != nil {
		t.Fatal(err)
	}
	dom = findDomain(ctx, t, c, g.UUID)
	if dom.State != hypervisor.StateRunning || dom.StateReason != "unpaused" {
		t.Fatalf("resumed guest: %+v", dom)
	}
}

// dialConnected dials a lab host and waits until its connection is up; the connection is closed
// when the test ends.
func dialConnected(ctx context.Context, t *testing.T, h testenv.Host) *hypervisor.Conn {
	t.Helper()
	c, err := hypervisor.Dial(ctx, h.Name, h.LibvirtURI, hypervisor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for !c.Connected() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not connected after 10 s", h.Name)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return c
}

// findDomain returns the domain of that UUID from the host's inventory.
func findDomain(ctx context.Context, t *testing.T, c *hypervisor.Conn, uuid string) hypervisor.Domain {
	t.Helper()
	doms, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range doms {
		if d.UUID == uuid {
			return d
		}
	}
	t.Fatalf("domain %s not in the inventory %+v", uuid, doms)
	return hypervisor.Domain{}
}

// TestLabGuestPausedOnIOError makes a guest's storage fail for real: the guest's disk is served
// over NBD by testenv.FaultyDisk with error_policy 'stop'; once the disk fails, the guest's
// next disk access (SeaBIOS reading the boot sector after a reset) pauses it on an I/O error.
// The host must report the io_error event with its reason and list the guest as paused on error.
func TestLabGuestPausedOnIOError(t *testing.T) {
	l := testenv.StartForTest(t, testenv.Options{Hosts: 1, VMs: 0, GuestKind: testenv.GuestBIOS})
	h, _ := l.Host("h1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := dialConnected(ctx, t, h)

	disk, err := testenv.NewFaultyDisk(filepath.Join(l.Dir(), "iofault.sock"), 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := disk.Close(); err != nil {
			t.Error(err)
		}
	})
	const name, uuid = "iofault", "6c1f3e0a-2d4b-4c1e-9a53-0f2b8e4d7a11"
	def := fmt.Sprintf("<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><name>%s</name><uuid>%s</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>"+
		"<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><devices>%s<memballoon model='none'/></devices><qemu:commandline><qemu:arg value='-chardev'/><qemu:arg value='file,id=seabios,path=/tmp/seabios-dbg.log'/><qemu:arg value='-device'/><qemu:arg value='isa-debugcon,iobase=0x402,chardev=seabios'/></qemu:commandline></domain>",
		name, uuid, disk.DiskXML("vda"))
	if err := c.StartDomain(ctx, def); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // before the disk goes away
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		_, _ = testenv.Exec(cctx, "virsh", "-c", h.LibvirtURI, "destroy", name)
		if _, err := testenv.Exec(cctx, "virsh", "-c", h.LibvirtURI, "undefine", name); err != nil {
			t.Error(err)
		}
	})
	waitState(ctx, t, c, uuid, hypervisor.StateRunning)
	time.Sleep(8 * time.Second)

	for _, fault := range []struct {
		errno  syscall.Errno
		reason string // Event.Reason: libvirt names ENOSPC only
	}{
		{syscall.EIO, ""},
		{syscall.ENOSPC, "enospc"},
	} {
		drain(c.Events())
		if err := disk.Fail(fault.errno); err != nil {
			t.Fatal(err)
		}
		if _, err := testenv.Exec(ctx, "virsh", "-c", h.LibvirtURI, "reset", name); err != nil {
			t.Fatal(err)
		}
		time.Sleep(3 * time.Second)
		t.Logf("DEBUG after reset failed=%d", disk.FailedRequests())
		if _, err := testenv.Exec(ctx, "virsh", "-c", h.LibvirtURI, "destroy", name); err != nil {
			t.Fatal(err)
		}
		if _, err := testenv.Exec(ctx, "virsh", "-c", h.LibvirtURI, "start", name); err != nil {
			t.Fatal(err)
		}
		ev := waitEvent(ctx, t, c, func(ev hypervisor.Event) bool { return ev.Kind == hypervisor.EventIOError && ev.UUID == uuid })
		t.Logf("%v: event %+v", fault.errno, ev)
		if ev.Domain != name || ev.Reason != fault.reason || !strings.Contains(ev.Detail, "guest paused") {
			t.Errorf("%v: io_error event %+v, want reason %q", fault.errno, ev, fault.reason)
		}
		dom := waitState(ctx, t, c, uuid, hypervisor.StatePaused)
		if dom.StateReason != hypervisor.ReasonIOError || !dom.PausedOnError() {
			t.Fatalf("%v: guest %+v, want paused on an I/O error", fault.errno, dom)
		}

		// The storage comes back: the guest resumes and its request is retried.
		disk.Heal()
		if _, err := testenv.Exec(ctx, "virsh", "-c", h.LibvirtURI, "resume", name); err != nil {
			t.Fatal(err)
		}
		if dom := waitState(ctx, t, c, uuid, hypervisor.StateRunning); dom.StateReason != "unpaused" {
			t.Errorf("%v: resumed guest %+v", fault.errno, dom)
		}
	}
	if disk.FailedRequests() == 0 {
		t.Error("the disk answered no request with an error")
	}
}

// waitState polls the host's inventory until the domain is in the state, and returns it.
func waitState(ctx context.Context, t *testing.T, c *hypervisor.Conn, uuid string, want hypervisor.DomainState) hypervisor.Domain {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		dom := findDomain(ctx, t, c, uuid)
		if dom.State == want {
			return dom
		}
		if time.Now().After(deadline) {
			t.Fatalf("domain %s not %s within 20 s: %+v", uuid, want, dom)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitEvent returns the first event that matches, waiting up to 20 s.
func waitEvent(ctx context.Context, t *testing.T, c *hypervisor.Conn, match func(hypervisor.Event) bool) hypervisor.Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev := <-c.Events():
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatal("no matching event within 20 s")
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		}
	}
}

// drain discards the events already delivered.
func drain(events <-chan hypervisor.Event) {
	for {
		select {
		case <-events:
		default:
			return
		}
	}
}
