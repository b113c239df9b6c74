package testenv

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"libvirt.org/go/libvirt"
)

// These tests prove the lab is real: guests are QEMU processes that migrate over the lab's
// management network, hold disk leases in the shared lockspace, and die with their host.

// assertGone fails the test if anything of the (stopped) lab is still on the machine.
func assertGone(t *testing.T, name, dir string) {
	t.Helper()
	for _, left := range Leftovers(name, dir) {
		t.Errorf("left behind: %s", left)
	}
}

// startLab starts a lab for the test; StartForTest stops it and checks that nothing is left.
func startLab(t *testing.T, opts Options) *Lab {
	t.Helper()
	return StartForTest(t, opts)
}

func connectTCP(t *testing.T, h Host) *libvirt.Connect {
	t.Helper()
	c, err := libvirt.NewConnect(h.LibvirtURI)
	if err != nil {
		t.Fatalf("connect %s: %v", h.LibvirtURI, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func runningOn(t *testing.T, l *Lab, guest string) []string {
	t.Helper()
	hosts, err := l.RunningOn(guest)
	if err != nil {
		t.Fatal(err)
	}
	return hosts
}

func TestLabLiveMigrationKeepsPing(t *testing.T) {
	Parallel(t)
	l := startLab(t, Options{Hosts: 2, VMs: 1})
	g := l.Guests()[0]
	src, _ := l.Host(g.Home)
	var dst Host
	for _, h := range l.Hosts() {
		if h.Name != src.Name {
			dst = h
		}
	}
	ctx := context.Background()
	p, err := StartPinger(ctx, g.IP, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	waitFor(t, "first ping replies", 10*time.Second, func() bool { return p.Replies() > 20 })

	conn := connectTCP(t, src)
	dom, err := conn.LookupDomainByName(g.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	start := time.Now()
	flags := libvirt.MIGRATE_LIVE | libvirt.MIGRATE_PEER2PEER | libvirt.MIGRATE_PERSIST_DEST | libvirt.MIGRATE_UNDEFINE_SOURCE
	if err := dom.MigrateToURI3(dst.LibvirtURI, &libvirt.DomainMigrateParameters{}, flags); err != nil {
		t.Fatalf("migrate %s %s -> %s: %v", g.Name, src.Name, dst.Name, err)
	}
	took := time.Since(start)
	before := p.Replies()
	waitFor(t, "ping replies after migration", 10*time.Second, func() bool { return p.Replies() > before+50 })
	gap := p.MaxGap()
	t.Logf("migration %s -> %s took %s; longest ping gap %s (10 ms interval)", src.Name, dst.Name, took.Round(time.Millisecond), gap.Round(time.Millisecond))
	if got := runningOn(t, l, g.Name); len(got) != 1 || got[0] != dst.Name {
		t.Fatalf("after migration %s runs on %v, want [%s]", g.Name, got, dst.Name)
	}
	if gap > 5*time.Second {
		t.Errorf("guest stopped answering ping for %s during a live migration", gap)
	}
	if holder, err := l.LeaseHolder(g.Name); err != nil || holder != dst.Name {
		t.Errorf("after migration the lease of %s is held by %q (%v), want %s", g.Name, holder, err, dst.Name)
	}
}

func TestLabPowerOffReleasesLeasesAndGuestRestartsElsewhere(t *testing.T) {
	Parallel(t)
	l := startLab(t, Options{Hosts: 1, Standby: 1, VMs: 1, GuestKind: GuestBIOS})
	g := l.Guests()[0]
	ctx := context.Background()
	if holder, err := l.LeaseHolder(g.Name); err != nil || holder != "h1" {
		t.Fatalf("lease of %s held by %q (%v), want h1", g.Name, holder, err)
	}
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if got := runningOn(t, l, g.Name); len(got) != 0 {
		t.Fatalf("after power-off %s still runs on %v", g.Name, got)
	}
	if holder, err := l.LeaseHolder(g.Name); err != nil || holder != "" {
		t.Fatalf("after power-off the lease of %s is held by %q (%v)", g.Name, holder, err)
	}
	st, _ := l.Status()
	if st.Hosts[0].Power != "off" {
		t.Errorf("h1 power %q after power-off", st.Hosts[0].Power)
	}
	// The host is dark: its libvirt port does not answer.
	h1, _ := l.Host("h1")
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(h1.Address, "16509"), 500*time.Millisecond); err == nil {
		c.Close()
		t.Error("a powered-off host still answers on its libvirt port")
	}
	xml, err := l.GuestXML(g.Name)
	if err != nil {
		t.Fatal(err)
	}
	h2, _ := l.Host("h2")
	conn := connectTCP(t, h2)

	// The disk lease is the last line of defence: while someone else holds it (here this test,
	// standing in for a host that still runs the guest), libvirt refuses to start the guest.
	lf, _ := l.LeaseFile(g.Name)
	f, err := os.OpenFile(lf, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	if dom, err := conn.DomainCreateXML(xml, 0); err == nil {
		dom.Destroy()
		dom.Free()
		t.Fatal("the guest started on h2 while its disk lease was held elsewhere")
	} else {
		t.Logf("start refused while the lease is held: %v", err)
	}
	f.Close() // releases the lease
	if got := runningOn(t, l, g.Name); len(got) != 0 {
		t.Fatalf("after a refused start %s runs on %v", g.Name, got)
	}

	start := time.Now()
	dom, err := conn.DomainCreateXML(xml, 0)
	if err != nil {
		t.Fatalf("restart %s on h2 after h1's power loss: %v", g.Name, err)
	}
	dom.Free()
	t.Logf("restart on h2 took %s", time.Since(start).Round(time.Millisecond))
	if got := runningOn(t, l, g.Name); len(got) != 1 || got[0] != "h2" {
		t.Fatalf("%s runs on %v, want [h2]", g.Name, got)
	}
	if holder, _ := l.LeaseHolder(g.Name); holder != "h2" {
		t.Errorf("lease of %s held by %q, want h2", g.Name, holder)
	}
	// Power on: a fresh libvirtd, the guest defined there but off.
	if err := l.PowerOn(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	c1 := connectTCP(t, h1)
	d1, err := c1.LookupDomainByName(g.Name)
	if err != nil {
		t.Fatalf("after power-on h1 lost the definition of %s: %v", g.Name, err)
	}
	defer d1.Free()
	if active, _ := d1.IsActive(); active {
		t.Errorf("after power-on %s is running on h1 too", g.Name)
	}
}

func TestLabPartitionKeepsGuestAndLeaseRefusesSecondStart(t *testing.T) {
	Parallel(t)
	l := startLab(t, Options{Hosts: 2, VMs: 1, GuestKind: GuestBIOS})
	g := l.Guests()[0]
	ctx := context.Background()
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	c2 := connectTCP(t, h2)
	if err := l.Partition(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(h1.Address, "16509"), time.Second); err == nil {
		c.Close()
		t.Fatal("partitioned host still reachable on its management address")
	}
	if got := runningOn(t, l, g.Name); len(got) != 1 || got[0] != "h1" {
		t.Fatalf("during partition %s runs on %v, want [h1]", g.Name, got)
	}
	xml, _ := l.GuestXML(g.Name)
	dom, err := c2.DomainCreateXML(xml, 0)
	if err == nil {
		dom.Destroy()
		dom.Free()
		t.Fatal("a second start of the guest on h2 succeeded while h1 still runs it")
	}
	t.Logf("second start refused: %v", err)
	if !strings.Contains(strings.ToLower(err.Error()), "lock") {
		t.Errorf("second start failed, but not on the lease: %v", err)
	}
	if got := runningOn(t, l, g.Name); len(got) != 1 || got[0] != "h1" {
		t.Fatalf("after the refused start %s runs on %v, want [h1]", g.Name, got)
	}
	if err := l.Heal(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	if err := waitLibvirtd(ctx, &hostState{Name: h1.Name, Address: h1.Address}); err != nil {
		t.Fatal(err)
	}
}

func TestLabFreezeHangsLibvirtUntilThaw(t *testing.T) {
	Parallel(t)
	l := startLab(t, Options{Hosts: 1, VMs: 1, GuestKind: GuestBIOS})
	ctx := context.Background()
	h1, _ := l.Host("h1")
	conn := connectTCP(t, h1)
	if _, err := conn.GetHostname(); err != nil {
		t.Fatal(err)
	}
	if err := l.Freeze(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := conn.ListAllDomains(0)
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("a libvirt call to a frozen host returned (%v) instead of hanging", err)
	case <-time.After(3 * time.Second):
	}
	if err := l.Thaw(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after thaw the call failed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("after thaw the libvirt call still hangs")
	}
	if got := runningOn(t, l, l.Guests()[0].Name); len(got) != 1 {
		t.Fatalf("after thaw the guest runs on %v", got)
	}
}

func TestLabCrashLibvirtdKeepsGuests(t *testing.T) {
	Parallel(t)
	l := startLab(t, Options{Hosts: 1, VMs: 1, GuestKind: GuestBIOS})
	ctx := context.Background()
	g := l.Guests()[0]
	if err := l.CrashLibvirtd(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	h1, _ := l.Host("h1")
	if c, err := net.DialTimeout("tcp", net.JoinHostPort(h1.Address, "16509"), time.Second); err == nil {
		c.Close()
		t.Fatal("libvirtd still answers after crash")
	}
	if got := runningOn(t, l, g.Name); len(got) != 1 {
		t.Fatalf("after a libvirtd crash the guest runs on %v", got)
	}
	if holder, _ := l.LeaseHolder(g.Name); holder != "h1" {
		t.Fatalf("after a libvirtd crash the lease is held by %q", holder)
	}
	if err := l.StartLibvirtd(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	conn := connectTCP(t, h1)
	dom, err := conn.LookupDomainByName(g.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer dom.Free()
	if active, _ := dom.IsActive(); !active {
		t.Fatal("the restarted libvirtd does not see the running guest")
	}
}

func TestLabStopLeavesNothing(t *testing.T) {
	Parallel(t)
	HoldLabSlot(t)
	dir := filepath.Join(t.TempDir(), "lab")
	l, err := Start(context.Background(), Options{Dir: dir, Hosts: 2, VMs: 2, GuestKind: GuestBIOS})
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Freeze(context.Background(), "h2") // stop must cope with a frozen host
	_ = l.Partition(context.Background(), "h1")
	if err := l.Stop(); err != nil {
		t.Fatal(err)
	}
	assertGone(t, l.Name(), dir)
}
