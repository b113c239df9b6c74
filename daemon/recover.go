package daemon

import (
	"context"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// recoveryTick is how often the recovery loop reconciles.
const recoveryTick = 300 * time.Millisecond

// recoveryLoop reconciles on every tick, and at once when a restart ended (the restart
// budget has room again: a wave of restarts is not paced by the tick): it takes a snapshot,
// asks policy.Reconcile what to do, and executes the actions, each recorded before it runs.
// It is level-based: after a daemon restart it carries on from the records (the guards, plans
// and VM records in the store).
func (d *Daemon) recoveryLoop(ctx context.Context) {
	t := time.NewTicker(recoveryTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.recoverKick:
		}
		d.recoverOnce(ctx)
	}
}

// kickRecovery asks the recovery loop to reconcile now.
func (d *Daemon) kickRecovery() {
	select {
	case d.recoverKick <- struct{}{}:
	default:
	}
}

// recoverOnce is one pass: snapshot, reconcile, execute.
func (d *Daemon) recoverOnce(ctx context.Context) {
	if !d.leading() {
		return // a follower watches; only the acting daemon fences and restarts
	}
	now := d.now()
	snap := d.takeSnapshot()
	d.execute(ctx, snap, policy.Reconcile(snap, now), now)
}
