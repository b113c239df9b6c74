package daemon

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// restartState is where one VM of a failed host stands in its recovery.
type restartState struct {
	VM, UUID, From, To string
	State              string // queued, restarting, running, stuck
	Reason             string
	Since              time.Time
	inFlight           bool
}

// recoveryTick is how often the recovery loop looks at the cluster.
const recoveryTick = 300 * time.Millisecond

// recoveryLoop is level-based: on each tick it fences failed or unreachable hosts that still
// hold protected VMs (once per window, never during a mass failure, never before the daemon has
// a full picture) and restarts the VMs of fenced hosts elsewhere. After a daemon restart it simply
// carries on from the records.
func (d *Daemon) recoveryLoop(ctx context.Context) {
	t := time.NewTicker(recoveryTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		d.recoverOnce(ctx)
	}
}

// fullPicture reports whether every host has been probed and every BMC asked at least once.
// Caller holds d.mu.
func (d *Daemon) fullPicture() bool {
	for _, w := range d.hosts {
		if w.sig.Libvirt.Result == policy.ProbeNone || (w.sig.BMC.Configured && w.sig.BMC.At.IsZero()) {
			return false
		}
	}
	return true
}

// hostsWithProtectedVMs maps each host to the protected VMs last seen running there. Caller holds d.mu.
func (d *Daemon) protectedOn() map[string][]*store.VMRecord {
	out := map[string][]*store.VMRecord{}
	for _, r := range d.vms {
		if r.Protected && r.CurrentHost != "" && r.Definition != "" {
			out[r.CurrentHost] = append(out[r.CurrentHost], r)
		}
	}
	return out
}

// recoverOnce is one pass of the recovery loop.
func (d *Daemon) recoverOnce(ctx context.Context) {
	now := d.now()
	var toFence []*hostWatch
	var specs []planSpec
	var notes []notify.Notification
	var entries []store.Entry
	d.mu.Lock()
	if !d.fullPicture() {
		d.mu.Unlock()
		return
	}
	// Fenced hosts that answer again were rebooted: their fence is history.
	for _, w := range d.hosts {
		if !w.fencedAt.IsZero() && w.sig.Libvirt.Result == policy.ProbeOK {
			w.fencedAt, w.sig.FencedAt = time.Time{}, time.Time{}
		}
	}
	bad := 0
	for _, w := range d.hosts {
		// A host fenced a moment ago is as lost as one about to be: counting it keeps a mass
		// failure from slipping through one fence at a time.
		if s := w.verdict.State; s == policy.Failed || s == policy.Unreachable || s == policy.Fenced {
			bad++
		}
	}
	frozen := bad > 0 && float64(bad) > d.cfg.Recovery.MassFailureFraction*float64(len(d.hosts))
	if frozen != d.frozen {
		d.frozen = frozen
		msg := fmt.Sprintf("mass failure: %d of %d hosts failed, unreachable or fenced at once; automatic recovery frozen, nothing is fenced or restarted until fewer fail or an operator acts", bad, len(d.hosts))
		reason := "recovery_frozen"
		if !frozen {
			msg, reason = "automatic recovery resumed", "recovery_resumed"
		}
		entries = append(entries, store.Entry{At: now, Kind: "decision", Reason: reason, Message: msg})
		notes = append(notes, notify.Notification{Kind: reason, At: now, Message: msg})
	}
	prot := d.protectedOn()
	if !frozen && d.cfg.Recovery.Automatic {
		for _, w := range d.hosts {
			s := w.verdict.State
			if (s != policy.Failed && s != policy.Unreachable) || !w.fencedAt.IsZero() || w.fencing || len(prot[w.cfg.Name]) == 0 {
				continue
			}
			if !w.lastFence.IsZero() && now.Sub(w.lastFence) < d.cfg.Recovery.FenceWindow.D() {
				continue // at most one fence per window: no fence storms
			}
			toFence = append(toFence, w)
			specs = append(specs, d.recoverySpec(w, prot[w.cfg.Name]))
		}
	}
	var restarts []*restartState
	if !frozen {
		restarts = d.planRestarts(now, prot, &entries, &notes)
	}
	d.mu.Unlock()
	for _, e := range entries {
		d.journal(ctx, e)
	}
	for _, n := range notes {
		d.notify(n)
	}
	for i, w := range toFence {
		// Under the approval mode, a fence (and so the restarts) waits for its plan.
		if !d.gate(ctx, specs[i]) {
			continue
		}
		d.mu.Lock()
		ok := !w.fencing && w.fencedAt.IsZero()
		if ok {
			w.fencing, w.lastFence = true, d.now()
		}
		d.mu.Unlock()
		if ok {
			go d.fenceHost(ctx, w)
		}
	}
	for _, rs := range restarts {
		go d.restart(ctx, rs)
	}
}

