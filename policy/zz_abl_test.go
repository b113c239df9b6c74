package policy

import (
	"testing"
	"time"
)

func TestZZAbl(t *testing.T) {
	run := func(name string, f func(*PlacementConfig, []HostCapacity, []VMRequest)) {
		cfg, hosts, vms := benchCluster(10000, 200000)
		f(&cfg, hosts, vms)
		best := time.Hour
		for range 3 {
			st := cpuTime()
			PlanPlacements(cfg, hosts, vms)
			best = min(best, cpuTime()-st)
		}
		t.Logf("%-28s %v", name, best)
	}
	run("full", func(*PlacementConfig, []HostCapacity, []VMRequest) {})
	run("no rules", func(c *PlacementConfig, _ []HostCapacity, _ []VMRequest) { c.Rules = nil })
	run("no groups", func(_ *PlacementConfig, _ []HostCapacity, v []VMRequest) {
		for i := range v {
			v[i].Group = ""
		}
	})
	run("no home", func(_ *PlacementConfig, _ []HostCapacity, v []VMRequest) {
		for i := range v {
			v[i].HomeHost = ""
		}
	})
	run("no rules/groups/home/cur", func(c *PlacementConfig, _ []HostCapacity, v []VMRequest) {
		c.Rules = nil
		for i := range v {
			v[i].HomeHost, v[i].Group, v[i].CurrentHost = "", "", ""
		}
	})
}
