package daemon

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// plansKept is how many decided plans the store keeps.
const plansKept = 200

// planSpec is an action that may need a person's approval.
type planSpec struct {
	Kind        policy.PlanKind
	Host, Group string
	// Key names the situation: one plan per key (e.g. an evacuation per spell of degradation).
	Key     string
	Summary string
	Fence   string
	Moves   []policy.Move
}

// planBook holds the plans in memory, guarded by d.mu; the store has them too.
type planBook struct {
	byID  map[string]*store.Plan
	byKey map[string]*store.Plan
}

// loadPlans restores the plans from the store.
func (d *Daemon) loadPlans(ctx context.Context) error {
	d.plans = planBook{byID: map[string]*store.Plan{}, byKey: map[string]*store.Plan{}}
	ps, err := d.db.ListPlans(ctx)
	if err != nil {
		return fmt.Errorf("daemon: load plans: %w", err)
	}
	for i := range ps {
		p := ps[i]
		d.plans.byID[p.ID] = &p
		d.plans.byKey[p.Key] = &p
	}
	return nil
}

// gate tells whether an action may run now; every action runs as part of a plan, written
// before it runs. In automatic mode lifeboat approves the plan itself, and the action runs once
// the plan is stored. Otherwise the action becomes a plan: pending (approve) or notified
// (notify-only), and it runs only once its plan is approved. A rejected, expired or failed plan holds the action back for
// approval.ttl after its decision (a failed recovery for at least recovery.fence_window); if
// the situation persists after that, a new plan is proposed.
func (d *Daemon) gate(ctx context.Context, s planSpec) bool {
	mode := d.conf().Approval.ModeFor(string(s.Kind), s.Group)
	now := d.now()
	d.mu.Lock()
	p := d.plans.byKey[s.Key]
	if p == nil {
		// A daemon restart (or a spell's start seen anew) changes the key: an open plan for the
		// same kind and host is still this situation's plan.
		if p = d.openPlan(s.Kind, s.Host); p != nil {
			delete(d.plans.byKey, p.Key)
			p.Key = s.Key
			d.plans.byKey[s.Key] = p
		}
	}
	if mode == config.ApprovalAutomatic {
		open := p != nil && p.State.Open()
		d.mu.Unlock()
		if open {
			return true
		}
		return d.newPlan(ctx, s, mode, now) != ""
	}
	if p == nil || (p.State.Closed() && !now.Before(d.retryAt(p))) {
		d.mu.Unlock()
		d.newPlan(ctx, s, mode, now)
		return false
	}
	if p.State != policy.PlanApproved {
		run := p.State == policy.PlanRunning
		d.mu.Unlock()
		return run
	}
	p.State = policy.PlanRunning
	cp := *p
	d.mu.Unlock()
	if err := d.putPlan(ctx, cp); err != nil {
		// An action without its record does not run: back to approved, tried again next pass.
		d.mu.Lock()
		p.State = policy.PlanApproved
		d.mu.Unlock()
		return false
	}
	d.journal(ctx, store.Entry{Kind: "decision", Host: cp.Host, Reason: "plan_running", Message: fmt.Sprintf("plan %s (%s) runs: approved by %s", cp.ID, cp.Summary, cp.DecidedBy)})
	return true
}

// openPlan finds a pending, approved or running plan of that kind about that host (switchovers
// excepted: each is its own plan). Caller holds d.mu.
func (d *Daemon) openPlan(kind policy.PlanKind, host string) *store.Plan {
	if kind == policy.PlanKindSwitchover {
		return nil
	}
	for _, p := range d.plans.byID {
		if p.Kind == kind && p.Host == host && (p.State == policy.PlanPending || p.State == policy.PlanApproved || p.State == policy.PlanRunning) {
			return p
		}
	}
	return nil
}

// retryAt is when a closed plan's situation may be proposed again (policy.RetryAt).
func (d *Daemon) retryAt(p *store.Plan) time.Time {
	c := d.conf()
	return policy.RetryAt(*p, c.Approval.TTL.D(), c.Recovery.FenceWindow.D())
}

