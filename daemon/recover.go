package daemon

import (
	"context"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// recoveryTick is how often the recovery loop reconciles while anything is going on;
// quietBackstop how often it reconciles a quiet cluster all the same (see recoveryQuiet).
const (
	recoveryTick  = 300 * time.Millisecond
	quietBackstop = 5 * time.Second
)

// recoveryLoop reconciles on every tick, and at once when a restart ended (the restart
// budget has room again: a wave of restarts is not paced by the tick): it takes a snapshot,
// asks policy.Reconcile what to do, and executes the actions, each recorded before it runs.
// It is level-based: after a daemon restart it carries on from the records (the guards, plans
// and VM records in the store).
//
// A quiet cluster (recoveryQuiet) after a pass that did nothing is not reconciled on every
// tick, only every quietBackstop: on a large fleet a pass snapshots every VM record, and it
// would find nothing to do. Anything that makes the cluster less than quiet (a verdict, a guard
// record, a crashed guest, an open recovery plan, a job in flight) brings the ticks back.
func (d *Daemon) recoveryLoop(ctx context.Context) {
	t := time.NewTicker(recoveryTick)
	defer t.Stop()
	var idle bool // the last pass did nothing
	var last time.Time
	for {
		kicked := false
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.recoverKick:
			kicked = true
		}
		if !kicked && idle && time.Since(last) < quietBackstop {
			d.mu.Lock()
			quiet := d.recoveryQuiet()
			d.mu.Unlock()
			if quiet {
				d.m.recoveryPasses.WithLabelValues("skipped").Inc()
				continue
			}
		}
		idle, last = d.recoverOnce(ctx) == 0, time.Now()
	}
}

// recoveryQuiet reports whether the cluster gives a reconcile pass nothing to do: every host
// answers and is healthy with no crashed guest, no fence record counts, nothing is frozen,
// queued, restarting, fencing or restarting in place, and no recovery plan is open. It walks
// the hosts, not the VMs. Caller holds d.mu.
func (d *Daemon) recoveryQuiet() bool {
	g := d.guards
	if len(d.fencing)+len(d.restarting)+len(d.resetting) > 0 || g.Freeze.Frozen || len(g.Restarts) > 0 || len(g.Resets) > 0 {
		return false
	}
	for _, fr := range g.Fences {
		if fr.Outcome != policy.FenceNone {
			return false
		}
	}
	for _, w := range d.hosts {
		if w.verdict.State != policy.Healthy || w.sig.Libvirt.Result != policy.ProbeOK || len(w.faults) > 0 {
			return false
		}
	}
	for _, p := range d.plans.byID {
		if p.Kind == policy.PlanKindRecovery && !p.State.Closed() {
			return false
		}
	}
	return true
}

// kickRecovery asks the recovery loop to reconcile now.
func (d *Daemon) kickRecovery() {
	select {
	case d.recoverKick <- struct{}{}:
	default:
	}
}

// recoverOnce is one pass: snapshot, reconcile, execute. It returns how many actions the
// reconciler gave (holds included).
func (d *Daemon) recoverOnce(ctx context.Context) int {
	if !d.leading() {
		return 0 // a follower watches; only the acting daemon fences and restarts
	}
	now := d.now()
	snap := d.takeSnapshot()
	acts := policy.Reconcile(snap, now)
	d.m.recoveryPasses.WithLabelValues("run").Inc()
	d.execute(ctx, snap, acts, now)
	return len(acts)
}
