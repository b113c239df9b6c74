package sim

import (
	"errors"
	"fmt"
	"slices"

	"github.com/lifeboat-ha/lifeboat/config"
)

// WithConfig returns the scenario with the hosts, VM protection and settings of a lifeboat
// configuration, so that users check their own configuration against events. The config gives
// each host's role, group and BMC (a host with bmc type none cannot be fenced), each VM's
// protection and priority (protection rules), and the recovery, timing, approval and placement
// settings. The scenario still gives what the config does not know: each host's memory and
// vCPUs (cluster.hosts, one entry per host of the config) and the VMs with their sizes and
// hosts.
func WithConfig(sc Scenario, cfg config.Config) (Scenario, error) {
	var errs []error
	byName := map[string]Host{}
	for i, h := range sc.Cluster.Hosts {
		if !slices.ContainsFunc(cfg.Hosts, func(c config.Host) bool { return c.Name == h.Name }) {
			errs = append(errs, fmt.Errorf("cluster.hosts[%d].name: %q is not a host of the config", i, h.Name))
		}
		byName[h.Name] = h
	}
	var hosts []Host
	for i, ch := range cfg.Hosts {
		h, ok := byName[ch.Name]
		if !ok {
			errs = append(errs, fmt.Errorf("cluster.hosts: host %q (hosts[%d] of the config) is missing: give its memory_mib and vcpus", ch.Name, i))
			continue
		}
		h.Role, h.Group, h.BMC = string(ch.Role), ch.Group, ch.BMC.Type != config.BMCNone && ch.BMC.Type != ""
		if h.Role == "" {
			h.Role = string(config.RoleActive)
		}
		hosts = append(hosts, h)
	}
	if err := errors.Join(errs...); err != nil {
		return Scenario{}, err
	}
	out := sc
	out.Cluster.Hosts = hosts
	out.Cluster.VMs = slices.Clone(sc.Cluster.VMs)
	for i := range out.Cluster.VMs {
		vm := &out.Cluster.VMs[i]
		vm.Protected, vm.Priority = cfg.Protection.For(vm.Name)
	}
	st := &out.Settings
	rc := cfg.Recovery
	st.Recovery.Automatic, st.Recovery.MassFailureFraction, st.Recovery.MassFailureWindow = rc.Automatic, rc.MassFailureFraction, rc.MassFailureWindow.D()
	st.Recovery.FenceWindow, st.Recovery.FenceTimeout, st.Recovery.RestartConcurrency = rc.FenceWindow.D(), rc.FenceTimeout.D(), rc.RestartConcurrency
	gm := rc.GuestMonitoring
	st.Recovery.GuestMonitoring = GuestMonitoringSettings{Enabled: gm.Enabled, MaxResets: gm.MaxResets, ResetWindow: gm.ResetWindow.D()}
	tm := cfg.Timings
	st.Timings.ProbeInterval, st.Timings.SuspectAfter = tm.ProbeInterval.D(), tm.SuspectAfter.D()
	st.Timings.UnreachableAfter, st.Timings.StableFor = tm.UnreachableAfter.D(), tm.StableFor.D()
	ap := cfg.Approval
	st.Approval.Recovery = string(ap.ModeFor("recovery", ""))
	st.Approval.Groups = map[string]string{}
	for _, h := range hosts {
		if h.Group != "" {
			st.Approval.Groups[h.Group] = string(ap.ModeFor("recovery", h.Group))
		}
	}
	st.Approval.TTL, st.Approval.RecoveryDeadline = ap.TTL.D(), ap.RecoveryDeadline.D()
	pc := cfg.Placement
	st.Placement = PlacementSettings{MemoryOvercommit: pc.MemoryOvercommit, CPUOvercommit: pc.CPUOvercommit}
	for _, r := range pc.Rules {
		st.Placement.Rules = append(st.Placement.Rules, Rule{Name: r.Name, VMs: r.VMs, Anti: r.Anti})
	}
	return out, nil
}
