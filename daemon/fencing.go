package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// putFence stores a host's fence record and keeps it in memory; a failure is reported and
// returned (the caller must not act on it).
func (d *Daemon) putFence(ctx context.Context, r policy.FenceRecord) error {
	if err := d.db.PutFence(context.WithoutCancel(ctx), r); err != nil {
		d.storeFailed("fence record of "+r.Host, err)
		return fmt.Errorf("store the fence record of %s: %w", r.Host, err)
	}
	d.mu.Lock()
	d.guards.Fences[r.Host] = r
	if w, ok := d.byName[r.Host]; ok {
		d.fenceSignal(w)
		d.markDirty(w)
	}
	d.mu.Unlock()
	return nil
}

// clearFence forgets the fence of a host that answers again (the attempt's time stays, for the
// fence window).
func (d *Daemon) clearFence(ctx context.Context, a policy.Action, now time.Time) {
	d.mu.Lock()
	r := d.guards.Fence(a.Host)
	d.mu.Unlock()
	r.Outcome, r.At, r.By, r.Detail = policy.FenceNone, time.Time{}, "", ""
	if err := d.putFence(ctx, r); err != nil {
		return
	}
	d.journal(ctx, store.Entry{At: now, Kind: "decision", Host: a.Host, Reason: string(a.Reason), Message: a.Message})
}

// recoverySpec describes the recovery of a lost host as a plan: fence it, then restart its
// protected VMs where placement would put them now.
func (d *Daemon) recoverySpec(snap policy.Snapshot, a policy.Action) planSpec {
	h, _ := snap.Host(a.Host)
	moves := a.Moves
	if moves == nil {
		for _, vm := range snap.VMs {
			if vm.Protected && vm.Current == a.Host {
				moves = append(moves, policy.Move{VM: vm.Name, From: a.Host, Why: "restart after the fence"})
			}
		}
	}
	return planSpec{Kind: policy.PlanKindRecovery, Host: a.Host, Group: h.Group, Fence: a.Host,
		Key:     fmt.Sprintf("recovery/%s/%d", a.Host, h.BadSince.UnixNano()),
		Summary: fmt.Sprintf("recovery of %s (%s: %s): fence it, then restart its protected VMs elsewhere", a.Host, h.Verdict.State, h.Verdict.Message),
		Moves:   moves}
}

// startFence runs a fence the reconciler asked for, in three recorded steps: the recovery plan
// (approved by lifeboat itself in automatic mode, or by a person), then the fence record
// "in flight", then the fence ladder. A proposal only makes the plan.
func (d *Daemon) startFence(ctx context.Context, snap policy.Snapshot, a policy.Action, now time.Time) {
	if !d.gate(ctx, d.recoverySpec(snap, a)) || a.Kind != policy.ActFence {
		return
	}
	d.mu.Lock()
	busy := d.fencing[a.Host]
	r := d.guards.Fence(a.Host)
	d.mu.Unlock()
	if busy {
		return
	}
	r.Attempted, r.Outcome, r.At, r.By, r.Detail = now, policy.FenceInFlight, time.Time{}, "", ""
	if err := d.putFence(ctx, r); err != nil {
		return
	}
	w := d.byName[a.Host]
	d.mu.Lock()
	d.fencing[a.Host] = true
	d.mu.Unlock()
	d.journal(ctx, store.Entry{At: now, Kind: "action", Host: a.Host, Reason: "fence_started", Message: a.Message})
	go d.fenceHost(ctx, w)
}

