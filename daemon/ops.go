package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/migrate"
	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// capacities describes every host for placement. Caller holds d.mu.
func (d *Daemon) capacities() []policy.HostCapacity {
	used := map[string][2]int{}
	names := map[string][]string{}
	for _, r := range d.vms {
		if r.CurrentHost == "" {
			continue
		}
		u := used[r.CurrentHost]
		used[r.CurrentHost] = [2]int{u[0] + r.MemoryMiB, u[1] + r.VCPUs}
		names[r.CurrentHost] = append(names[r.CurrentHost], r.Name)
	}
	out := make([]policy.HostCapacity, 0, len(d.hosts))
	for _, w := range d.hosts {
		out = append(out, policy.HostCapacity{Name: w.cfg.Name, Role: string(w.cfg.Role), Group: w.cfg.Group,
			State: w.verdict.State, MemoryMiB: int(w.info.MemoryKiB / 1024), VCPUs: int(w.info.CPUs),
			UsedMemoryMiB: used[w.cfg.Name][0], UsedVCPUs: used[w.cfg.Name][1], VMs: names[w.cfg.Name]})
	}
	return out
}

// placementConfig is the live-evacuation placement: active hosts first.
func (d *Daemon) placementConfig() policy.PlacementConfig {
	pc := d.conf().Placement
	out := policy.PlacementConfig{MemoryOvercommit: pc.MemoryOvercommit, CPUOvercommit: pc.CPUOvercommit}
	for _, r := range pc.Rules {
		out.Rules = append(out.Rules, policy.AffinityRule{Name: r.Name, VMs: r.VMs, Anti: r.Anti})
	}
	return out
}

// withOverride applies the first migration override that matches the VM (by name, or by the group
// of the host it leaves) to a migration request.
func (d *Daemon) withOverride(req migrate.Request) migrate.Request {
	group := ""
	if w, ok := d.byName[req.From]; ok {
		group = w.cfg.Group
	}
	for _, o := range d.conf().Migration.Overrides {
		match := o.Group != "" && o.Group == group
		for _, v := range o.VMs {
			match = match || v == req.VM
		}
		if !match {
			continue
		}
		if len(o.Downtimes) > 0 || o.PostCopy != nil {
			l := d.ladder()
			if len(o.Downtimes) > 0 {
				l.Downtimes = nil
				for _, dt := range o.Downtimes {
					l.Downtimes = append(l.Downtimes, dt.D())
				}
			}
			if o.PostCopy != nil {
				l.PostCopy = *o.PostCopy
			}
			req.Ladder = &l
		}
		req.BandwidthMiBs = o.BandwidthMiBs
		return req
	}
	return req
}

