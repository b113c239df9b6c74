package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateDegradation(t *testing.T) {
	base := func() Config {
		c := Default()
		c.Hosts = []Host{{Name: "h1", URI: "qemu+tcp://h1/system", Role: RoleActive, Group: "rack1"}}
		return c
	}
	if err := func() error { c := base(); return c.Validate() }(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		field string
		edit  func(*Config)
	}{
		{"health.degrade_score", func(c *Config) { c.Health.DegradeScore = 0 }},
		{"health.clear_score", func(c *Config) { c.Health.ClearScore = 500 }},
		{"health.rpc_latency", func(c *Config) { c.Health.RPCLatency = Duration(2 * time.Second) }},
		{"health.memory_available", func(c *Config) { c.Health.MemoryAvailable = 1.5 }},
		{"failback.wave_size", func(c *Config) { c.Failback.WaveSize = 0 }},
		{"approval.mode", func(c *Config) { c.Approval.Mode = "sometimes" }},
		{"approval.kinds.reboot", func(c *Config) { c.Approval.Kinds = map[string]ApprovalMode{"reboot": ApprovalApprove} }},
		{"approval.kinds.failback", func(c *Config) { c.Approval.Kinds = map[string]ApprovalMode{"failback": "maybe"} }},
		{"approval.groups.rack7", func(c *Config) { c.Approval.Groups = map[string]ApprovalMode{"rack7": ApprovalApprove} }},
		{"approval.ttl", func(c *Config) { c.Approval.TTL = 0 }},
		{"alerts.alertmanager.hosts.node9", func(c *Config) { c.Alerts.Alertmanager.Hosts = map[string]string{"node9": "h9"} }},
	} {
		c := base()
		tc.edit(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("%s: got %v", tc.field, err)
		}
	}
	a := Approval{Mode: ApprovalAutomatic, Kinds: map[string]ApprovalMode{"recovery": ApprovalApprove},
		Groups: map[string]ApprovalMode{"rack1": ApprovalNotifyOnly}}
	for _, c := range []struct {
		kind, group string
		want        ApprovalMode
	}{
		{"evacuation", "", ApprovalAutomatic},
		{"recovery", "", ApprovalApprove},
		{"recovery", "rack1", ApprovalNotifyOnly},
		{"failback", "rack2", ApprovalAutomatic},
	} {
		if got := a.ModeFor(c.kind, c.group); got != c.want {
			t.Errorf("ModeFor(%s, %s) = %s, want %s", c.kind, c.group, got, c.want)
		}
	}
}
