package policy

import "time"

// PlanNeeded reports whether the situation a plan is about still holds: its host still
// degraded (an evacuation), still lost and not off (a recovery; always during a freeze), or
// healthy (a failback). A switchover, or a plan about a host no longer configured, holds
// while its host is known.
func PlanNeeded(s Snapshot, kind PlanKind, host string) bool {
	h, ok := s.Host(host)
	if !ok {
		return false
	}
	switch kind {
	case PlanKindEvacuation:
		return h.Verdict.State == Degraded
	case PlanKindRecovery:
		if s.Guards.Freeze.Frozen {
			return true
		}
		st := h.Verdict.State
		return !s.Guards.Fence(host).Outcome.Off() && (st == Failed || st == Unreachable || st == Suspect)
	case PlanKindFailback:
		return h.Verdict.State == Healthy
	case PlanKindSwitchover:
	}
	return true
}

// PlanChange is what time, or a situation that passed, does to a plan.
type PlanChange struct {
	State PlanState
	// By and Why are recorded as the plan's decider and decision reason.
	By, Why string
	// Proceeds is set when a recovery runs without approval (its deadline passed).
	Proceeds bool
}

// PendingPlanChange decides what happens to a plan waiting for a person: a recovery whose
// deadline passed proceeds without approval; a plan past its TTL expires; a plan whose
// situation passed (needed is false) expires too. Nothing happens otherwise.
func PendingPlanChange(p Plan, needed bool, now time.Time) (PlanChange, bool) {
	if p.State != PlanPending {
		return PlanChange{}, false
	}
	switch {
	case !p.Deadline.IsZero() && !now.Before(p.Deadline):
		return PlanChange{State: PlanApproved, By: "deadline", Why: "no decision by the approval.recovery_deadline", Proceeds: true}, true
	case !now.Before(p.Expires):
		return PlanChange{State: PlanExpired, By: "ttl", Why: "no decision within approval.ttl"}, true
	case !needed:
		return PlanChange{State: PlanExpired, By: "lifeboat", Why: "no longer needed"}, true
	}
	return PlanChange{}, false
}

// RunningPlanEnds reports whether a running evacuation or failback ends because its situation
// passed (its host is no longer degraded, or no longer healthy).
func RunningPlanEnds(p Plan, needed bool) bool {
	return p.State == PlanRunning && (p.Kind == PlanKindEvacuation || p.Kind == PlanKindFailback) && !needed
}
