package api

import (
	"context"
	"time"
)

// PlanMove is one VM's move in a plan: from where, to where, and why there.
type PlanMove struct {
	VM   string `json:"vm"`
	From string `json:"from"`
	To   string `json:"to"`
	Why  string `json:"why"`
}

// PlanView is a plan: what lifeboat wants to do, waiting for (or past) a decision.
type PlanView struct {
	ID string `json:"id"`
	// Kind is evacuation, failback, switchover or recovery.
	Kind string `json:"kind"`
	// Host is the host the plan is about (the one emptied, refilled or recovered); Group its group.
	Host  string `json:"host"`
	Group string `json:"group,omitempty"`
	// Mode is the approval mode that made this a plan: approve or notify-only.
	Mode string `json:"mode"`
	// State is pending, approved, rejected, expired, running, done, failed or notified.
	State string `json:"state"`
	// Summary says in one sentence what and why.
	Summary string     `json:"summary"`
	Moves   []PlanMove `json:"moves"`
	// Fence names the host a recovery plan fences first (power-off verified) before restarts.
	Fence   string    `json:"fence,omitempty"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	// Deadline is when a recovery plan proceeds without approval (zero: never).
	Deadline time.Time `json:"deadline,omitempty"`
	// DecidedBy, DecidedAt and DecisionReason record the approval or rejection ("deadline" or
	// "ttl" when time decided).
	DecidedBy      string    `json:"decided_by,omitempty"`
	DecidedAt      time.Time `json:"decided_at,omitempty"`
	DecisionReason string    `json:"decision_reason,omitempty"`
	// Result says how a plan that ran ended.
	Result string `json:"result,omitempty"`
}

// PlanDecision is an approval or rejection: who decides, and why.
type PlanDecision struct {
	// By names the person deciding (the CLI sends --by, default the login user and host).
	By string `json:"by"`
	// Reason is required to reject.
	Reason string `json:"reason,omitempty"`
}

// Planner is implemented by a backend with the approval mode: GET /v1/plans, GET /v1/plans/{id},
// POST /v1/plans/{id}/approve and POST /v1/plans/{id}/reject.
type Planner interface {
	// Plans lists pending plans first, then recent decided ones, newest first.
	Plans(ctx context.Context) ([]PlanView, error)
	// Plan returns one plan; an unknown id wraps ErrNotFound.
	Plan(ctx context.Context, id string) (PlanView, error)
	// Approve runs a pending plan. A plan that is not pending wraps ErrConflict.
	Approve(ctx context.Context, id string, d PlanDecision) (PlanView, error)
	// Reject drops a pending plan: nothing moves. A missing reason wraps ErrBadRequest.
	Reject(ctx context.Context, id string, d PlanDecision) (PlanView, error)
}
