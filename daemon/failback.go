package daemon

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
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
	// rehome marks operator switchovers: a VM moved on purpose gets the target as its new home.
	rehome map[string]bool
	// waiting remembers the last "why not yet" per home host, to journal changes only.
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
	if slices.Contains(d.cfg.Failback.NoFailbackVMs, r.Name) {
		return true
	}
	if w, ok := d.byName[r.HomeHost]; ok && w.cfg.Group != "" {
		return slices.Contains(d.cfg.Failback.NoFailbackGroups, w.cfg.Group)
	}
	return false
}

// failbackLoop returns VMs to their home hosts once those have been healthy for
// failback.stable_for, in waves of failback.wave_size, failback.wave_interval apart. It is
// level-based, like the drain loop: after a daemon restart it carries on from the records.
func (d *Daemon) failbackLoop(ctx context.Context) {
	if !d.cfg.Failback.Enabled {
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

func (d *Daemon) failbackOnce(ctx context.Context) {
	now := d.now()
	fc := d.cfg.Failback
	d.mu.Lock()
	if d.frozen || d.engine == nil {
		d.mu.Unlock()
		return
	}
	hosts := make([]policy.FailbackHost, 0, len(d.hosts))
	for _, w := range d.hosts {
		hosts = append(hosts, policy.FailbackHost{Name: w.cfg.Name, State: w.verdict.State, Since: w.verdict.Since})
	}
	var vms []policy.FailbackVM
	for _, r := range d.vms {
		vms = append(vms, policy.FailbackVM{Name: r.Name, UUID: r.UUID, Current: r.CurrentHost, Home: r.HomeHost, Priority: r.Priority,
			Running: r.State == "running", Busy: d.engine.Busy(r.UUID), NoFailback: d.noFailback(r)})
	}
	inFlight := 0
	for id := range d.fb.migrations {
		if m, err := d.engine.Get(id); err == nil && (m.State == migrate.StateQueued || m.State == migrate.StateRunning) {
			inFlight++
		} else {
			delete(d.fb.migrations, id)
		}
	}
	plan := policy.PlanFailback(policy.FailbackConfig{StableFor: fc.StableFor.D(), WaveSize: fc.WaveSize, WaveInterval: fc.WaveInterval.D()},
		hosts, vms, d.fb.lastWave, inFlight, now)
	// Every move must also fit its home host now (capacity, affinity).
	byHome := map[string][]api.PlanMove{}
	var reqs []migrate.Request
	for _, mv := range plan.Moves {
		r := d.vms[mv.UUID]
		home := d.byName[mv.To]
		var target []policy.HostCapacity
		for _, h := range d.capacities() {
			if h.Name == mv.To {
				target = append(target, h)
			}
		}
		if pl := policy.Place(d.placementConfig(), target, request(r)); pl.Host == "" {
			plan.Waiting[mv.To] = fmt.Sprintf("%s does not fit on %s now: %s", mv.VM, mv.To, pl.Reason)
			continue
		}
		byHome[mv.To] = append(byHome[mv.To], api.PlanMove{VM: mv.VM, From: mv.From, To: mv.To, Why: mv.Why})
		reqs = append(reqs, migrate.Request{VM: mv.VM, UUID: mv.UUID, From: mv.From, To: mv.To,
			FromURI: d.byName[mv.From].cfg.URI, ToURI: home.cfg.URI, Why: mv.Why})
	}
	// The plan a person approves shows every VM going home, not only this wave.
	for home := range byHome {
		var all []api.PlanMove
		for _, vm := range vms {
			if vm.Home == home && vm.Current != home && vm.Current != "" && !vm.NoFailback {
				all = append(all, api.PlanMove{VM: vm.Name, From: vm.Current, To: home, Why: "its home host, healthy again"})
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].VM < all[j].VM })
		byHome[home] = all
	}
	var notes []store.Entry
	if d.fb.waiting == nil {
		d.fb.waiting = map[string]string{}
	}
	for host, why := range plan.Waiting {
		// Only the kind of wait is news, not its count-down.
		kind, _, _ := strings.Cut(why, " for ")
		if d.fb.waiting[host] != kind {
			d.fb.waiting[host] = kind
			notes = append(notes, store.Entry{At: now, Kind: "decision", Host: host, Reason: "failback_waiting",
				Message: fmt.Sprintf("failback to %s waits (%d VMs away): %s", host, plan.Away[host], why)})
		}
	}
	// A home host with nothing left away has its failback done.
	var done []string
	for _, w := range d.hosts {
		if plan.Away[w.cfg.Name] == 0 {
			delete(d.fb.waiting, w.cfg.Name)
			done = append(done, w.cfg.Name)
		}
	}
	keys := map[string]string{}
	groups := map[string]string{}
	for home := range byHome {
		w := d.byName[home]
		keys[home] = fmt.Sprintf("failback/%s/%d", home, w.verdict.Since.UnixNano())
		groups[home] = w.cfg.Group
	}
	d.mu.Unlock()
	for _, n := range notes {
		d.journal(ctx, n)
	}
	for _, host := range done {
		d.finishPlanPrefix(ctx, "failback/"+host+"/", planDone, "every VM is back on "+host)
	}
	homes := make([]string, 0, len(byHome))
	for h := range byHome {
		homes = append(homes, h)
	}
	sort.Strings(homes)
	approved := map[string]bool{}
	for _, home := range homes {
		moves := byHome[home]
		approved[home] = d.gate(ctx, planSpec{Kind: "failback", Host: home, Group: groups[home], Key: keys[home], Moves: moves,
			Summary: fmt.Sprintf("failback of %d VMs to %s, healthy again for %s", plan.Away[home], home, fc.StableFor)})
	}
	var started []string
	for _, req := range reqs {
		if !approved[req.To] {
			continue
		}
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
		msg := fmt.Sprintf("failback wave: %s (home hosts healthy for at least %s; waves of %d, %s apart)", strings.Join(started, ", "), fc.StableFor, fc.WaveSize, fc.WaveInterval)
		d.journal(ctx, store.Entry{At: now, Kind: "decision", Reason: "failback", Message: msg})
		d.notify(notify.Notification{Kind: "failback", At: now, Message: msg})
	}
}

// finishPlanPrefix ends the running plans whose key starts with prefix.
func (d *Daemon) finishPlanPrefix(ctx context.Context, prefix, state, result string) {
	d.mu.Lock()
	var keys []string
	for k, p := range d.plans.byKey {
		if strings.HasPrefix(k, prefix) && p.State == planRunning {
			keys = append(keys, k)
		}
	}
	d.mu.Unlock()
	for _, k := range keys {
		d.finishPlan(ctx, k, state, result)
	}
}