// newPlan records a plan waiting for a decision (or, notify-only, just announced) and returns
// its id ("" when it could not be stored: then nothing was announced either).
func (d *Daemon) newPlan(ctx context.Context, s planSpec, mode config.ApprovalMode, now time.Time) string {
	id, err := d.db.NextPlanID(ctx)
	if err != nil {
		d.storeFailed("number a plan", err)
		return ""
	}
	p := store.Plan{ID: id, Key: s.Key, Kind: s.Kind, Host: s.Host, Group: s.Group, Mode: mode, State: policy.PlanPending,
		Summary: s.Summary, Fence: s.Fence, Created: now, Expires: now.Add(d.conf().Approval.TTL.D()), Moves: s.Moves}
	if s.Kind == "recovery" && d.conf().Approval.RecoveryDeadline > 0 {
		p.Deadline = now.Add(d.conf().Approval.RecoveryDeadline.D())
		if p.Expires.Before(p.Deadline) {
			p.Expires = p.Deadline // the deadline is a promise: the plan lives to keep it
		}
	}
	msg := fmt.Sprintf("plan %s waits for approval until %s: %s%s", id, p.Expires.Format(time.RFC3339), s.Summary, movesText(p.Moves))
	if !p.Deadline.IsZero() {
		msg += fmt.Sprintf("; without a decision it proceeds at %s (approval.recovery_deadline)", p.Deadline.Format(time.RFC3339))
	}
	switch mode {
	case config.ApprovalAutomatic:
		// lifeboat approves its own plan: it runs as soon as it is stored.
		p.State, p.DecidedBy, p.DecidedAt, p.DecisionReason, p.Expires, p.Deadline = policy.PlanRunning, "lifeboat", now, "approval mode automatic", time.Time{}, time.Time{}
		msg = fmt.Sprintf("plan %s runs (approval mode automatic): %s%s", id, s.Summary, movesText(p.Moves))
	case config.ApprovalNotifyOnly:
		p.State, p.Expires = policy.PlanNotified, now
		msg = fmt.Sprintf("plan %s announced, not run (approval mode notify-only): %s%s", id, s.Summary, movesText(p.Moves))
	}
	if err := d.putPlan(ctx, p); err != nil {
		return ""
	}
	d.mu.Lock()
	d.plans.byID[id], d.plans.byKey[s.Key] = &p, &p
	d.mu.Unlock()
	d.journal(ctx, store.Entry{Kind: "decision", Host: s.Host, Reason: "plan_" + string(p.State), Message: msg})
	if mode != config.ApprovalAutomatic { // automatic actions notify as they happen
		d.notify(notify.Notification{Kind: "plan_" + string(p.State), At: now, Host: s.Host, Message: msg})
	}
	d.m.plans.WithLabelValues(string(s.Kind), string(p.State)).Inc()
	d.m.setPending(d.pendingPlans())
	return id
}

func movesText(ms []store.PlanMove) string {
	if len(ms) == 0 {
		return ""
	}
	parts := make([]string, 0, len(ms))
	for _, m := range ms {
		to := m.To
		if to == "" {
			to = "nowhere (" + m.Why + ")"
		}
		parts = append(parts, m.VM+" "+m.From+" → "+to)
	}
	return "; moves: " + strings.Join(parts, ", ")
}

// putPlan stores a plan; a failure is logged and returned (the caller must not act on it).
func (d *Daemon) putPlan(ctx context.Context, p store.Plan) error {
	if err := d.db.PutPlan(context.WithoutCancel(ctx), p); err != nil {
		d.storeFailed("plan "+p.ID, err)
		return fmt.Errorf("store plan %s: %w", p.ID, err)
	}
	return nil
}

// pendingPlans counts plans waiting for a decision. Caller must not hold d.mu.
func (d *Daemon) pendingPlans() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, p := range d.plans.byID {
		if p.State == policy.PlanPending {
			n++
		}
	}
	return n
}

// finishPlans ends the running plans that match with a result.
func (d *Daemon) finishPlans(ctx context.Context, match func(*store.Plan) bool, state policy.PlanState, result string) {
	d.mu.Lock()
	var done []store.Plan
	for _, p := range d.plans.byID {
		if p.State == policy.PlanRunning && match(p) {
			p.State, p.Result = state, result
			done = append(done, *p)
		}
	}
	d.mu.Unlock()
	for _, cp := range done {
		_ = d.putPlan(ctx, cp)
		msg := fmt.Sprintf("plan %s %s: %s", cp.ID, state, result)
		d.journal(ctx, store.Entry{Kind: "decision", Host: cp.Host, Reason: "plan_" + string(state), Message: msg})
		d.notify(notify.Notification{Kind: "plan_" + string(state), At: d.now(), Host: cp.Host, Message: msg})
	}
}

// finishPlanFor ends the running plan of that kind about that host.
func (d *Daemon) finishPlanFor(ctx context.Context, kind policy.PlanKind, host string, state policy.PlanState, result string) {
	d.finishPlans(ctx, func(p *store.Plan) bool { return p.Kind == kind && p.Host == host }, state, result)
}

// finishPlanID ends one running plan.
func (d *Daemon) finishPlanID(ctx context.Context, id string, state policy.PlanState, result string) {
	d.finishPlans(ctx, func(p *store.Plan) bool { return p.ID == id }, state, result)
}