// fenceHost runs the host's fence ladder and records the outcome.
func (d *Daemon) fenceHost(ctx context.Context, w *hostWatch) {
	start := d.now()
	res, err := w.ladder.Fence(ctx)
	end := d.now()
	for _, a := range res.Attempts {
		result := "ok"
		if a.Err != "" {
			result = "failed"
		}
		d.m.fenceAttempts.WithLabelValues(a.Method, result).Inc()
	}
	d.mu.Lock()
	r := d.guards.Fence(w.cfg.Name)
	d.mu.Unlock()
	r.At = end
	if err != nil {
		r.Outcome, r.Detail = policy.FenceFailed, err.Error()
	} else {
		r.Outcome, r.By = policy.FenceVerified, res.Method
	}
	// A record that cannot be stored still holds in memory: the outcome is a fact.
	if perr := d.putFence(ctx, r); perr != nil {
		d.mu.Lock()
		d.guards.Fences[w.cfg.Name] = r
		d.fenceSignal(w)
		d.markDirty(w)
		d.mu.Unlock()
	}
	d.mu.Lock()
	delete(d.fencing, w.cfg.Name)
	d.mu.Unlock()
	if err != nil {
		msg := fmt.Sprintf("fencing %s failed, its VMs stay down: %v. Check the host, then run 'lifeboat host confirm-off %s --confirm %s' to let its VMs restart", w.cfg.Name, err, w.cfg.Name, w.cfg.Name)
		d.journal(ctx, store.Entry{At: end, Kind: "action", Host: w.cfg.Name, Reason: "fence_failed", Message: msg})
		d.notify(notify.Notification{Kind: "fence_failed", At: end, Host: w.cfg.Name, Message: msg})
		d.finishPlanFor(ctx, policy.PlanKindRecovery, w.cfg.Name, policy.PlanFailed, "the fence failed: "+err.Error())
		return
	}
	d.finishPlanFor(ctx, policy.PlanKindRecovery, w.cfg.Name, policy.PlanDone, "fenced by "+res.Method+"; its VMs restart elsewhere")
	d.m.fenceSeconds.Observe(end.Sub(start).Seconds())
	msg := fmt.Sprintf("%s fenced by %s in %s: power off verified", w.cfg.Name, res.Method, end.Sub(start).Round(10*time.Millisecond))
	d.journal(ctx, store.Entry{At: end, Kind: "action", Host: w.cfg.Name, Reason: "fenced", Message: msg})
	d.notify(notify.Notification{Kind: "fence", At: end, Host: w.cfg.Name, Message: msg})
}

// ConfirmOff records an operator's word that a host is off (for when every fence method failed),
// which lets its VMs restart elsewhere. confirm must repeat the host's name. It is refused while
// anything says the host is alive (policy.ConfirmOffRefusal), and recorded with its own reason,
// never as a verified fence.
func (d *Daemon) ConfirmOff(ctx context.Context, host, confirm string) error {
	d.mu.Lock()
	w, ok := d.byName[host]
	if !ok {
		d.mu.Unlock()
		return fmt.Errorf("unknown host %q: %w", host, api.ErrNotFound)
	}
	if confirm != host {
		d.mu.Unlock()
		return fmt.Errorf("confirm-off %s needs the host's name repeated as confirmation: %w", host, api.ErrBadRequest)
	}
	now := d.now()
	if why := policy.ConfirmOffRefusal(d.det, w.verdict, w.sig, now); why != "" {
		d.mu.Unlock()
		return fmt.Errorf("refused: %s; confirm a host off only once nothing says it is alive: %w", why, api.ErrConflict)
	}
	r := d.guards.Fence(host)
	d.mu.Unlock()
	who := callerName(ctx) // the credential's identity (disarm.go)
	r.Outcome, r.At, r.By, r.Detail = policy.FenceConfirmedOff, now, who, ""
	if err := d.putFence(ctx, r); err != nil {
		return fmt.Errorf("confirm-off %s not recorded, nothing changed: %w", host, err)
	}
	msg := fmt.Sprintf("%s confirmed that %s is powered off (not verified by a fence device); its VMs may restart elsewhere", who, host)
	d.journal(ctx, store.Entry{At: now, Kind: "action", Host: host, Reason: string(policy.ReasonOperatorConfirmed), Message: msg})
	d.notify(notify.Notification{Kind: string(policy.ReasonOperatorConfirmed), At: now, Host: host, Message: msg})
	return nil
}