// vmByName finds a VM record by name. Caller holds d.mu.
func (d *Daemon) vmByName(name string) (*store.VMRecord, error) {
	for _, r := range d.vms {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("unknown VM %q: %w", name, api.ErrNotFound)
}

func request(r *store.VMRecord) policy.VMRequest {
	return policy.VMRequest{Name: r.Name, MemoryMiB: r.MemoryMiB, VCPUs: r.VCPUs, Priority: r.Priority,
		CurrentHost: r.CurrentHost, HomeHost: r.HomeHost}
}

func scoreViews(cands []policy.Score) []api.CandidateView {
	out := make([]api.CandidateView, 0, len(cands))
	for _, c := range cands {
		out = append(out, api.CandidateView{Host: c.Host, Feasible: c.Feasible, Reasons: c.Reasons, Parts: c.Parts, Total: c.Total})
	}
	return out
}

// Switchover live-migrates one VM, to the named host or to the best one. A dry run only plans.
func (d *Daemon) Switchover(ctx context.Context, req api.SwitchoverRequest) (api.SwitchoverResult, error) {
	if d.engine == nil {
		return api.SwitchoverResult{}, errors.New("the daemon is not running yet")
	}
	d.mu.Lock()
	r, err := d.vmByName(req.VM)
	if err != nil {
		d.mu.Unlock()
		return api.SwitchoverResult{}, err
	}
	if r.CurrentHost == "" || r.State != "running" {
		d.mu.Unlock()
		return api.SwitchoverResult{}, fmt.Errorf("%s is not running (state %s): only a running VM can be live-migrated: %w", r.Name, orNone(r.State), api.ErrConflict)
	}
	if d.engine.Busy(r.UUID) {
		d.mu.Unlock()
		return api.SwitchoverResult{}, fmt.Errorf("%s: %w: %w", r.Name, migrate.ErrBusy, api.ErrConflict)
	}
	hosts := d.capacities()
	if req.To != "" {
		w, ok := d.byName[req.To]
		if !ok {
			d.mu.Unlock()
			return api.SwitchoverResult{}, fmt.Errorf("unknown host %q: %w", req.To, api.ErrNotFound)
		}
		if w.cfg.Name == r.CurrentHost {
			d.mu.Unlock()
			return api.SwitchoverResult{}, fmt.Errorf("%s already runs on %s: %w", r.Name, req.To, api.ErrConflict)
		}
		for _, h := range hosts {
			if h.Name == req.To {
				hosts = []policy.HostCapacity{h}
				break
			}
		}
	}
	pl := policy.Place(d.placementConfig(), hosts, request(r))
	from := d.byName[r.CurrentHost]
	vm := *r
	d.mu.Unlock()
	res := api.SwitchoverResult{VM: vm.Name, From: vm.CurrentHost, To: pl.Host, Reason: pl.Reason, Candidates: scoreViews(pl.Candidates), DryRun: req.DryRun}
	if pl.Host == "" {
		return res, fmt.Errorf("no host can take %s: %s: %w", vm.Name, pl.Reason, api.ErrConflict)
	}
	if req.DryRun {
		return res, nil
	}
	// Every switchover runs under a plan: in automatic mode lifeboat approves it at once.
	mode := d.conf().Approval.ModeFor(string(policy.PlanKindSwitchover), from.cfg.Group)
	now := d.now()
	spec := planSpec{Kind: policy.PlanKindSwitchover, Host: vm.CurrentHost, Group: from.cfg.Group,
		Key:     fmt.Sprintf("switchover/%s/%d", vm.Name, now.UnixNano()),
		Summary: fmt.Sprintf("switchover of %s from %s to %s, asked by an operator", vm.Name, vm.CurrentHost, pl.Host),
		Moves:   []policy.Move{{VM: vm.Name, UUID: vm.UUID, From: vm.CurrentHost, To: pl.Host, Why: pl.Reason}}}
	id := d.newPlan(ctx, spec, mode, now)
	if id == "" {
		return res, errors.New("the switchover's plan could not be stored: nothing moved")
	}
	if mode != config.ApprovalAutomatic {
		d.mu.Lock()
		res.Plan, res.PlanState = id, string(d.plans.byID[id].State)
		d.mu.Unlock()
		return res, nil
	}
	mid, err := d.switchover(vm, pl.Host, "switchover by an operator: "+pl.Reason, id)
	if err != nil {
		d.finishPlanID(ctx, id, policy.PlanFailed, err.Error())
	}
	res.Migration, res.Plan = mid, id
	return res, err
}

// switchover submits an operator's live migration (of a plan, when plan is set); once it
// succeeds, the VM's home is its new host.
func (d *Daemon) switchover(vm store.VMRecord, to, why, plan string) (string, error) {
	m, err := d.engine.Submit(d.withOverride(migrate.Request{VM: vm.Name, UUID: vm.UUID, From: vm.CurrentHost, To: to,
		FromURI: d.byName[vm.CurrentHost].cfg.URI, ToURI: d.byName[to].cfg.URI, Why: why, Purpose: migrate.PurposeSwitchover, Plan: plan}))
	if err != nil {
		return "", fmt.Errorf("%w: %w", err, api.ErrConflict)
	}
	return m.ID, nil
}

// runSwitchoverPlan carries out an approved switchover plan: the move it showed, if the VM is
// still where the plan found it.
func (d *Daemon) runSwitchoverPlan(ctx context.Context, p store.Plan) store.Plan {
	state, result := policy.PlanFailed, "the plan has no move"
	if len(p.Moves) == 1 {
		mv := p.Moves[0]
		d.mu.Lock()
		r, err := d.vmByName(mv.VM)
		var vm store.VMRecord
		if err == nil {
			vm = *r
		}
		d.mu.Unlock()
		switch {
		case err != nil:
			result = err.Error()
		case vm.CurrentHost != mv.From:
			result = fmt.Sprintf("%s is no longer on %s (now %s): nothing moved", mv.VM, mv.From, orNone(vm.CurrentHost))
		default:
			id, err := d.switchover(vm, mv.To, fmt.Sprintf("switchover by an operator, plan %s approved by %s: %s", p.ID, p.DecidedBy, mv.Why), p.ID)
			if err != nil {
				result = err.Error()
			} else {
				state, result = policy.PlanRunning, "migration "+id+" started"
			}
		}
	}
	d.mu.Lock()
	if cur := d.plans.byID[p.ID]; cur != nil {
		cur.State, cur.Result = state, result
		p = *cur
	}
	d.mu.Unlock()
	_ = d.putPlan(ctx, p)
	d.journal(ctx, store.Entry{Kind: "decision", Host: p.Host, Reason: "plan_" + string(state), Message: fmt.Sprintf("plan %s %s: %s", p.ID, state, result)})
	return p
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Drain puts a host in maintenance (no new placements) and has the drain loop move every VM off
// it within the budgets. A dry run only shows the plan.
func (d *Daemon) Drain(ctx context.Context, host string, dryRun bool) (api.DrainResult, error) {
	d.mu.Lock()
	w, ok := d.byName[host]
	if !ok {
		d.mu.Unlock()
		return api.DrainResult{}, fmt.Errorf("unknown host %q: %w", host, api.ErrNotFound)
	}
	plan := d.drainPlan(w)
	if !dryRun && !w.draining {
		w.draining = true
		w.sig.Operator.Maintenance = true
		d.markDirty(w)
	}
	d.mu.Unlock()
	res := api.DrainResult{Host: host, DryRun: dryRun, Plan: plan}
	if dryRun {
		return res, nil
	}
	d.journal(ctx, store.Entry{Kind: "decision", Host: host, Reason: "drain",
		Message: fmt.Sprintf("drain of %s by an operator: maintenance, %d VMs to move", host, len(plan))})
	d.kickDrain()
	return res, nil
}

// drainPlan places every running VM of the host elsewhere. Caller holds d.mu.
func (d *Daemon) drainPlan(w *hostWatch) []api.PlannedMove {
	var out []api.PlannedMove
	for _, p := range policy.EvacuationPlan(d.snapshot(), w.cfg.Name) {
		out = append(out, policy.Move{VM: p.VM, From: w.cfg.Name, To: p.Host, Why: p.Reason})
	}
	return out
}

// Undrain ends a host's maintenance; it takes new placements again.
func (d *Daemon) Undrain(ctx context.Context, host string) error {
	d.mu.Lock()
	w, ok := d.byName[host]
	if !ok {
		d.mu.Unlock()
		return fmt.Errorf("unknown host %q: %w", host, api.ErrNotFound)
	}
	was := w.draining
	w.draining = false
	w.sig.Operator.Maintenance = false
	d.markDirty(w)
	d.mu.Unlock()
	if was {
		d.journal(ctx, store.Entry{Kind: "decision", Host: host, Reason: "undrain", Message: "maintenance of " + host + " ended by an operator"})
	}
	return nil
}

func (d *Daemon) kickDrain() {
	select {
	case d.drainKick <- struct{}{}:
	default:
	}
}

// drainLoop is level-based: every second (and when asked) it takes a snapshot and asks
// policy.Evacuations which hosts to empty (drained ones, and degraded ones while recovery is
// automatic, armed and not frozen) and which migrations to submit. An evacuation runs under its
// plan (approved by lifeboat itself in automatic mode). After a daemon restart, a drain recorded
// in the store resumes by itself.
func (d *Daemon) drainLoop(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	complete := map[string]bool{}
	evacuating := map[string]bool{} // hosts whose evacuation started, for its notifications
	retries := newDrainRetries()
	var idle bool // the last pass had no host to empty
	var last time.Time
	for {
		kicked := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.drainKick:
			kicked = true
		}
		if !kicked && idle && time.Since(last) < quietBackstop && d.nothingToEmpty() {
			continue // a pass would snapshot every VM record to find no host to empty
		}
		snap := d.takeSnapshot()
		retries.observe(d.engine.List())
		idle, last = d.evacuateOnce(ctx, snap, complete, evacuating, retries) == 0, time.Now()
	}
}

// nothingToEmpty reports whether no host is one policy.Evacuations may empty (policy.MayEmpty):
// a pass would find no host to empty. It walks the hosts, not the VMs.
func (d *Daemon) nothingToEmpty() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, w := range d.hosts {
		if policy.MayEmpty(policy.HostView{Draining: w.draining, Verdict: w.verdict}) {
			return false
		}
	}
	return true
}

