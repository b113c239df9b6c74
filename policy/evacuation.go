package policy

import (
	"fmt"
	"sort"
)

// Evacuation is the emptying of one host by live migration: an operator's drain (maintenance)
// or the evacuation of a degraded host, before it fails.
type Evacuation struct {
	Host string
	// Drain is set for an operator's drain; otherwise the host is degraded and Why says why.
	Drain bool
	Why   string
	// Moves are the live migrations to submit now (ActMigrate), highest priority first; Stays
	// the VMs that cannot move and stay where they are (ActHold: no_placement, not_migratable).
	Moves []Action
	Stays []Action
	// Left counts the VMs still on the host that should leave it (moving, or waiting for room).
	Left int
}

// MayEmpty reports whether a host is one Evacuations may empty: draining, or degraded (the
// latter only while recovery is automatic, armed and not frozen).
func MayEmpty(h HostView) bool { return h.Draining || h.Verdict.State == Degraded }

// Evacuations decides which hosts are emptied by live migration and how: every host in
// maintenance, and every degraded host while recovery is automatic, armed and not frozen. Its
// running VMs go where placement puts them (active hosts first, keeping standby hosts free for
// restarts); a VM already migrating is left alone. An evacuation is never a cold restart: a VM
// with no room, or that does not run (paused on an I/O error, say), stays, and the reason is
// given.
func Evacuations(s Snapshot) []Evacuation {
	var out []Evacuation
	auto := s.Config.Automatic && !s.Guards.Freeze.Frozen && !s.Disarmed
	for _, h := range s.Hosts {
		if !MayEmpty(h) || (!h.Draining && !auto) {
			continue
		}
		ev := Evacuation{Host: h.Name, Drain: h.Draining}
		if !h.Draining {
			ev.Why = h.Verdict.Message
		}
		ev.Moves, ev.Stays, ev.Left = evacuationMoves(s, h.Name, !h.Draining)
		out = append(out, ev)
	}
	return out
}

// EvacuationPlan places every running VM of a host elsewhere, as if the host were in
// maintenance (a drain's plan, also for a dry run).
func EvacuationPlan(s Snapshot, host string) []Placement {
	var reqs []VMRequest
	for _, vm := range s.VMs {
		if vm.Current == host && vm.State == "running" {
			reqs = append(reqs, vmRequest(vm))
		}
	}
	// Highest priority first: the order the migrations are submitted in.
	sort.Slice(reqs, func(i, j int) bool {
		if reqs[i].Priority != reqs[j].Priority {
			return reqs[i].Priority > reqs[j].Priority
		}
		return reqs[i].Name < reqs[j].Name
	})
	hosts := s.Capacities()
	for i := range hosts {
		if hosts[i].Name == host {
			hosts[i].State = Maintenance
		}
	}
	return PlanPlacements(s.Config.Placement, hosts, reqs)
}

func evacuationMoves(s Snapshot, host string, degraded bool) (moves, stays []Action, left int) {
	byName := map[string]VMView{}
	for _, vm := range s.VMs {
		if vm.Current == host {
			byName[vm.Name] = vm
		}
	}
	reason, what := ReasonDrain, "drain of "+host
	if degraded {
		reason, what = ReasonEvacuate, "evacuation of degraded "+host
	}
	for _, p := range EvacuationPlan(s, host) {
		vm := byName[p.VM]
		left++
		if s.Migrating[vm.UUID] {
			continue
		}
		if p.Host == "" {
			stays = append(stays, Action{Kind: ActHold, Host: host, VM: vm.Name, UUID: vm.UUID, Reason: ReasonNoPlacement,
				Message: fmt.Sprintf("%s: %s cannot move and stays: %s", what, vm.Name, p.Reason)})
			continue
		}
		moves = append(moves, Action{Kind: ActMigrate, Host: host, VM: vm.Name, UUID: vm.UUID, To: p.Host, Reason: reason,
			Message: what + ": " + p.Reason})
	}
	if degraded {
		names := make([]string, 0, len(byName))
		for n := range byName {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			if vm := byName[n]; vm.State != "running" {
				stays = append(stays, Action{Kind: ActHold, Host: host, VM: vm.Name, UUID: vm.UUID, Reason: ReasonNotMigratable,
					Message: fmt.Sprintf("%s: %s is %s, not running: it cannot be live-migrated and stays (never a cold restart)", what, vm.Name, orNone(vm.State))})
			}
		}
	}
	return moves, stays, left
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
