package sim

import (
	"fmt"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// gate mirrors the daemon's gate for recovery plans: every fence runs under a plan. In
// automatic mode lifeboat approves its own plan (not logged: it runs at once); otherwise a
// plan is proposed (pending, or notified in notify-only mode) and the fence runs once it is
// approved. A closed plan's situation gets a new plan after its retry time.
func (r *run) gate(snap policy.Snapshot, a policy.Action, now time.Time) bool {
	c := r.c
	h, _ := snap.Host(a.Host)
	key := fmt.Sprintf("recovery/%s/%d", a.Host, h.BadSince.UnixNano())
	mode := c.recoveryMode(h.Group)
	p := c.planByKey(key)
	if p == nil {
		if p = c.openPlan(a.Host); p != nil {
			p.Key = key
		}
	}
	if mode == policy.ApprovalAutomatic {
		if p != nil && p.State.Open() {
			return true
		}
		r.newPlan(a, key, mode, now)
		return true
	}
	if p == nil || (p.State.Closed() && !now.Before(c.retryAt(p))) {
		r.newPlan(a, key, mode, now)
		return false
	}
	if p.State != policy.PlanApproved {
		return p.State == policy.PlanRunning
	}
	p.State = policy.PlanRunning
	r.logf(now, "plan %s running", p.ID)
	return true
}

func (r *run) newPlan(a policy.Action, key string, mode policy.ApprovalMode, now time.Time) {
	c := r.c
	c.nextPlan++
	ttl := c.set.Approval.TTL
	p := &policy.Plan{ID: fmt.Sprintf("p-%d", c.nextPlan), Seq: uint64(c.nextPlan), Key: key, Kind: policy.PlanKindRecovery,
		Host: a.Host, Mode: mode, State: policy.PlanPending, Fence: a.Host, Created: now, Expires: now.Add(ttl), Moves: a.Moves}
	if d := c.set.Approval.RecoveryDeadline; d > 0 {
		p.Deadline = now.Add(d)
		if p.Expires.Before(p.Deadline) {
			p.Expires = p.Deadline
		}
	}
	switch mode {
	case policy.ApprovalAutomatic:
		p.State, p.DecidedBy, p.DecidedAt, p.Expires, p.Deadline = policy.PlanRunning, "lifeboat", now, time.Time{}, time.Time{}
	case policy.ApprovalNotifyOnly:
		p.State, p.Expires = policy.PlanNotified, now
	case policy.ApprovalApprove:
	}
	c.plans = append(c.plans, p)
	if mode != policy.ApprovalAutomatic {
		r.logf(now, "%s: plan %s %s%s", a, p.ID, p.State, movesText(p.Moves))
	}
}

func movesText(ms []policy.Move) string {
	if len(ms) == 0 {
		return ""
	}
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		to := m.To
		if to == "" {
			to = "nowhere"
		}
		parts = append(parts, m.VM+" "+m.From+"->"+to)
	}
	return ", moves " + strings.Join(parts, ", ")
}

// planByKey is the newest plan made for the situation (the daemon's byKey index).
func (c *controller) planByKey(key string) *policy.Plan {
	for i := len(c.plans) - 1; i >= 0; i-- {
		if c.plans[i].Key == key {
			return c.plans[i]
		}
	}
	return nil
}

// openPlan is the host's pending, approved or running recovery plan.
func (c *controller) openPlan(host string) *policy.Plan {
	for _, p := range c.plans {
		if p.Host == host && p.State.Open() {
			return p
		}
	}
	return nil
}

// retryAt is when a closed plan's situation may be proposed again (policy.RetryAt, as the
// daemon).
func (c *controller) retryAt(p *policy.Plan) time.Time {
	return policy.RetryAt(*p, c.set.Approval.TTL, c.rc.FenceWindow)
}

// finishPlan ends the host's running recovery plan.
func (r *run) finishPlan(host string, state policy.PlanState, now time.Time) {
	for _, p := range r.c.plans {
		if p.Host == host && p.State == policy.PlanRunning {
			p.State = state
			if p.Mode != policy.ApprovalAutomatic {
				r.logf(now, "plan %s %s", p.ID, state)
			}
		}
	}
}

// plansOnce mirrors the daemon's plan loop, with the same policy functions: a pending recovery
// past its deadline proceeds, one past its TTL expires, one whose host is no longer lost is
// dropped.
func (r *run) plansOnce(now time.Time) {
	c := r.c
	snap := c.snapshot()
	for _, p := range c.plans {
		pc, ok := policy.PendingPlanChange(*p, policy.PlanNeeded(snap, p.Kind, p.Host), now)
		if !ok {
			continue
		}
		p.State, p.DecidedBy, p.DecidedAt = pc.State, pc.By, now
		switch {
		case pc.Proceeds:
			r.logf(now, "plan %s approved by the recovery deadline", p.ID)
		case pc.By == "ttl":
			r.logf(now, "plan %s expired: no decision within the TTL", p.ID)
		default:
			r.logf(now, "plan %s expired: %s is %s now", p.ID, p.Host, c.byName[p.Host].verdict.State)
		}
	}
}
