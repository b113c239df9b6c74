package hypervisor_test

import (
	"context"
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
	testenv.Parallel(t)
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
// over NBD by testenv.FaultyDisk with error_policy 'stop' and fails from the start, so the
// guest's first disk access (SeaBIOS reading the boot sector) pauses it on an I/O error. The
// host must report the io_error event with its reason and list the guest as paused on error;
// once the storage is back, a resume retries the request and the guest runs on.
//
// The guest runs under TCG: under nested KVM on this machine kind SeaBIOS never reads the disk.
// It is cold-started with the disk already failing rather than reset once running: a reset
// that lands early in SeaBIOS's first boot (likely on a loaded machine) hangs the next boot
// before it reads the disk.
func TestLabGuestPausedOnIOError(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 1, VMs: 0, GuestKind: testenv.GuestBIOS})
	h, _ := l.Host("h1")
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
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
	def := disk.DomainXML(name, uuid)
	virsh := func(args ...string) {
		t.Helper()
		if _, err := testenv.Exec(ctx, "virsh", append([]string{"-c", h.LibvirtURI}, args...)...); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { // runs before the disk's Close
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		_, _ = testenv.Exec(cctx, "virsh", "-c", h.LibvirtURI, "destroy", name)
		if _, err := testenv.Exec(cctx, "virsh", "-c", h.LibvirtURI, "undefine", name); err != nil && !strings.Contains(err.Error(), "failed to get domain") {
			t.Error(err)
		}
	})

	for i, fault := range []struct {
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
		if i == 0 {
			if err := c.StartDomain(ctx, def); err != nil {
				t.Fatal(err)
			}
		} else {
			virsh("start", name)
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
		virsh("resume", name)
		if dom := waitState(ctx, t, c, uuid, hypervisor.StateRunning); dom.StateReason != "unpaused" || dom.PausedOnError() {
			t.Errorf("%v: resumed guest %+v", fault.errno, dom)
		}
		virsh("destroy", name)
		if dom := waitState(ctx, t, c, uuid, hypervisor.StateShutoff); dom.StateReason != "destroyed" {
			t.Errorf("%v: destroyed guest %+v", fault.errno, dom)
		}
	}
	if disk.FailedRequests() == 0 {
		t.Error("the disk answered no request with an error")
	}
}

// waitState polls the host's inventory until the domain is in the state, and returns it.
func waitState(ctx context.Context, t *testing.T, c *hypervisor.Conn, uuid string, want hypervisor.DomainState) hypervisor.Domain {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		dom := findDomain(ctx, t, c, uuid)
		if dom.State == want {
			return dom
		}
		if time.Now().After(deadline) {
			t.Fatalf("domain %s not %s within a minute: %+v", uuid, want, dom)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitEvent returns the first event that matches, waiting up to a minute (a TCG guest boots
// slowly on a loaded machine).
func waitEvent(ctx context.Context, t *testing.T, c *hypervisor.Conn, match func(hypervisor.Event) bool) hypervisor.Event {
	t.Helper()
	timeout := time.After(time.Minute)
	var seen []hypervisor.Event
	for {
		select {
		case ev := <-c.Events():
			if match(ev) {
				return ev
			}
			seen = append(seen, ev)
		case <-timeout:
			t.Fatalf("no matching event within a minute; other events: %+v", seen)
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
