package daemon

import (
	"context"
	"errors"
	"testing"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// failingVMStore fails the first fail writes of VM records.
type failingVMStore struct {
	store.Store
	fail int
}

func (s *failingVMStore) PutVM(ctx context.Context, rs ...store.VMRecord) error {
	if s.fail > 0 {
		s.fail--
		return errors.New("disk full")
	}
	return s.Store.PutVM(ctx, rs...)
}

// TestInventoryWritesAgainAfterAFailedWrite: the VM records an inventory could not store are
// written by the next inventory, although nothing changed on the host since.
func TestInventoryWritesAgainAfterAFailedWrite(t *testing.T) {
	ctx := context.Background()
	cfg := fleetConfig(t.TempDir(), 1)
	f := fleet.New(2)
	d, err := New(ctx, cfg, Options{Dial: f.Dial})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.db.Close() })
	as := d.db.(actingStore)
	fs := &failingVMStore{Store: as.Store, fail: 1}
	as.Store = fs
	d.db = as
	w := d.hosts[0]
	if w.conn, err = f.Dial(ctx, w.cfg.Name, w.cfg.URI, hypervisor.Options{}); err != nil {
		t.Fatal(err)
	}
	doms, err := w.conn.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.updateInventory(ctx, w, doms)
	if vms, _ := fs.Store.ListVMs(ctx); len(vms) != 0 || len(d.unsaved) != 2 {
		t.Fatalf("after a failed write: %d records stored, %d unsaved; want 0, 2", len(vms), len(d.unsaved))
	}
	d.updateInventory(ctx, w, doms)
	if vms, _ := fs.Store.ListVMs(ctx); len(vms) != 2 || len(d.unsaved) != 0 {
		t.Errorf("after the next inventory: %d records stored, %d unsaved; want 2, 0", len(vms), len(d.unsaved))
	}
}

// TestVMsOnHostIndex: the index of VM records by host follows moves without a rebuild (a VM
// that left is filtered by callers checking CurrentHost; one that arrived is added by
// vmArrived), and records adopted from the store once vmsMoved says so.
func TestVMsOnHostIndex(t *testing.T) {
	d := &Daemon{vms: map[string]*store.VMRecord{
		"u1": {UUID: "u1", Name: "a", CurrentHost: "h1"},
		"u2": {UUID: "u2", Name: "b", CurrentHost: "h2"},
	}}
	names := func(host string) []string {
		var out []string
		for _, r := range d.vmsOnHost(host) {
			if r.CurrentHost == host {
				out = append(out, r.Name)
			}
		}
		return out
	}
	if got := names("h1"); len(got) != 1 || got[0] != "a" {
		t.Fatalf("h1: %v, want [a]", got)
	}
	d.vms["u1"].CurrentHost = "" // an inventory of h1 found it gone
	if got := names("h1"); len(got) != 0 {
		t.Errorf("h1 after the VM left: %v, want none", got)
	}
	d.vmArrived(d.vms["u2"], "h1") // a restart put it on h1
	d.vms["u2"].CurrentHost = "h1"
	if got := names("h1"); len(got) != 1 || got[0] != "b" {
		t.Errorf("h1 after a restart onto it: %v, want [b]", got)
	}
	if got := names("h2"); len(got) != 0 {
		t.Errorf("h2 after its VM left: %v, want none", got)
	}
	d.vmArrived(d.vms["u2"], "h1")           // an inventory of h1 sees it again: listed once
	if n := len(d.vmsOnHost("h1")); n != 2 { // a (left, still indexed) and b
		t.Errorf("h1 indexes %d records after a second arrival of b, want 2", n)
	}
	d.vms["u3"] = &store.VMRecord{UUID: "u3", Name: "c", CurrentHost: "h2"} // adopted from the store
	d.vmsMoved()
	if got := names("h2"); len(got) != 1 || got[0] != "c" {
		t.Errorf("h2 after adoption: %v, want [c]", got)
	}
}

// TestActiveHostFollowsInventories: activeHost answers from the latest inventory of every host
// (setDomains keeps d.activeAt), for steady, moved, stopped and vanished domains.
func TestActiveHostFollowsInventories(t *testing.T) {
	h1, h2 := &hostWatch{cfg: config.Host{Name: "h1"}}, &hostWatch{cfg: config.Host{Name: "h2"}}
	d := &Daemon{activeAt: map[string][]*hostWatch{}}
	run := func(uuid string) hypervisor.Domain {
		return hypervisor.Domain{UUID: uuid, Name: uuid, State: hypervisor.StateRunning}
	}
	off := func(uuid string) hypervisor.Domain {
		return hypervisor.Domain{UUID: uuid, Name: uuid, State: hypervisor.StateShutoff}
	}
	where := func(uuid string, except *hostWatch) string {
		h, ok := d.activeHost(uuid, except)
		if !ok {
			return "-"
		}
		return h
	}
	d.setDomains(h1, []hypervisor.Domain{run("a"), off("b")})
	d.setDomains(h2, []hypervisor.Domain{run("c")})
	if got := where("a", nil) + where("b", nil) + where("c", nil) + where("a", h1); got != "h1-h2-" {
		t.Fatalf("after the first inventories: %q, want h1-h2-", got)
	}
	d.setDomains(h1, []hypervisor.Domain{run("a"), off("b")}) // steady
	if got := where("a", h2); got != "h1" {
		t.Errorf("a steady inventory lost a: %q", got)
	}
	d.setDomains(h2, []hypervisor.Domain{run("c"), run("a")}) // a migrates: both list it
	if got := where("a", h1) + where("a", h2); got != "h2h1" {
		t.Errorf("mid-migration: %q, want h2h1", got)
	}
	d.setDomains(h1, []hypervisor.Domain{off("b")}) // a left h1
	if got := where("a", nil) + where("a", h2); got != "h2-" {
		t.Errorf("after a left h1: %q, want h2-", got)
	}
	d.setDomains(h2, []hypervisor.Domain{off("c"), run("a")}) // c stopped
	if got := where("c", nil); got != "-" || len(d.activeAt) != 1 {
		t.Errorf("after c stopped: %q, %d UUIDs indexed (want -, 1)", got, len(d.activeAt))
	}
}
