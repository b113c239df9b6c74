package policy

import "time"

// ApprovalMode says whether a plan runs by itself, waits for a person, or is only announced.
type ApprovalMode string

// Approval modes.
const (
	// ApprovalAutomatic plans are approved by lifeboat itself and run at once (and are notified).
	ApprovalAutomatic ApprovalMode = "automatic"
	// ApprovalApprove plans wait for `lifeboat approve` (or expire).
	ApprovalApprove ApprovalMode = "approve"
	// ApprovalNotifyOnly plans are announced and never run by lifeboat.
	ApprovalNotifyOnly ApprovalMode = "notify-only"
)

// PlanKind is what a plan does.
type PlanKind string

// Plan kinds.
const (
	PlanKindEvacuation PlanKind = "evacuation"
	PlanKindFailback   PlanKind = "failback"
	PlanKindSwitchover PlanKind = "switchover"
	PlanKindRecovery   PlanKind = "recovery"
)

// PlanState is where a plan stands: pending → approved → running → done | failed, or
// rejected, expired, notified.
type PlanState string

// Plan states.
const (
	PlanPending  PlanState = "pending"
	PlanApproved PlanState = "approved"
	PlanRejected PlanState = "rejected"
	PlanExpired  PlanState = "expired"
	PlanRunning  PlanState = "running"
	PlanDone     PlanState = "done"
	PlanFailed   PlanState = "failed"
	PlanNotified PlanState = "notified"
)

// Open reports whether a plan in this state still waits for a decision or for its actions to
// end: pending, approved or running.
func (s PlanState) Open() bool {
	switch s {
	case PlanPending, PlanApproved, PlanRunning:
		return true
	case PlanRejected, PlanExpired, PlanDone, PlanFailed, PlanNotified:
	}
	return false
}

// Closed reports the states after which the same situation may get a new plan in time
// (RetryAt): rejected, expired, failed, notified. A done plan is over; the next situation gets
// a plan of its own at once.
func (s PlanState) Closed() bool {
	switch s {
	case PlanRejected, PlanExpired, PlanFailed, PlanNotified:
		return true
	case PlanPending, PlanApproved, PlanRunning, PlanDone:
	}
	return false
}

// RetryAt is when a closed plan's situation may be proposed again: approval.ttl after its
// decision (or creation), and for a failed recovery at least the fence window.
func RetryAt(p Plan, ttl, fenceWindow time.Duration) time.Time {
	at := p.DecidedAt
	if at.IsZero() {
		at = p.Created
	}
	wait := ttl
	if p.State == PlanFailed && p.Kind == PlanKindRecovery {
		wait = max(wait, fenceWindow)
	}
	return at.Add(wait)
}

// Plan is a durable intent: what lifeboat does (or wants to do), why, and where it stands. Every
// recovery is one, in every mode: automatic mode approves its own plans. It is the one plan type
// of the store, the API and the CLI.
type Plan struct {
	ID  string `json:"id"`  // "p-N"
	Seq uint64 `json:"seq"` // order of creation; the store fills in zero
	// Key names the situation: one open plan per key.
	Key  string   `json:"key"`
	Kind PlanKind `json:"kind"`
	// Host is the host the plan is about (the one emptied, refilled or recovered); Group its group.
	Host  string `json:"host"`
	Group string `json:"group,omitempty"`
	// Mode is the approval mode that made the plan: automatic, approve or notify-only.
	Mode  ApprovalMode `json:"mode"`
	State PlanState    `json:"state"`
	// Summary says in one sentence what and why.
	Summary string `json:"summary"`
	Moves   []Move `json:"moves"`
	// Fence names the host a recovery plan fences first (power-off verified) before restarts.
	Fence   string    `json:"fence,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Deadline is when a recovery plan proceeds without approval (zero: never).
	Deadline time.Time `json:"deadline,omitzero"`
	// DecidedBy, DecidedAt and DecisionReason record the approval or rejection ("deadline" or
	// "ttl" when time decided, "lifeboat" for automatic mode).
	DecidedBy      string    `json:"decided_by,omitempty"`
	DecidedAt      time.Time `json:"decided_at,omitzero"`
	DecisionReason string    `json:"decision_reason,omitempty"`
	// Result says how a plan that ran ended.
	Result string `json:"result,omitempty"`
}

// PlanRef is what the reconciler needs of a recovery plan: its host, its state, and when a
// closed plan's situation may be proposed again.
type PlanRef struct {
	ID    string
	Kind  PlanKind
	Host  string
	State PlanState
	// RetryAt is when a rejected, expired or failed plan's situation may get a new plan.
	RetryAt time.Time
}
