package daemon

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabIOErrorDegrades: a guest on h1 whose disk fails with real I/O errors (an NBD disk that
// answers EIO) pauses on the error. libvirt's I/O-error event and the paused-on-error guest make
// h1 degraded; its healthy guest is live-migrated off, and the paused one stays where it is
// (an evacuation never restarts a VM cold), reported in the journal.
func TestLabIOErrorDegrades(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2}, nil)
	stop := invariantWatch(t, l)
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h1, _ := l.Host("h1")
	g := guestsOf(l, "h1")[0]

	disk, err := testenv.NewFaultyDisk(filepath.Join(l.Dir(), "iofault.sock"), 16)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := disk.Close(); err != nil {
			t.Error(err)
		}
	})
	const name, uuid = "iofault", "6c1f3e0a-2d4b-4c1e-9a53-0f2b8e4d7a12"
	def := disk.DomainXML(name, uuid)
	xml := filepath.Join(t.TempDir(), "iofault.xml")
	if err := os.WriteFile(xml, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // runs before the disk's Close
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		_, _ = testenv.Exec(cctx, "virsh", "-c", h1.LibvirtURI, "destroy", name)
		if _, err := testenv.Exec(cctx, "virsh", "-c", h1.LibvirtURI, "undefine", name); err != nil && !strings.Contains(err.Error(), "failed to get domain") {
			t.Error(err)
		}
	})
	if err := disk.Fail(syscall.EIO); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := testenv.Exec(ctx, "virsh", "-c", h1.LibvirtURI, "create", xml); err != nil {
		t.Fatal(err)
	}
	took := waitState(t, c, "h1", "degraded", time.Minute)
	// Both signals show: the I/O-error event, and the guest paused on the error (the latter at
	// the next inventory).
	var seen []string
	for end := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		ex, err := c.ExplainHost(ctx, "h1")
		if err != nil {
			t.Fatal(err)
		}
		seen = seen[:0]
		for _, s := range ex.Signals {
			if strings.HasPrefix(s.Name, "health/") {
				seen = append(seen, s.Detail)
			}
		}
		all := strings.Join(seen, "|")
		if strings.Contains(all, "paused on an I/O error") && strings.Contains(all, "had a disk I/O error") {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("h1's health observations do not name both the I/O error and the paused guest: %q", seen)
		}
	}
	t.Logf("guest disk I/O error: h1 degraded %s after the guest started (observations: %q)", took.Round(100*time.Millisecond), seen)
	waitElsewhere(t, l, []testenv.Guest{g}, "h1", time.Minute)
	t.Logf("h1's healthy guest %s live-migrated off %s after the error", g.Name, time.Since(start).Round(100*time.Millisecond))
	// The paused guest stays on h1, and the journal says why.
	deadline := time.Now().Add(10 * time.Second)
	for !journalHas(t, c, "decision", "not_migratable", "h1") {
		if time.Now().After(deadline) {
			t.Fatal("the journal does not report the paused guest staying")
		}
		time.Sleep(200 * time.Millisecond)
	}
	vms, err := c.VMs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vms {
		if v.Name == name && (v.Host != "h1" || v.State != "paused") {
			t.Errorf("the paused guest: %+v, want paused on h1", v)
		}
	}
}
