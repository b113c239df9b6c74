package policy

import (
	"fmt"
	"time"
)

// Capacities describes every host of the snapshot for placement: its capacity, its state, and
// what the VMs last seen there use.
func (s *Snapshot) Capacities() []HostCapacity {
	type use struct {
		mem, cpu int
		names    []string
	}
	used := map[string]*use{}
	for _, vm := range s.VMs {
		if vm.Current == "" {
			continue
		}
		u := used[vm.Current]
		if u == nil {
			u = &use{}
			used[vm.Current] = u
		}
		u.mem += vm.MemoryMiB
		u.cpu += vm.VCPUs
		u.names = append(u.names, vm.Name)
	}
	out := make([]HostCapacity, 0, len(s.Hosts))
	for _, h := range s.Hosts {
		c := HostCapacity{Name: h.Name, Role: h.Role, Group: h.Group, State: h.Verdict.State, MemoryMiB: h.MemoryMiB, VCPUs: h.VCPUs}
		if u := used[h.Name]; u != nil {
			c.UsedMemoryMiB, c.UsedVCPUs, c.VMs = u.mem, u.cpu, u.names
		}
		out = append(out, c)
	}
	return out
}

func vmRequest(vm VMView) VMRequest {
	return VMRequest{Name: vm.Name, MemoryMiB: vm.MemoryMiB, VCPUs: vm.VCPUs, Priority: vm.Priority, CurrentHost: vm.Current, HomeHost: vm.Home}
}

// restartPlacement is the placement of restarts: standby hosts first.
func restartPlacement(s Snapshot) PlacementConfig {
	cfg := s.Config.Placement
	cfg.PreferStandby = true
	return cfg
}

// previewRestarts is where a lost host's VMs would restart now (a recovery plan's diff).
func previewRestarts(s Snapshot, host string, vms []VMView) []Move {
	reqs := make([]VMRequest, 0, len(vms))
	for _, vm := range vms {
		reqs = append(reqs, vmRequest(vm))
	}
	var out []Move
	for _, p := range PlanPlacements(restartPlacement(s), s.Capacities(), reqs) {
		out = append(out, Move{VM: p.VM, From: host, To: p.Host, Why: "restart after the fence: " + p.Reason})
	}
	return out
}

// restarts places the protected VMs of hosts that are off (verified fence, or an operator's
// confirmation) on other hosts, highest priority first, standby hosts preferred, within the
// restart concurrency. A VM with no room is reported stuck and stays queued: it is retried on
// every pass, never dropped. A freeze holds restarts back, except those after an operator's
// confirm-off (an operator acted); so does disarming.
func restarts(s Snapshot, fz Freeze, _ time.Time) []Action {
	var out []Action
	var reqs []VMRequest
	from := map[string]VMView{}
	reason := map[string]ActionReason{}
	for _, h := range s.Hosts {
		fr := s.Guards.Fence(h.Name)
		if !fr.Outcome.Off() || h.Libvirt == ProbeOK {
			continue
		}
		vms := protectedOn(s, h.Name)
		if len(vms) == 0 {
			continue
		}
		switch {
		case s.Disarmed:
			out = append(out, hold(h.Name, ReasonDisarmed, fmt.Sprintf("%s is off, but lifeboat is disarmed: its %d VMs are not restarted", h.Name, len(vms))))
			continue
		case fz.Frozen && fr.Outcome != FenceConfirmedOff:
			out = append(out, hold(h.Name, ReasonFrozen, fmt.Sprintf("%s is off, but automatic recovery is frozen: its %d VMs wait (confirm-off by an operator lets them restart)", h.Name, len(vms))))
			continue
		}
		r := ReasonRestartFenced
		if fr.Outcome == FenceConfirmedOff {
			r = ReasonRestartConfirmed
		}
		for _, vm := range vms {
			if s.Restarting[vm.UUID] {
				continue
			}
			reqs = append(reqs, vmRequest(vm))
			from[vm.Name] = vm
			reason[vm.Name] = r
		}
	}
	if len(reqs) == 0 {
		return out
	}
	budget := s.Config.RestartConcurrency - len(s.Restarting)
	for _, p := range PlanPlacements(restartPlacement(s), s.Capacities(), reqs) {
		vm := from[p.VM]
		if p.Host == "" {
			out = append(out, Action{Kind: ActStuck, Host: vm.Current, VM: vm.Name, UUID: vm.UUID, Reason: ReasonNoCapacity,
				Message: fmt.Sprintf("%s cannot restart yet: %s; it stays queued and is retried", vm.Name, p.Reason)})
			continue
		}
		if budget <= 0 {
			continue // waits for a restart in flight to end (recovery.restart_concurrency)
		}
		budget--
		fr := s.Guards.Fence(vm.Current)
		out = append(out, Action{Kind: ActRestart, Host: vm.Current, VM: vm.Name, UUID: vm.UUID, To: p.Host, Reason: reason[vm.Name],
			Message: fmt.Sprintf("%s restarts on %s: %s was %s (%s); %s", vm.Name, p.Host, vm.Current, offWords(fr.Outcome), fr.By, p.Reason)})
	}
	return out
}

func offWords(o FenceOutcome) string {
	if o == FenceConfirmedOff {
		return "confirmed off by an operator"
	}
	return "fenced, power-off verified"
}
