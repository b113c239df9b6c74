package hypervisor_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabHypervisorConn exercises a real connection to a lab host: probe, inventory, definition,
// capacity, QMP status through go-qemu, lifecycle events, typed errors, and reconnection after a
// libvirtd restart.
func TestLabHypervisorConn(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 1, VMs: 1, GuestKind: testenv.GuestBIOS})
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
	if p := c.Probe(ctx); p.Outcome != hypervisor.ProbeOK || p.RTT <= 0 {
		t.Fatalf("probe of a live host: %+v", p)
	}
	doms, err := c.Domains(ctx)
	if err != nil || len(doms) != 1 || doms[0].Name != g.Name || doms[0].UUID != g.UUID ||
		doms[0].State != hypervisor.StateRunning || !doms[0].Persistent || doms[0].MemoryKiB != 64*1024 || doms[0].VCPUs != 1 {
		t.Fatalf("domains: %+v, %v", doms, err)
	}
	def, err := c.DomainXML(ctx, g.UUID)
	if err != nil {
		t.Fatal(err)
	}
	name, uuid, disks, err := hypervisor.DomainDisks(def)
	if err != nil || name != g.Name || uuid != g.UUID || len(disks) != 1 || disks[0] != g.Disk {
		t.Fatalf("definition: %s %s %v %v", name, uuid, disks, err)
	}
	info, err := c.Info(ctx)
	if err != nil || info.CPUs == 0 || info.MemoryKiB == 0 || info.Hostname != "h1" {
		t.Fatalf("info: %+v %v", info, err)
	}
	status, err := c.GuestStatus(ctx, g.UUID)
	if err != nil || status != "running" {
		t.Fatalf("QMP query-status: %q %v", status, err)
	}
	if _, err := c.DomainXML(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, hypervisor.ErrNoDomain) {
		t.Errorf("unknown domain: %v, want ErrNoDomain", err)
	}

	// A lifecycle event arrives when the guest stops.
	if _, err := testenv.Exec(ctx, "virsh", "-c", h.LibvirtURI, "destroy", g.Name); err != nil {
		t.Fatal(err)
	}
	timeout := time.After(10 * time.Second)
	for found := false; !found; {
		select {
		case ev := <-c.Events():
			found = ev.Kind == hypervisor.EventLifecycle && ev.Domain == g.Name && strings.HasPrefix(ev.Detail, "stopped")
		case <-timeout:
			t.Fatal("no stopped lifecycle event within 10 s")
		}
	}

	// libvirtd restart: refused while down, then reconnected.
	if err := l.CrashLibvirtd(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if p := c.Probe(ctx); p.Outcome != hypervisor.ProbeRefused {
		t.Errorf("probe with libvirtd down: %+v", p)
	}
	if err := l.StartLibvirtd(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(15 * time.Second)
	for c.Probe(ctx).Outcome != hypervisor.ProbeOK {
		if time.Now().After(deadline) {
			t.Fatal("no reconnection within 15 s of libvirtd's return")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
