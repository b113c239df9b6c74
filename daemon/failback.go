package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/migrate"
	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// failbackState is the failback loop's memory (guarded by d.mu).
type failbackState struct {
	// lastWave is when the latest wave started; migrations maps its migration ids to VM names.
	lastWave   time.Time
	migrations map[string]string
	// failed is when each VM's latest failback migration failed: it waits before trying again.
	failed map[string]time.Time
	// waiting remembers the last wait code per home host, to journal changes only.
	waiting map[string]string
}

func (d *Daemon) kickFailback() {
	select {
	case d.failbackKick <- struct{}{}:
	default:
	}
}

// noFailback reports whether a VM stays where it landed (failback.nofailback_vms, or its home
// host's group in failback.nofailback_groups).
func (d *Daemon) noFailback(r *store.VMRecord) bool {
	if slices.Contains(d.conf().Failback.NoFailbackVMs, r.Name) {
		return true
	}
	if w, ok := d.byName[r.HomeHost]; ok && w.cfg.Group != "" {
		return slices.Contains(d.conf().Failback.NoFailbackGroups, w.cfg.Group)
	}
	return false
}

func (d *Daemon) failbackConfig() policy.FailbackConfig {
	fc := d.conf().Failback
	return policy.FailbackConfig{StableFor: fc.StableFor.D(), WaveSize: fc.WaveSize, WaveInterval: fc.WaveInterval.D()}
}

// failbackLoop returns VMs to their home hosts once those have been healthy for
// failback.stable_for, in waves of failback.wave_size, failback.wave_interval apart. It is
// level-based, like the drain loop: after a daemon restart it carries on from the records.
func (d *Daemon) failbackLoop(ctx context.Context) {
	if !d.conf().Failback.Enabled {
		return
	}
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.failbackKick:
		}
		d.failbackOnce(ctx)
	}
}

// failbackInput is the failback loop's view of the cluster. Caller holds d.mu.
func (d *Daemon) failbackInput(now time.Time) ([]policy.FailbackHost, []policy.FailbackVM) {
	hosts := make([]policy.FailbackHost, 0, len(d.hosts))
	ok := map[string]bool{}
	for _, w := range d.hosts {
		hosts = append(hosts, policy.FailbackHost{Name: w.cfg.Name, State: w.verdict.State, Since: w.verdict.Since, Spells: policy.Spells(d.det, w.track, now)})
		ok[w.cfg.Name] = w.sig.Libvirt.Result == policy.ProbeOK
	}
	backoff := max(d.conf().Failback.StableFor.D(), time.Minute)
	vms := make([]policy.FailbackVM, 0, len(d.vms))
	for _, r := range d.vms {
		if r.HomeHost == "" || r.CurrentHost == r.HomeHost {
			continue
		}
		failed, hadFailure := d.fb.failed[r.UUID]
		vms = append(vms, policy.FailbackVM{Name: r.Name, UUID: r.UUID, Current: r.CurrentHost, Home: r.HomeHost, Priority: r.Priority,
			Running:    r.State == "running" && ok[r.CurrentHost],
			Busy:       d.engine.Busy(r.UUID) || d.restarting[r.UUID] || (hadFailure && now.Sub(failed) < backoff),
			NoFailback: d.noFailback(r)})
	}
	return hosts, vms
}