// evacuateOnce executes one pass of evacuations and drains, and returns how many hosts it
// empties. A VM whose migration keeps failing is retried with a backoff (retries), and the VMs
// that cannot leave are listed, with the reason, in the host view.
func (d *Daemon) evacuateOnce(ctx context.Context, snap policy.Snapshot, complete, evacuating map[string]bool, retries *drainRetries) int {
	if !d.leading() {
		return 0 // a follower watches; only the acting daemon moves VMs
	}
	evs := policy.Evacuations(snap)
	active := map[string]bool{}
	var notes []store.Entry
	now := d.now()
	stuck := map[string][]api.StuckVM{}
	for _, ev := range evs {
		stuck[ev.Host] = stuckVMs(snap, ev, retries)
		active[ev.Host] = true
		w := d.byName[ev.Host]
		what := "drain of " + ev.Host
		allowed := true
		if !ev.Drain {
			d.mu.Lock()
			top, since := w.health.track.Top, w.health.track.Since
			d.mu.Unlock()
			what = "evacuation of degraded " + ev.Host + " (" + stableReason(top) + ")"
			if ev.Left > 0 {
				var moves []policy.Move
				for _, mv := range ev.Moves {
					moves = append(moves, policy.Move{VM: mv.VM, From: mv.Host, To: mv.To, Why: mv.Message})
				}
				for _, st := range ev.Stays {
					if st.Reason == policy.ReasonNoPlacement {
						moves = append(moves, policy.Move{VM: st.VM, From: st.Host, Why: st.Message})
					}
				}
				allowed = d.gate(ctx, planSpec{Kind: policy.PlanKindEvacuation, Host: ev.Host, Group: w.cfg.Group,
					Key: fmt.Sprintf("evacuation/%s/%d", ev.Host, since.UnixNano()), Moves: moves,
					Summary: fmt.Sprintf("evacuation of %s by live migration (%d VMs): %s", ev.Host, ev.Left, stableReason(top))})
			}
		}
		for _, st := range ev.Stays {
			notes = append(notes, store.Entry{Kind: "decision", Host: ev.Host, VM: st.VM, Reason: string(st.Reason), Message: st.Message})
		}
		if allowed {
			for _, mv := range ev.Moves {
				if rt, ok := retries.blocked(mv.UUID, now); ok {
					// A migration that keeps failing is retried with a growing backoff, not every tick.
					notes = append(notes, store.Entry{Kind: "decision", Host: ev.Host, VM: mv.VM, Reason: "migration_backoff",
						Message: fmt.Sprintf("%s: %s cannot leave yet: its live migration failed %d time(s) in a row (%s); next try after %s",
							what, mv.VM, rt.failures, rt.reason, drainBackoff(rt.failures))})
					continue
				}
				purpose := migrate.PurposeEvacuation
				if ev.Drain {
					purpose = migrate.PurposeDrain
				}
				req := migrate.Request{VM: mv.VM, UUID: mv.UUID, From: mv.Host, To: mv.To, Purpose: purpose,
					FromURI: w.cfg.URI, ToURI: d.byName[mv.To].cfg.URI, Why: mv.Message}
				if _, err := d.engine.Submit(d.withOverride(req)); err != nil && !errors.Is(err, migrate.ErrBusy) {
					d.log.Warn("drain: cannot submit a migration", "vm", mv.VM, "err", err)
					continue
				}
				if !ev.Drain && !evacuating[ev.Host] {
					evacuating[ev.Host] = true
					d.m.evacuations.Inc()
					d.notify(notify.Notification{Kind: "evacuation", At: d.now(), Host: ev.Host, Message: what})
				}
			}
		}
		if ev.Left == 0 && !complete[ev.Host] {
			complete[ev.Host] = true
			notes = append(notes, store.Entry{Kind: "decision", Host: ev.Host, Reason: "drain_complete", Message: what + " complete: no VM runs there"})
			if !ev.Drain {
				if evacuating[ev.Host] {
					d.notify(notify.Notification{Kind: "evacuation_complete", At: d.now(), Host: ev.Host, Message: "evacuation of " + ev.Host + " complete: no VM runs there"})
				}
				d.finishPlanFor(ctx, policy.PlanKindEvacuation, ev.Host, policy.PlanDone, "the host is empty")
			}
		}
	}
	for _, w := range d.hosts {
		if !active[w.cfg.Name] {
			complete[w.cfg.Name] = false
			delete(evacuating, w.cfg.Name)
			d.mu.Lock()
			d.forgetNotes(w.cfg.Name)
			d.mu.Unlock()
		}
	}
	d.mu.Lock()
	d.stuck = stuck
	d.mu.Unlock()
	for _, n := range dedupe(notes, d) {
		d.journal(ctx, n)
	}
	return len(evs)
}