// planRestarts places the protected VMs of fenced hosts, highest priority first, standby hosts
// preferred, and returns the restarts to start now (within the concurrency budget). A VM with no
// room stays queued. Caller holds d.mu.
func (d *Daemon) planRestarts(now time.Time, prot map[string][]*store.VMRecord, entries *[]store.Entry, notes *[]notify.Notification) []*restartState {
	var reqs []policy.VMRequest
	for _, w := range d.hosts {
		if w.fencedAt.IsZero() {
			continue
		}
		for _, r := range prot[w.cfg.Name] {
			rs := d.restarts[r.UUID]
			if rs != nil && !rs.inFlight && (rs.From != w.cfg.Name || rs.State == "running") {
				rs = nil // an earlier recovery of this VM, from another failure: start afresh
			}
			if rs == nil {
				rs = &restartState{VM: r.Name, UUID: r.UUID, From: w.cfg.Name, State: "queued", Reason: "waiting for a host", Since: now}
				d.restarts[r.UUID] = rs
			}
			if rs.inFlight {
				continue
			}
			req := request(r)
			req.CurrentHost = w.cfg.Name
			reqs = append(reqs, req)
		}
	}
	if len(reqs) == 0 {
		return nil
	}
	hosts := d.capacities()
	cfg := d.placementConfig()
	cfg.PreferStandby = true
	inFlight := 0
	for _, rs := range d.restarts {
		if rs.inFlight {
			inFlight++
		}
	}
	var out []*restartState
	for _, p := range policy.PlanPlacements(cfg, hosts, reqs) {
		r, _ := d.vmByName(p.VM)
		if r == nil {
			continue
		}
		rs := d.restarts[r.UUID]
		if p.Host == "" {
			if rs.State != "stuck" {
				rs.State, rs.Reason, rs.Since = "stuck", "queued: "+p.Reason, now
				msg := fmt.Sprintf("%s cannot restart yet: %s; it stays queued and is retried", r.Name, p.Reason)
				*entries = append(*entries, store.Entry{At: now, Kind: "recovery", Host: rs.From, VM: r.Name, Reason: "stuck", Message: msg})
				*notes = append(*notes, notify.Notification{Kind: "stuck", At: now, Host: rs.From, VM: r.Name, Message: msg})
			}
			continue
		}
		if inFlight >= d.cfg.Recovery.RestartConcurrency {
			continue
		}
		inFlight++
		rs.To, rs.State, rs.Reason, rs.inFlight = p.Host, "restarting", p.Reason, true
		out = append(out, rs)
	}
	return out
}

// recoverySpec describes the recovery of a lost host as a plan: fence it, then restart its
// protected VMs where placement would put them now (standby hosts first). Caller holds d.mu.
func (d *Daemon) recoverySpec(w *hostWatch, vms []*store.VMRecord) planSpec {
	var reqs []policy.VMRequest
	for _, r := range vms {
		reqs = append(reqs, request(r))
	}
	cfg := d.placementConfig()
	cfg.PreferStandby = true
	var moves []api.PlanMove
	for _, p := range policy.PlanPlacements(cfg, d.capacities(), reqs) {
		moves = append(moves, api.PlanMove{VM: p.VM, From: w.cfg.Name, To: p.Host, Why: "restart after the fence: " + p.Reason})
	}
	return planSpec{Kind: "recovery", Host: w.cfg.Name, Group: w.cfg.Group, Fence: w.cfg.Name,
		Key:     fmt.Sprintf("recovery/%s/%d", w.cfg.Name, w.sig.Libvirt.FailingSince.UnixNano()),
		Summary: fmt.Sprintf("recovery of %s (%s: %s): fence it, then restart its %d protected VMs elsewhere", w.cfg.Name, w.verdict.State, w.verdict.Message, len(vms)),
		Moves:   moves}
}

// fenceHost runs the host's fence ladder and records the outcome.
func (d *Daemon) fenceHost(ctx context.Context, w *hostWatch) {
	start := d.now()
	d.mu.Lock()
	v := w.verdict
	d.mu.Unlock()
	d.journal(ctx, store.Entry{At: start, Kind: "action", Host: w.cfg.Name, Reason: "fence_started",
		Message: fmt.Sprintf("fencing %s (%s): %s", w.cfg.Name, v.State, v.Message)})
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
	w.fencing = false
	if err == nil {
		w.fencedAt, w.fencedBy = end, res.Method
		w.sig.FencedAt = end
	}
	d.mu.Unlock()
	if err != nil {
		msg := fmt.Sprintf("fencing %s failed, its VMs stay down: %v. Check the host, then run 'lifeboat host confirm-off %s' to let its VMs restart", w.cfg.Name, err, w.cfg.Name)
		d.journal(ctx, store.Entry{At: end, Kind: "action", Host: w.cfg.Name, Reason: "fence_failed", Message: msg})
		d.notify(notify.Notification{Kind: "fence_failed", At: end, Host: w.cfg.Name, Message: msg})
		d.finishPlanFor(ctx, "recovery", w.cfg.Name, planFailed, "the fence failed: "+err.Error())
		return
	}
	d.finishPlanFor(ctx, "recovery", w.cfg.Name, planDone, "fenced by "+res.Method+"; its VMs restart elsewhere")
	d.m.fenceSeconds.Observe(end.Sub(start).Seconds())
	msg := fmt.Sprintf("%s fenced by %s in %s: power off verified", w.cfg.Name, res.Method, end.Sub(start).Round(10*time.Millisecond))
	d.journal(ctx, store.Entry{At: end, Kind: "action", Host: w.cfg.Name, Reason: "fenced", Message: msg})
	d.notify(notify.Notification{Kind: "fence", At: end, Host: w.cfg.Name, Message: msg})
	d.kickDecide()
}

