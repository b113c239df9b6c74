package daemon

import (
	"slices"
	"testing"

	"github.com/lifeboat-ha/lifeboat/store"
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
