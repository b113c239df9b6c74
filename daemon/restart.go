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

// startRestart records a restart the reconciler asked for, then runs it.
func (d *Daemon) startRestart(ctx context.Context, a policy.Action, now time.Time) {
	d.mu.Lock()
	busy := d.restarting[a.UUID]
	d.mu.Unlock()
	if busy {
		return
	}
	r := policy.RestartRecord{VM: a.VM, UUID: a.UUID, From: a.Host, To: a.To, Stage: policy.RestartRestarting, Reason: a.Message, Since: now}
	if err := d.putRestart(ctx, r); err != nil {
		return
	}
	d.mu.Lock()
	d.restarting[a.UUID] = true
	d.mu.Unlock()
	go d.restart(ctx, r)
}

// restart starts one VM on its new host from its stored definition, and records the outcome.
func (d *Daemon) restart(ctx context.Context, rs policy.RestartRecord) {
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
	rs.Since = end
	var rec store.VMRecord
	d.mu.Lock()
	if err != nil {
		rs.Stage, rs.Reason = policy.RestartQueued, "restart on "+rs.To+" failed: "+err.Error()
	} else {
		rs.Stage, rs.Reason = policy.RestartRunning, "restarted on "+rs.To
		d.vmArrived(r, rs.To)
		r.CurrentHost, r.State, r.UpdatedAt = rs.To, "running", end
		rec = *r
	}
	d.mu.Unlock()
	_ = d.putRestart(ctx, rs) // the memory holds it if the store does not
	d.mu.Lock()
	d.guards.Restarts[rs.UUID] = rs
	delete(d.restarting, rs.UUID)
	d.mu.Unlock()
	d.kickRecovery() // the restart budget has room again
	if err != nil {
		d.m.recoveries.WithLabelValues("retry").Inc()
		d.journal(ctx, store.Entry{At: end, Kind: "recovery", Host: rs.To, VM: rs.VM, Reason: "restart_failed",
			Message: fmt.Sprintf("%s: restart on %s failed, retrying: %v", rs.VM, rs.To, err)})
		return
	}
	if perr := d.db.PutVM(ctx, rec); perr != nil {
		d.storeFailed("VM record of "+rec.Name, perr)
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
	n.Cluster = d.conf().Cluster
	d.webhook.Notify(n)
}

// Recoveries lists the VMs being recovered and why, the fences running, and a freeze.
func (d *Daemon) Recoveries(context.Context) ([]api.RecoveryView, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]api.RecoveryView, 0, len(d.guards.Restarts))
	for _, rs := range d.guards.Restarts {
		out = append(out, api.RecoveryView{VM: rs.VM, From: rs.From, To: rs.To, State: string(rs.Stage), Reason: rs.Reason, Since: rs.Since})
	}
	for host := range d.fencing {
		w := d.byName[host]
		out = append(out, api.RecoveryView{Host: host, State: "fencing", Reason: w.verdict.Message, Since: d.guards.Fence(host).Attempted})
	}
	if f := d.guards.Freeze; f.Frozen {
		out = append(out, api.RecoveryView{State: "frozen", Reason: f.Message, Since: f.Since})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].VM < out[j].VM })
	return out, nil
}