// stableReason says what degraded a host in words that do not change from one second to the
// next (the journal deduplicates on them).
func stableReason(o policy.Observation) string {
	switch o.Key {
	case "latency":
		return "libvirt round trips are slow"
	case "memory":
		return "memory pressure"
	}
	return o.Reason
}

// forgetNotes drops the remembered notes about a host, once its drain or evacuation is over.
// Caller holds d.mu.
func (d *Daemon) forgetNotes(host string) {
	for k := range d.noted {
		if strings.HasPrefix(k, host+"/") {
			delete(d.noted, k)
		}
	}
}

// dedupe drops a "cannot move" note already made for the same VM and reason.
func dedupe(notes []store.Entry, d *Daemon) []store.Entry {
	var out []store.Entry
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, n := range notes {
		key := n.Host + "/" + n.VM + "/" + n.Message
		if d.noted[key] {
			continue
		}
		d.noted[key] = true
		out = append(out, n)
	}
	return out
}

// Migrations lists running and recent migrations.
func (d *Daemon) Migrations(context.Context) ([]api.MigrationView, error) {
	if d.engine == nil {
		return []api.MigrationView{}, nil
	}
	ms := d.engine.List()
	out := make([]api.MigrationView, 0, len(ms))
	for _, m := range ms {
		out = append(out, migrationView(m))
	}
	return out, nil
}