// restart starts one VM on its new host from its stored definition.
func (d *Daemon) restart(ctx context.Context, rs *restartState) {
	d.mu.Lock()
	r := d.vms[rs.UUID]
	target := d.byName[rs.To]
	var def string
	if r != nil {
		def = r.Definition
	}
	d.mu.Unlock()
	start := d.now()
	var err error
	if r == nil || target == nil {
		err = fmt.Errorf("record or host vanished")
	} else {
		rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
		err = target.conn.StartDomain(rctx, def)
		cancel()
	}
	end := d.now()
	d.mu.Lock()
	rs.inFlight = false
	if err != nil {
		rs.State, rs.Reason, rs.Since = "queued", "restart on "+rs.To+" failed: "+err.Error(), end
	} else {
		rs.State, rs.Reason, rs.Since = "running", "restarted on "+rs.To, end
		r.CurrentHost, r.State, r.UpdatedAt = rs.To, "running", end
	}
	var rec store.VMRecord
	if r != nil {
		rec = *r
	}
	d.mu.Unlock()
	if err != nil {
		d.m.recoveries.WithLabelValues("retry").Inc()
		d.journal(ctx, store.Entry{At: end, Kind: "recovery", Host: rs.To, VM: rs.VM, Reason: "restart_failed",
			Message: fmt.Sprintf("%s: restart on %s failed, retrying: %v", rs.VM, rs.To, err)})
		return
	}
	if perr := d.db.PutVM(ctx, rec); perr != nil {
		d.log.Error("cannot store a VM record", "vm", rec.Name, "err", perr)
	}
	d.m.recoveries.WithLabelValues("restarted").Inc()
	d.m.restartSeconds.Observe(end.Sub(start).Seconds())
	msg := fmt.Sprintf("%s restarted on %s (was on %s, fenced) in %s", rs.VM, rs.To, rs.From, end.Sub(start).Round(10*time.Millisecond))
	d.journal(ctx, store.Entry{At: end, Kind: "recovery", Host: rs.To, VM: rs.VM, Reason: "restarted", Message: msg})
	d.notify(notify.Notification{Kind: "failover", At: end, Host: rs.From, VM: rs.VM, Message: msg})
}

// notify sends a notification when a webhook is configured.
func (d *Daemon) notify(n notify.Notification) {
	if d.webhook == nil {
		return
	}
	n.Cluster = d.cfg.Cluster
	d.webhook.Notify(n)
}

// ConfirmOff records an operator's word that a host is off (for when every fence method failed),
// which lets its VMs restart elsewhere. confirm must repeat the host's name.
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
	if s := w.verdict.State; s != policy.Unreachable && s != policy.Failed && s != policy.Unknown {
		d.mu.Unlock()
		return fmt.Errorf("%s is %s: only a failed, unreachable or unknown host can be confirmed off: %w", host, s, api.ErrConflict)
	}
	now := d.now()
	w.fencedAt, w.fencedBy, w.sig.FencedAt = now, "operator confirm-off", now
	d.mu.Unlock()
	msg := fmt.Sprintf("an operator confirmed that %s is powered off; its VMs may restart elsewhere", host)
	d.journal(ctx, store.Entry{At: now, Kind: "action", Host: host, Reason: "confirm_off", Message: msg})
	d.notify(notify.Notification{Kind: "fence", At: now, Host: host, Message: msg})
	d.kickDecide()
	return nil
}

// Recoveries lists the VMs being recovered and why.
func (d *Daemon) Recoveries(context.Context) ([]api.RecoveryView, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]api.RecoveryView, 0, len(d.restarts))
	for _, rs := range d.restarts {
		out = append(out, api.RecoveryView{VM: rs.VM, From: rs.From, To: rs.To, State: rs.State, Reason: rs.Reason, Since: rs.Since})
	}
	for _, w := range d.hosts {
		if w.fencing {
			out = append(out, api.RecoveryView{Host: w.cfg.Name, State: "fencing", Reason: w.verdict.Message, Since: w.lastFence})
		}
	}
	if d.frozen {
		out = append(out, api.RecoveryView{State: "frozen", Reason: "mass failure: automatic recovery frozen"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].VM < out[j].VM })
	return out, nil
}
