package policy

import (
	"fmt"
	"sort"
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
		at := vm.Current
		if r, ok := s.Guards.Restarts[vm.UUID]; ok && s.Restarting[vm.UUID] && r.To != "" {
			at = r.To // a restart under way takes its room on its target already
		}
		if at == "" {
			continue
		}
		u := used[at]
		if u == nil {
			u = &use{}
			used[at] = u
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

// off reports a host whose fence (verified, or confirmed by an operator) holds: it is off and
// does not answer.
func off(s Snapshot, h HostView) bool {
	return s.Guards.Fence(h.Name).Outcome.Off() && h.Libvirt != ProbeOK
}

// pending reports a restart record that still waits to be carried out.
func pending(r RestartRecord) bool {
	return r.Stage == RestartQueued || r.Stage == RestartStuck || r.Stage == RestartRestarting
}

// restartCandidate is a VM to restart and the host it is recovered from.
type restartCandidate struct {
	vm     VMView
	from   string
	reason ActionReason
}

// candidates lists the protected VMs to restart now: those last seen on a host that is off,
// and those whose restart is queued and that run nowhere any more (their host came back without
// them: a host that answers and does not run a VM proves it is not there). It also reports the
// hosts held back by a freeze or disarming.
func candidates(s Snapshot, fz Freeze) (out []restartCandidate, holds []Action) {
	full := s.fullPicture()
	held := map[string]bool{}
	on := protectedOn(s, func(h HostView) bool { return off(s, h) })
	for _, h := range s.Hosts {
		if !off(s, h) {
			continue
		}
		vms := on[h.Name]
		if len(vms) == 0 {
			continue
		}
		fr := s.Guards.Fence(h.Name)
		switch {
		case s.Disarmed:
			held[h.Name] = true
			holds = append(holds, hold(h.Name, ReasonDisarmed, fmt.Sprintf("%s is off, but lifeboat is disarmed: its %d VMs are not restarted", h.Name, len(vms))))
			continue
		case fz.Frozen && fr.Outcome != FenceConfirmedOff:
			held[h.Name] = true
			holds = append(holds, hold(h.Name, ReasonFrozen, fmt.Sprintf("%s is off, but automatic recovery is frozen: its %d VMs wait (confirm-off by an operator lets them restart)", h.Name, len(vms))))
			continue
		}
		r := ReasonRestartFenced
		if fr.Outcome == FenceConfirmedOff {
			r = ReasonRestartConfirmed
		}
		for _, vm := range vms {
			out = append(out, restartCandidate{vm, h.Name, r})
		}
	}
	if !full || s.Disarmed || fz.Frozen {
		return out, holds
	}
	for _, vm := range s.VMs {
		rec, ok := s.Guards.Restarts[vm.UUID]
		if vm.Current != "" || !vm.Protected || !vm.Restartable || !ok || !pending(rec) {
			continue
		}
		out = append(out, restartCandidate{vm, rec.From, ReasonRestartNotRunning})
	}
	return out, holds
}

// restarts places the protected VMs to restart (see candidates) on other hosts, highest
// priority first, standby hosts preferred, within the restart concurrency. A VM with no room is
// reported stuck and stays queued: it is retried on every pass, never dropped. A freeze holds
// restarts back, except those after an operator's confirm-off (an operator acted); so does
// disarming.
func restarts(s Snapshot, fz Freeze, _ time.Time) []Action {
	cands, out := candidates(s, fz)
	var reqs []VMRequest
	byName := map[string]restartCandidate{}
	for _, c := range cands {
		if s.Restarting[c.vm.UUID] {
			continue
		}
		reqs = append(reqs, vmRequest(c.vm))
		byName[c.vm.Name] = c
	}
	if len(reqs) == 0 {
		return out
	}
	budget := s.Config.RestartConcurrency - len(s.Restarting)
	for _, p := range PlanPlacements(restartPlacement(s), s.Capacities(), reqs) {
		c := byName[p.VM]
		if p.Host == "" {
			out = append(out, Action{Kind: ActStuck, Host: c.from, VM: c.vm.Name, UUID: c.vm.UUID, Reason: ReasonNoPlacement,
				Message: fmt.Sprintf("%s cannot restart yet: %s; it stays queued and is retried", c.vm.Name, p.Reason)})
			continue
		}
		if budget <= 0 {
			continue // waits for a restart in flight to end (recovery.restart_concurrency)
		}
		budget--
		why := fmt.Sprintf("%s was %s", c.from, offWords(s.Guards.Fence(c.from)))
		if c.reason == ReasonRestartNotRunning {
			why = fmt.Sprintf("its restart was queued when %s was lost, and it runs nowhere now", c.from)
		}
		out = append(out, Action{Kind: ActRestart, Host: c.from, VM: c.vm.Name, UUID: c.vm.UUID, To: p.Host, Reason: c.reason,
			Message: fmt.Sprintf("%s restarts on %s: %s; %s", c.vm.Name, p.Host, why, p.Reason)})
	}
	return out
}

// queue keeps the restart queue: every protected VM of a host that is lost (failed,
// unreachable or fenced and not back) gets a queued record, so its need to restart survives
// anything that happens next (a freeze, a controller restart, its host coming back without it).
// Records that no longer matter are forgotten: the VM runs on a host that answers, it is no
// longer protected, or its restart finished a day ago.
func queue(s Snapshot, now time.Time) []Action {
	var out []Action
	state := map[string]HostView{}
	for _, h := range s.Hosts {
		state[h.Name] = h
	}
	seen := make(map[string]bool, len(s.Guards.Restarts)) // the VMs with a record that have a VM
	for _, vm := range s.VMs {
		rec, has := s.Guards.Restarts[vm.UUID]
		if has {
			seen[vm.UUID] = true
		}
		h, onHost := state[vm.Current]
		if vm.Protected && vm.Restartable && onHost && lost(h) && !(has && pending(rec)) {
			out = append(out, Action{Kind: ActQueue, Host: vm.Current, VM: vm.Name, UUID: vm.UUID, Reason: ReasonQueued,
				Message: fmt.Sprintf("%s is queued for a restart: %s is %s", vm.Name, vm.Current, h.Verdict.State)})
			continue
		}
		if !has || s.Restarting[vm.UUID] {
			continue
		}
		switch {
		case !vm.Protected || !vm.Restartable:
			out = append(out, forget(vm.Name, vm.UUID, rec.From, ReasonNotProtected, vm.Name+" is no longer protected: its restart record is dropped"))
		case rec.Stage == RestartRestarting && vm.Current == rec.To && onHost && h.Libvirt == ProbeOK:
			// Not restarting here (s.Restarting): a controller that stopped started it.
			out = append(out, Action{Kind: ActForget, Host: rec.From, VM: vm.Name, UUID: vm.UUID, To: rec.To, Reason: ReasonRestartTookEffect,
				Message: fmt.Sprintf("%s runs on %s: the restart started at %s (%s was %s) took effect, but the controller that ran it stopped before recording it",
					vm.Name, rec.To, rec.Since.UTC().Format(time.RFC3339), rec.From, offWords(s.Guards.Fence(rec.From)))})
		case pending(rec) && onHost && h.Libvirt == ProbeOK:
			out = append(out, forget(vm.Name, vm.UUID, rec.From, ReasonRunsAgain, fmt.Sprintf("%s runs on %s: its restart is no longer needed", vm.Name, vm.Current)))
		case !pending(rec) && now.Sub(rec.Since) > 24*time.Hour:
			out = append(out, forget(vm.Name, vm.UUID, rec.From, ReasonFinished, vm.Name+"'s restart finished a day ago"))
		}
	}
	for uuid, rec := range s.Guards.Restarts {
		if !seen[uuid] && !s.Restarting[uuid] {
			out = append(out, forget(rec.VM, uuid, rec.From, ReasonNotProtected, rec.VM+" has no VM record any more"))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].VM < out[j].VM })
	return out
}

func forget(vm, uuid, from string, r ActionReason, msg string) Action {
	return Action{Kind: ActForget, Host: from, VM: vm, UUID: uuid, Reason: r, Message: msg}
}

func offWords(fr FenceRecord) string {
	if fr.Outcome == FenceConfirmedOff {
		return "confirmed off by an operator"
	}
	return "fenced (power-off verified by " + fr.By + ")"
}