func migrationView(m migrate.Migration) api.MigrationView {
	return api.MigrationView{ID: m.ID, VM: m.VM, From: m.From, To: m.To, Why: m.Why, State: string(m.State),
		Queued: m.Queued, Started: m.Started, Ended: m.Ended, Percent: m.Percent, DataRemaining: m.DataRemaining,
		MaxDowntimeMs: m.MaxDowntimeMs, Steps: m.Steps, DowntimeMs: m.DowntimeMs, DataBytes: m.DataBytes, Error: m.Error}
}

// Migration returns one migration.
func (d *Daemon) Migration(_ context.Context, id string) (api.MigrationView, error) {
	if d.engine == nil {
		return api.MigrationView{}, fmt.Errorf("unknown migration %q: %w", id, api.ErrNotFound)
	}
	m, err := d.engine.Get(id)
	if errors.Is(err, migrate.ErrUnknownMigration) {
		return api.MigrationView{}, fmt.Errorf("unknown migration %q: %w", id, api.ErrNotFound)
	}
	return migrationView(m), err
}

// CancelMigration stops a migration; the VM stays on its source.
func (d *Daemon) CancelMigration(_ context.Context, id string) error {
	if d.engine == nil {
		return fmt.Errorf("unknown migration %q: %w", id, api.ErrNotFound)
	}
	if err := d.engine.Cancel(id); err != nil {
		return fmt.Errorf("%w: %w", err, api.ErrNotFound)
	}
	return nil
}

