package testenv

import (
	"strings"
	"testing"
)

// TestOptionsEtcd: an etcd cluster of 0, 1, 3 or 5 members; anything else names the field.
func TestOptionsEtcd(t *testing.T) {
	for _, n := range []int{0, 1, 3, 5} {
		if _, err := (Options{Dir: t.TempDir(), VMs: 0, Etcd: n}).withDefaults(); err != nil {
			t.Errorf("Etcd %d: %v", n, err)
		}
	}
	for _, n := range []int{-1, 2, 4, 7} {
		_, err := (Options{Dir: t.TempDir(), VMs: 0, Etcd: n}).withDefaults()
		if err == nil || !strings.Contains(err.Error(), "Options.Etcd") {
			t.Errorf("Etcd %d: %v", n, err)
		}
	}
}
