package api

import (
	"context"
	"fmt"
	"net/url"
)

// Plans lists the plans: pending ones first, then recent decided ones, newest first.
func (c *Client) Plans(ctx context.Context) ([]PlanView, error) {
	var ps []PlanView
	err := c.getJSON(ctx, "/v1/plans", nil, &ps)
	return ps, err
}

// Plan returns one plan; an unknown id is an *Error matching ErrNotFound.
func (c *Client) Plan(ctx context.Context, id string) (PlanView, error) {
	var p PlanView
	path, err := planPath(id)
	if err != nil {
		return p, err
	}
	err = c.getJSON(ctx, path, nil, &p)
	return p, err
}

// Approve runs a pending plan and returns it as decided; a plan that is not pending is an *Error
// matching ErrConflict. The daemon records d.By with the caller's address.
func (c *Client) Approve(ctx context.Context, id string, d PlanDecision) (PlanView, error) {
	return c.decide(ctx, id, "approve", d)
}

// Reject drops a pending plan (nothing moves) and returns it as decided; d.Reason is required.
func (c *Client) Reject(ctx context.Context, id string, d PlanDecision) (PlanView, error) {
	return c.decide(ctx, id, "reject", d)
}

// decide posts a decision (approve or reject) on a plan.
func (c *Client) decide(ctx context.Context, id, verb string, d PlanDecision) (PlanView, error) {
	var p PlanView
	path, err := planPath(id)
	if err != nil {
		return p, err
	}
	err = c.post(ctx, path+"/"+verb, nil, d, &p)
	return p, err
}

// planPath is the API path of a plan, refusing ids that cannot name one.
func planPath(id string) (string, error) {
	if id == "" || id == "." || id == ".." {
		return "", fmt.Errorf("plan id %q: %w", id, ErrBadRequest)
	}
	return "/v1/plans/" + url.PathEscape(id), nil
}