// ExplainVM shows where a VM runs, where it belongs, and how every host scores as a target.
func (d *Daemon) ExplainVM(_ context.Context, name string) (api.VMExplanation, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.vmByName(name)
	if err != nil {
		return api.VMExplanation{}, err
	}
	pl := policy.Place(d.placementConfig(), d.capacities(), request(r))
	cands := scoreViews(pl.Candidates)
	sort.SliceStable(cands, func(i, j int) bool { return cands[i].Total > cands[j].Total && cands[i].Feasible })
	return api.VMExplanation{VM: r.Name, UUID: r.UUID, Host: r.CurrentHost, HomeHost: r.HomeHost, State: r.State,
		Best: pl.Host, Reason: pl.Reason, Candidates: cands, Note: strings.TrimSpace(protectionNote(r)), Guest: d.guestNote(r.UUID)}, nil
}

func protectionNote(r *store.VMRecord) string {
	if r.Protected {
		return fmt.Sprintf("protected, priority %d", r.Priority)
	}
	return "not protected"
}

// Degrade marks a host degraded by an operator, with a reason: it takes no new placements and
// is evacuated by live migration.
func (d *Daemon) Degrade(ctx context.Context, host, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return fmt.Errorf("degrade %s needs a reason: %w", host, api.ErrBadRequest)
	}
	d.mu.Lock()
	w, ok := d.byName[host]
	if ok {
		w.sig.Operator.Degraded, w.sig.Operator.DegradedReason = true, reason
		d.markDirty(w)
	}
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("unknown host %q: %w", host, api.ErrNotFound)
	}
	d.saveHost(ctx, w)
	d.journal(ctx, store.Entry{Kind: "decision", Host: host, Reason: "operator_degraded", Message: "an operator marked " + host + " degraded: " + reason})
	d.kickDrain()
	return nil
}

// Repair clears an operator's degraded mark and the latched observations (guest I/O errors,
// alerts; an alert still firing returns with Alertmanager's next notification). The host is
// healthy again once its health score stays low for health.clear_after.
func (d *Daemon) Repair(ctx context.Context, host string) error {
	d.mu.Lock()
	w, ok := d.byName[host]
	if ok {
		w.sig.Operator.Degraded, w.sig.Operator.DegradedReason = false, ""
		w.clearLatched()
		d.markDirty(w)
	}
	d.mu.Unlock()
	if !ok {
		return fmt.Errorf("unknown host %q: %w", host, api.ErrNotFound)
	}
	d.saveHost(ctx, w)
	d.journal(ctx, store.Entry{Kind: "decision", Host: host, Reason: "operator_repaired", Message: "an operator marked " + host + " repaired"})
	return nil
}
