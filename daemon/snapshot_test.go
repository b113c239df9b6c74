package daemon

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// TestOrderedVMsFollowsAddsAndRenames: the snapshot's VM order (by name, then UUID) is kept
// between snapshots, and sorted again after a record is added or renamed.
func TestOrderedVMsFollowsAddsAndRenames(t *testing.T) {
	d := &Daemon{vms: map[string]*store.VMRecord{}}
	names := func() []string {
		var out []string
		for _, r := range d.orderedVMs() {
			out = append(out, r.Name+"/"+r.UUID)
		}
		return out
	}
	d.addVM(&store.VMRecord{UUID: "u2", Name: "b"})
	d.addVM(&store.VMRecord{UUID: "u1", Name: "c"})
	d.addVM(&store.VMRecord{UUID: "u3", Name: "b"})
	if got, want := names(), []string{"b/u2", "b/u3", "c/u1"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	d.addVM(&store.VMRecord{UUID: "u0", Name: "a"})
	if got, want := names(), []string{"a/u0", "b/u2", "b/u3", "c/u1"}; !slices.Equal(got, want) {
		t.Fatalf("after an add: %v, want %v", got, want)
	}
	d.vms["u1"].Name = "0" // as an inventory renames it
	d.vmOrderStale = true
	if got, want := names(), []string{"0/u1", "a/u0", "b/u2", "b/u3"}; !slices.Equal(got, want) {
		t.Fatalf("after a rename: %v, want %v", got, want)
	}
}

// BenchmarkSnapshot is the recovery snapshot of 5,000 hosts and 100,000 VM records: what the
// recovery loop holds d.mu for on each pass (the VM table is copied under the lock).
func BenchmarkSnapshot(b *testing.B) {
	cfg := fleetConfig(b.TempDir(), 5000)
	d, err := New(context.Background(), cfg, Options{Dial: fleet.New(1).Dial})
	if err != nil {
		b.Fatal(err)
	}
	defer d.db.Close()
	for i, w := range d.hosts {
		for j := range 20 {
			d.addVM(&store.VMRecord{UUID: fmt.Sprintf("u%05d-%02d", i, j), Name: fmt.Sprintf("%s-vm%02d", w.cfg.Name, j),
				CurrentHost: w.cfg.Name, HomeHost: w.cfg.Name, State: "running", Protected: true, MemoryMiB: 2048, VCPUs: 2,
				Definition: "<domain/>"})
		}
	}
	d.mu.Lock()
	d.snapshot() // the first sorts the records
	d.mu.Unlock()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		d.mu.Lock()
		s := d.snapshot()
		d.mu.Unlock()
		if len(s.VMs) != 100000 {
			b.Fatalf("%d VMs in the snapshot", len(s.VMs))
		}
	}
}
