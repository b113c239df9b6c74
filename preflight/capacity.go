package preflight

import (
	"fmt"
	"sort"
	"strings"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
)

// checkCapacity: for each host, if it failed now, could its running protected VMs restart on
// the other hosts (standby first), within the placement rules and overcommit? Uses the same
// planner as recovery.
func checkCapacity(cfg config.Config, surveys map[string]*hypervisor.Survey) []Check {
	pc := policy.PlacementConfig{MemoryOvercommit: cfg.Placement.MemoryOvercommit, CPUOvercommit: cfg.Placement.CPUOvercommit, PreferStandby: true}
	for _, r := range cfg.Placement.Rules {
		pc.Rules = append(pc.Rules, policy.AffinityRule{Name: r.Name, VMs: r.VMs, Anti: r.Anti})
	}
	var out []Check
	for _, failed := range cfg.Hosts {
		c := Check{Name: CheckCapacity, Host: failed.Name}
		s := surveys[failed.Name]
		if s == nil {
			c.Detail, c.Hint = "not checked: libvirt does not answer", "fix the libvirt check first"
			out = append(out, c)
			continue
		}
		var hosts []policy.HostCapacity
		var unknown []string
		for _, h := range cfg.Hosts {
			hs := surveys[h.Name]
			if h.Name == failed.Name || hs == nil {
				if hs == nil && h.Name != failed.Name {
					unknown = append(unknown, h.Name)
				}
				continue
			}
			hc := policy.HostCapacity{Name: h.Name, Role: string(h.Role), Group: h.Group, State: policy.Healthy,
				MemoryMiB: int(hs.MemoryKiB / 1024), VCPUs: int(hs.CPUs)}
			for _, d := range hs.Running {
				hc.UsedMemoryMiB += int(d.MemoryKiB / 1024)
				hc.UsedVCPUs += int(d.VCPUs)
				hc.VMs = append(hc.VMs, d.Name)
			}
			hosts = append(hosts, hc)
		}
		var reqs []policy.VMRequest
		mem := 0
		for _, d := range s.Running {
			if on, prio := cfg.Protection.For(d.Name); on {
				reqs = append(reqs, policy.VMRequest{Name: d.Name, MemoryMiB: int(d.MemoryKiB / 1024), VCPUs: int(d.VCPUs), Priority: prio, CurrentHost: failed.Name, HomeHost: failed.Name})
				mem += int(d.MemoryKiB / 1024)
			}
		}
		sort.Slice(reqs, func(i, j int) bool {
			if reqs[i].Priority != reqs[j].Priority {
				return reqs[i].Priority > reqs[j].Priority
			}
			return reqs[i].Name < reqs[j].Name
		})
		var homeless, where []string
		for _, p := range policy.PlanPlacements(pc, hosts, reqs) {
			if p.Host == "" {
				homeless = append(homeless, p.VM+": "+p.Reason)
			} else {
				where = append(where, p.VM+"->"+p.Host)
			}
		}
		note := ""
		if len(unknown) > 0 {
			note = " (not counting " + strings.Join(unknown, ", ") + ", which did not answer)"
		}
		if len(homeless) > 0 {
			c.Detail = fmt.Sprintf("if %s failed, %d of its %d protected VMs would find no room%s: %s", failed.Name, len(homeless), len(reqs), note, strings.Join(homeless, "; "))
			c.Hint = "add a standby host or memory, or raise placement.memory_overcommit; lower-priority VMs wait first"
		} else {
			c.OK = true
			c.Detail = fmt.Sprintf("if %s failed, its %d protected VMs (%d MiB) would restart: %s%s", failed.Name, len(reqs), mem, orNone(strings.Join(where, ", ")), note)
		}
		out = append(out, c)
	}
	return out
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