func (d *Daemon) failbackOnce(ctx context.Context) {
	if !d.leading() {
		return // a follower watches; only the acting daemon moves VMs
	}
	now := d.now()
	fcfg := d.failbackConfig()
	d.mu.Lock()
	if d.guards.Freeze.Frozen || d.disarmedLocked() || d.engine == nil {
		d.mu.Unlock()
		return
	}
	// A failback whose home is no longer healthy stops: nothing lands on a host that went bad
	// again inside its window.
	to := map[string]string{}
	for id := range d.fb.migrations {
		m, err := d.engine.Get(id)
		if err != nil || m.State.Done() {
			delete(d.fb.migrations, id)
			continue
		}
		to[id] = m.To
	}
	inFlight := len(to)
	hosts, vms := d.failbackInput(now)
	cancel := policy.FailbackCancels(to, hosts)
	homes := policy.FailbackHomes(fcfg, hosts, vms, now)
	d.mu.Unlock()
	for _, id := range cancel {
		if err := d.engine.Cancel(id); err == nil {
			d.journal(ctx, store.Entry{At: now, Kind: "decision", Reason: "failback_stopped",
				Message: fmt.Sprintf("failback migration %s cancelled: its home host is no longer healthy", id)})
		}
	}

	// Each home's failback runs under a plan (approved by lifeboat itself in automatic mode); a
	// home waiting for a person holds none of the wave's places.
	held := map[string]bool{}
	for _, h := range hosts {
		moves := homes[h.Name]
		if len(moves) == 0 {
			continue
		}
		held[h.Name] = !d.gate(ctx, planSpec{Kind: policy.PlanKindFailback, Host: h.Name, Group: d.byName[h.Name].cfg.Group,
			Key: fmt.Sprintf("failback/%s/%d", h.Name, h.Since.UnixNano()), Moves: moves,
			Summary: fmt.Sprintf("failback of %d VMs to %s, healthy again for %s", len(moves), h.Name, d.conf().Failback.StableFor)})
	}

	d.mu.Lock()
	for i := range hosts {
		hosts[i].Held = held[hosts[i].Name]
	}
	plan := policy.PlanFailback(fcfg, hosts, vms, d.fb.lastWave, inFlight, now)
	// Every move of the wave must also fit its home host, counting the wave's earlier moves.
	want := map[string]policy.VMRequest{}
	for _, mv := range plan.Moves {
		want[mv.UUID] = request(d.vms[mv.UUID])
	}
	plan = policy.FitFailback(plan, d.placementConfig(), d.capacities(), want)
	var reqs []migrate.Request
	for _, mv := range plan.Moves {
		reqs = append(reqs, migrate.Request{VM: mv.VM, UUID: mv.UUID, From: mv.From, To: mv.To, Purpose: migrate.PurposeFailback,
			FromURI: d.byName[mv.From].cfg.URI, ToURI: d.byName[mv.To].cfg.URI, Why: mv.Why})
	}
	if d.fb.waiting == nil {
		d.fb.waiting = map[string]string{}
	}
	var notes []store.Entry
	for host, wt := range plan.Waiting {
		if d.fb.waiting[host] != wt.Code { // only a new kind of wait is news, not its count-down
			d.fb.waiting[host] = wt.Code
			notes = append(notes, store.Entry{At: now, Kind: "decision", Host: host, Reason: "failback_waiting",
				Message: fmt.Sprintf("failback to %s waits (%d VMs away): %s", host, plan.Away[host], wt.Message)})
		}
	}
	// A home host with nothing left away has its failback done.
	var done []string
	for _, w := range d.hosts {
		if plan.Away[w.cfg.Name] == 0 {
			if _, was := d.fb.waiting[w.cfg.Name]; was || d.openPlan("failback", w.cfg.Name) != nil {
				done = append(done, w.cfg.Name)
			}
			delete(d.fb.waiting, w.cfg.Name)
		}
	}
	d.mu.Unlock()
	for _, n := range notes {
		d.journal(ctx, n)
	}
	for _, host := range done {
		d.finishPlanFor(ctx, "failback", host, policy.PlanDone, "every VM is back on "+host)
	}
	var started []string
	for _, req := range reqs {
		m, err := d.engine.Submit(d.withOverride(req))
		if err != nil {
			if !errors.Is(err, migrate.ErrBusy) {
				d.log.Warn("failback: cannot submit a migration", "vm", req.VM, "err", err)
			}
			continue
		}
		d.mu.Lock()
		d.fb.migrations[m.ID] = req.VM
		d.fb.lastWave = now
		d.mu.Unlock()
		started = append(started, req.VM+" "+req.From+" → "+req.To)
	}
	if len(started) > 0 {
		fc := d.conf().Failback
		msg := fmt.Sprintf("failback wave: %s (home hosts healthy for at least %s; waves of %d, %s apart)", strings.Join(started, ", "), fc.StableFor, fc.WaveSize, fc.WaveInterval)
		d.journal(ctx, store.Entry{At: now, Kind: "decision", Reason: "failback", Message: msg})
		d.notify(notify.Notification{Kind: "failback", At: now, Message: msg})
	}
}
