package policy

import (
	"fmt"
	"time"
)

// clearFences forgets the fence of every host that answers again: it was powered back on, so
// its fence is history (the fence window still counts from the attempt).
func clearFences(s Snapshot) []Action {
	var out []Action
	for _, h := range s.Hosts {
		fr := s.Guards.Fence(h.Name)
		if h.Libvirt != ProbeOK || fr.Outcome == FenceNone || s.Fencing[h.Name] {
			continue
		}
		out = append(out, Action{Kind: ActClearFence, Host: h.Name, Reason: ReasonHostBack,
			Message: fmt.Sprintf("%s answers again: its %s fence is history", h.Name, fr.Outcome)})
	}
	return out
}

// protectedOn lists the protected, restartable VMs last seen on each host that want picks, in
// the snapshot's order: one walk of the VMs for all of them (a fleet has 100,000).
func protectedOn(s Snapshot, want func(HostView) bool) map[string][]VMView {
	hosts := map[string]bool{}
	for _, h := range s.Hosts {
		if want(h) {
			hosts[h.Name] = true
		}
	}
	out := make(map[string][]VMView, len(hosts))
	if len(hosts) == 0 {
		return out
	}
	for _, vm := range s.VMs {
		if vm.Protected && vm.Restartable && hosts[vm.Current] {
			out[vm.Current] = append(out[vm.Current], vm)
		}
	}
	return out
}

// fenceable reports a host that fences considers fencing: failed or unreachable, with no fence
// that holds and none running.
func fenceable(s Snapshot, h HostView) bool {
	if st := h.Verdict.State; st != Failed && st != Unreachable {
		return false
	}
	return !s.Guards.Fence(h.Name).Outcome.Off() && !s.Fencing[h.Name]
}

// fences decides, for every lost host, whether to fence it now, and says why not otherwise.
// A host is fenced when it is failed or unreachable (never partitioned: its guests answer),
// still holds protected VMs, and every guard allows it: the controller has heard from every
// host, recovery is automatic and armed, nothing is frozen, the host was not fenced within the
// fence window, and its recovery plan (approval mode) is approved.
func fences(s Snapshot, fz Freeze, now time.Time) []Action {
	var out []Action
	full := s.fullPicture()
	on := protectedOn(s, func(h HostView) bool { return fenceable(s, h) })
	for _, h := range s.Hosts {
		st := h.Verdict.State
		if st == Partitioned {
			out = append(out, hold(h.Name, ReasonPartitionedAlive, fmt.Sprintf("%s is not fenced: %s", h.Name, h.Verdict.Message)))
			continue
		}
		if !fenceable(s, h) {
			continue
		}
		fr := s.Guards.Fence(h.Name)
		vms := on[h.Name]
		if len(vms) == 0 {
			out = append(out, hold(h.Name, ReasonNothingToRecover, fmt.Sprintf("%s is %s but holds no protected VM: it is not fenced", h.Name, st)))
			continue
		}
		why := fmt.Sprintf("%s is %s: %s", h.Name, st, h.Verdict.Message)
		switch {
		case !full:
			out = append(out, hold(h.Name, ReasonStartup, why+"; not fenced until every host and BMC has been heard from"))
			continue
		case s.Disarmed:
			out = append(out, hold(h.Name, ReasonDisarmed, why+"; lifeboat is disarmed: no automatic action"))
			continue
		case !s.Config.Automatic:
			out = append(out, hold(h.Name, ReasonManual, why+"; recovery.automatic is off: fence it yourself, then run 'lifeboat host confirm-off "+h.Name+"'"))
			continue
		case fz.Frozen:
			out = append(out, hold(h.Name, ReasonFrozen, why+"; automatic recovery is frozen: "+fz.Message))
			continue
		}
		if fr.Outcome == FenceInFlight {
			// Started by a controller that stopped before the outcome: the same job, finished now.
			out = append(out, Action{Kind: ActFence, Host: h.Name, Reason: ReasonFenceResumed,
				Message: fmt.Sprintf("%s; the fence started at %s was interrupted: it runs again", why, fr.Attempted.Format(time.RFC3339))})
			continue
		}
		if !fr.Attempted.IsZero() && now.Sub(fr.Attempted) < s.Config.FenceWindow {
			reason, msg := ReasonFenceWindow, fmt.Sprintf("%s; it was fenced %s ago and recovery.fence_window is %s: no second fence", why, now.Sub(fr.Attempted).Round(time.Second), s.Config.FenceWindow)
			if fr.Outcome == FenceFailed {
				reason = ReasonFenceFailedHold
				msg = fmt.Sprintf("%s; its fence failed %s ago (%s): its VMs stay down until the fence window ends or an operator runs 'lifeboat host confirm-off %s'", why, now.Sub(fr.Attempted).Round(time.Second), fr.Detail, h.Name)
			}
			out = append(out, hold(h.Name, reason, msg))
			continue
		}
		out = append(out, approved(s, h, vms, why, now)...)
	}
	return out
}

// approved gives the fence of a lost host under its approval mode: at once when automatic, once
// its plan is approved otherwise (a new plan is proposed when there is none).
func approved(s Snapshot, h HostView, vms []VMView, why string, now time.Time) []Action {
	fence := Action{Kind: ActFence, Host: h.Name, Reason: ReasonHostLost, Message: "fencing " + why}
	if h.RecoveryMode == ApprovalAutomatic || h.RecoveryMode == "" {
		return []Action{fence}
	}
	var p *PlanRef
	for i := range s.Plans {
		if s.Plans[i].Kind == PlanKindRecovery && s.Plans[i].Host == h.Name {
			p = &s.Plans[i]
		}
	}
	switch {
	case p != nil && (p.State == PlanApproved || p.State == PlanRunning):
		return []Action{fence}
	case p != nil && p.State == PlanPending:
		return []Action{hold(h.Name, ReasonAwaitingApproval, fmt.Sprintf("%s; plan %s waits for approval", why, p.ID))}
	case p != nil && p.State == PlanNotified && now.Before(p.RetryAt):
		return []Action{hold(h.Name, ReasonNotifyOnly, fmt.Sprintf("%s; plan %s was announced (approval mode notify-only): lifeboat does not act on it", why, p.ID))}
	case p != nil && (p.State == PlanRejected || p.State == PlanExpired || p.State == PlanFailed) && now.Before(p.RetryAt):
		return []Action{hold(h.Name, ReasonPlanRejected, fmt.Sprintf("%s; plan %s was %s: nothing is done before %s", why, p.ID, p.State, p.RetryAt.Format(time.RFC3339)))}
	}
	return []Action{{Kind: ActProposePlan, Host: h.Name, Reason: ReasonNeedsApproval, Moves: previewRestarts(s, h.Name, vms),
		Message: fmt.Sprintf("recovery of %s (%s): fence it, then restart its %d protected VMs elsewhere", h.Name, why, len(vms))}}
}

func hold(host string, r ActionReason, msg string) Action {
	return Action{Kind: ActHold, Host: host, Reason: r, Message: msg}
}