// planLoop expires plans nobody decided in time, lets a recovery past its deadline proceed,
// and drops plans whose situation has passed.
func (d *Daemon) planLoop(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.plansOnce(ctx)
	}
}

func (d *Daemon) plansOnce(ctx context.Context) {
	if !d.leading() {
		return // a follower watches; only the acting daemon runs plans
	}
	now := d.now()
	type change struct {
		p        store.Plan
		reason   string
		msg      string
		proceeds bool
	}
	var changes []change
	var stopped []*store.Plan
	d.mu.Lock()
	// The snapshot (every host and VM: costly in a large fleet) is taken only when a plan can
	// change: a decided plan neither expires nor ends.
	var snap *policy.Snapshot
	for _, p := range d.plans.byID {
		if p.State != policy.PlanPending && p.State != policy.PlanRunning {
			continue
		}
		if snap == nil {
			s := d.snapshot()
			snap = &s
		}
		needed := policy.PlanNeeded(*snap, p.Kind, p.Host)
		if policy.RunningPlanEnds(*p, needed) {
			stopped = append(stopped, p)
			continue
		}
		pc, ok := policy.PendingPlanChange(*p, needed, now)
		if !ok {
			continue
		}
		next := *p
		next.State, next.DecidedBy, next.DecidedAt, next.DecisionReason = pc.State, pc.By, now, pc.Why
		c := change{p: next, reason: "plan_expired", proceeds: pc.Proceeds}
		switch {
		case pc.Proceeds:
			c.reason = "plan_deadline"
			c.msg = fmt.Sprintf("plan %s proceeds WITHOUT approval: nobody decided within approval.recovery_deadline (%s) and the host has failed: %s", p.ID, d.conf().Approval.RecoveryDeadline, p.Summary)
		case pc.By == "ttl":
			c.msg = fmt.Sprintf("plan %s expired after %s without a decision; nothing moved: %s", p.ID, d.conf().Approval.TTL, p.Summary)
		default:
			c.msg = fmt.Sprintf("plan %s is no longer needed (%s is %s now); nothing moved: %s", p.ID, p.Host, d.stateOf(p.Host), p.Summary)
		}
		changes = append(changes, c)
	}
	d.mu.Unlock()
	for _, p := range stopped {
		d.finishPlanID(ctx, p.ID, policy.PlanDone, fmt.Sprintf("stopped: %s is %s now", p.Host, d.hostState(p.Host)))
	}
	for _, c := range changes {
		// The change holds only once it is stored: an approval by the deadline that cannot be
		// recorded does not let the recovery run.
		if err := d.putPlan(ctx, c.p); err != nil {
			continue
		}
		d.mu.Lock()
		if cur := d.plans.byID[c.p.ID]; cur != nil && cur.State == policy.PlanPending {
			*cur = c.p
		}
		d.mu.Unlock()
		d.journal(ctx, store.Entry{Kind: "decision", Host: c.p.Host, Reason: c.reason, Message: c.msg})
		d.notify(notify.Notification{Kind: c.reason, At: now, Host: c.p.Host, Message: c.msg})
		if c.proceeds {
			d.m.planDecision.WithLabelValues("deadline").Observe(now.Sub(c.p.Created).Seconds())
		}
	}
	if len(changes) > 0 {
		d.m.setPending(d.pendingPlans())
		d.kickDrain()
	}
	d.mu.Lock()
	many := len(d.plans.byID) > 2*plansKept
	d.mu.Unlock()
	if many {
		d.prunePlans(ctx)
	}
}

// prunePlans keeps the newest plansKept decided plans (open ones always stay), in the store and
// in memory.
func (d *Daemon) prunePlans(ctx context.Context) {
	if err := d.db.PrunePlans(ctx, plansKept); err != nil {
		d.log.Error("cannot prune plans", "err", err)
		return
	}
	ps, err := d.db.ListPlans(ctx)
	if err != nil {
		d.log.Error("cannot list plans", "err", err)
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	keep := make(map[string]bool, len(ps))
	for _, p := range ps {
		keep[p.ID] = true
	}
	for id, p := range d.plans.byID {
		if !keep[id] {
			delete(d.plans.byID, id)
			if d.plans.byKey[p.Key] == p {
				delete(d.plans.byKey, p.Key)
			}
		}
	}
}

// Plans lists the plans, pending first, then the newest.
func (d *Daemon) Plans(context.Context) ([]api.PlanView, error) {
	d.mu.Lock()
	out := make([]api.PlanView, 0, len(d.plans.byID))
	for _, p := range d.plans.byID {
		out = append(out, planView(*p))
	}
	d.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		pi, pj := out[i].State == policy.PlanPending, out[j].State == policy.PlanPending
		if pi != pj {
			return pi
		}
		return out[i].Created.After(out[j].Created) || (out[i].Created.Equal(out[j].Created) && out[i].ID > out[j].ID)
	})
	return out, nil
}

