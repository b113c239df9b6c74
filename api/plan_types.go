package api

import (
	"context"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// PlanMove is one VM's move in a plan: from where, to where, and why there.
type PlanMove = policy.Move

// PlanView is a plan (policy.Plan): what lifeboat does or wants to do, and where it stands.
type PlanView = policy.Plan

// PlanDecision is an approval or rejection: who decides, and why.
type PlanDecision struct {
	// By is what the caller says its name is. The server records the identity of the
	// credential instead; By counts only when the API has no authentication, marked as
	// unverified. In answers, PlanView.DecidedBy says who was recorded.
	By string `json:"by,omitempty"`
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
