package config

import (
	"strings"
	"testing"
)

const oneHost = "hosts: [{name: h1, uri: \"qemu+tcp://a/system\", role: active}]\n"

// The partition policy defaults to wait-for-guests; probe addresses are IPs or IP:PORT; bad
// values name their field.
func TestPartitionSettings(t *testing.T) {
	cfg, err := Parse([]byte(oneHost))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Recovery.PartitionPolicy != PartitionWaitForGuests {
		t.Errorf("default partition policy %q, want wait-for-guests", cfg.Recovery.PartitionPolicy)
	}
	cfg, err = Parse([]byte(oneHost + "recovery: {partition_policy: fence}\nprotection: {default: all, vms: [{name: db1, probe: \"10.0.0.5\"}, {name: web1, probe: \"10.0.0.6:443\"}]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Recovery.PartitionPolicy != PartitionFence || cfg.Protection.VMs[0].Probe != "10.0.0.5" || cfg.Protection.VMs[1].Probe != "10.0.0.6:443" {
		t.Errorf("parsed %+v %+v", cfg.Recovery, cfg.Protection.VMs)
	}
	for _, c := range []struct{ yaml, want string }{
		{"recovery: {partition_policy: wait}", `recovery.partition_policy: "wait": want wait-for-guests or fence`},
		{"protection: {default: all, vms: [{name: db1}, {name: web1, probe: \"web1.example.com\"}]}", "protection.vms[1].probe"},
		{"protection: {default: all, vms: [{name: db1, probe: \"10.0.0.5:99999\"}]}", "protection.vms[0].probe"},
	} {
		_, err := Parse([]byte(oneHost + c.yaml + "\n"))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error containing %q", c.yaml, err, c.want)
		}
	}
}