// Plan returns one plan.
func (d *Daemon) Plan(_ context.Context, id string) (api.PlanView, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.plans.byID[id]
	if !ok {
		return api.PlanView{}, fmt.Errorf("unknown plan %q: %w", id, api.ErrNotFound)
	}
	return planView(*p), nil
}

func planView(p store.Plan) api.PlanView {
	v := api.PlanView{ID: p.ID, Kind: p.Kind, Host: p.Host, Group: p.Group, Mode: p.Mode, State: p.State, Summary: p.Summary,
		Fence: p.Fence, Created: p.Created, Expires: p.Expires, Deadline: p.Deadline, DecidedBy: p.DecidedBy,
		DecidedAt: p.DecidedAt, DecisionReason: p.DecisionReason, Result: p.Result, Moves: []api.PlanMove{}}
	for _, m := range p.Moves {
		v.Moves = append(v.Moves, api.PlanMove(m))
	}
	return v
}

// Approve lets a pending plan run; who approved it is recorded.
func (d *Daemon) Approve(ctx context.Context, id string, dec api.PlanDecision) (api.PlanView, error) {
	d.mu.Lock()
	notYet := d.engine == nil && d.plans.byID[id] != nil && d.plans.byID[id].Kind == "switchover"
	d.mu.Unlock()
	if notYet {
		return api.PlanView{}, fmt.Errorf("the daemon is not running yet: %w", api.ErrConflict)
	}
	p, err := d.decide(ctx, id, dec, policy.PlanApproved)
	if err != nil {
		return api.PlanView{}, err
	}
	if p.Kind == "switchover" {
		p = d.runSwitchoverPlan(ctx, p)
	}
	d.kickDrain()
	d.kickFailback()
	return planView(p), nil
}

// Reject drops a pending plan; nothing moves.
func (d *Daemon) Reject(ctx context.Context, id string, dec api.PlanDecision) (api.PlanView, error) {
	if strings.TrimSpace(dec.Reason) == "" {
		return api.PlanView{}, fmt.Errorf("reject %s needs a reason: %w", id, api.ErrBadRequest)
	}
	p, err := d.decide(ctx, id, dec, policy.PlanRejected)
	return planView(p), err
}

func (d *Daemon) decide(ctx context.Context, id string, dec api.PlanDecision, state policy.PlanState) (store.Plan, error) {
	now := d.now()
	d.mu.Lock()
	p, ok := d.plans.byID[id]
	if !ok {
		d.mu.Unlock()
		return store.Plan{}, fmt.Errorf("unknown plan %q: %w", id, api.ErrNotFound)
	}
	if p.State != policy.PlanPending {
		st := p.State
		d.mu.Unlock()
		return store.Plan{}, fmt.Errorf("plan %s is %s, not pending: only a pending plan can be approved or rejected: %w", id, st, api.ErrConflict)
	}
	before := *p
	p.State, p.DecidedBy, p.DecidedAt, p.DecisionReason = state, dec.By, now, dec.Reason
	cp := *p
	d.mu.Unlock()
	if err := d.putPlan(ctx, cp); err != nil {
		d.mu.Lock()
		*p = before
		d.mu.Unlock()
		return store.Plan{}, fmt.Errorf("plan %s not %s: %w", id, state, err)
	}
	msg := fmt.Sprintf("plan %s %s by %s: %s", id, state, dec.By, cp.Summary)
	if dec.Reason != "" {
		msg += " (reason: " + dec.Reason + ")"
	}
	d.journal(ctx, store.Entry{Kind: "decision", Host: cp.Host, Reason: "plan_" + string(state), Message: msg})
	d.notify(notify.Notification{Kind: "plan_" + string(state), At: now, Host: cp.Host, Message: msg})
	d.m.planDecision.WithLabelValues(string(state)).Observe(now.Sub(cp.Created).Seconds())
	d.m.setPending(d.pendingPlans())
	return cp, nil
}

// hostState is a host's current state, for messages.
func (d *Daemon) hostState(host string) policy.HostState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stateOf(host)
}

// stateOf is a host's current state ("unknown" for a host no longer configured). Caller holds
// d.mu.
func (d *Daemon) stateOf(host string) policy.HostState {
	if w, ok := d.byName[host]; ok {
		return w.verdict.State
	}
	return policy.Unknown
}
