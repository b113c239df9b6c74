package daemon

import (
	"context"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/witness"
)

// decideTick is how often verdicts are re-evaluated without a new observation (time alone moves
// a host from suspect to unreachable).
const decideTick = 200 * time.Millisecond

// decideLoop re-evaluates every host's verdict on each tick and whenever an observation changed.
func (d *Daemon) decideLoop(ctx context.Context) {
	t := time.NewTicker(decideTick)
	defer t.Stop()
	for {
		d.decideAll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.kick:
		}
	}
}

// decideAll runs the detector for every host and records the verdicts that changed.
func (d *Daemon) decideAll(ctx context.Context) {
	leases := d.leaseSignals()
	now := d.now()
	var changes []store.Entry
	var records []store.HostRecord
	var lapsed []store.Entry // alerts that stopped counting
	d.mu.Lock()
	for _, w := range d.hosts {
		if ls, ok := leases[w.cfg.Name]; ok {
			w.sig.Lease = ls
		}
		gone := d.scoreHealth(w, now)
		lapsed = append(lapsed, gone...)
		d.fenceSignal(w)
		v, next := policy.Decide(d.det, w.track, w.sig, now)
		prev := w.verdict
		w.track, w.verdict = next, v
		if !v.Changed && prev.State != "" {
			if len(gone) > 0 {
				records = append(records, d.hostRecord(w, now))
			}
			continue
		}
		e := store.Entry{At: now, Kind: "verdict", Host: w.cfg.Name, Reason: string(v.Reason),
			Message: w.cfg.Name + " is " + string(v.State) + ": " + v.Message}
		w.history = append(w.history, e)
		if len(w.history) > 20 {
			w.history = w.history[len(w.history)-20:]
		}
		changes = append(changes, e)
		records = append(records, d.hostRecord(w, now))
		d.m.verdicts.WithLabelValues(string(v.State)).Inc()
		if (v.State == policy.Failed || v.State == policy.Unreachable) && prev.State != policy.Failed && prev.State != policy.Unreachable && !w.sig.Libvirt.LastOK.IsZero() {
			d.m.detectSeconds.Observe(now.Sub(w.sig.Libvirt.LastOK).Seconds())
		}
		d.log.Info("verdict", "host", w.cfg.Name, "state", v.State, "reason", v.Reason, "message", v.Message, "was", prev.State)
	}
	d.mu.Unlock()
	ctx = context.WithoutCancel(ctx) // verdicts reached are recorded even while stopping
	for _, r := range records {
		if err := d.db.PutHost(ctx, r); err != nil {
			d.log.Error("cannot store a host record", "host", r.Name, "err", err)
		}
	}
	for _, e := range lapsed {
		d.journal(ctx, e)
	}
	if len(changes) > 0 {
		if _, err := d.db.Append(ctx, changes...); err != nil {
			d.log.Error("journal append failed", "err", err)
		} else {
			d.m.journal.WithLabelValues("verdict").Add(float64(len(changes)))
		}
	}
	d.m.setHostStates(d.hostStates())
}

// leaseSignals reads the disk-lease witness for the hosts whose libvirt does not answer (the
// only ones whose verdict it can change): of the leases of the VMs last seen running there, how
// many are still held. Healthy hosts are not read, so a large fleet costs nothing in steady state.
func (d *Daemon) leaseSignals() map[string]policy.LeaseSignal {
	if d.conf().LeaseDir == "" {
		return nil
	}
	d.mu.Lock()
	want := map[string]bool{}
	for _, w := range d.hosts {
		if w.sig.Libvirt.Result != policy.ProbeOK {
			want[w.cfg.Name] = true
		}
	}
	disks := map[string][]string{}
	if len(want) > 0 {
		for uuid, r := range d.vms {
			if want[r.CurrentHost] {
				disks[r.CurrentHost] = append(disks[r.CurrentHost], d.disks[uuid]...)
			}
		}
	}
	d.mu.Unlock()
	now := d.now()
	out := make(map[string]policy.LeaseSignal, len(want))
	for host := range want {
		known, held, err := witness.Count(d.conf().LeaseDir, disks[host])
		if err != nil {
			d.log.Debug("lease witness", "host", host, "err", err)
		}
		out[host] = policy.LeaseSignal{Configured: true, At: now, Known: known, Held: held}
	}
	return out
}

// hostStates maps each host to its current state, for the metrics.
func (d *Daemon) hostStates() map[string]policy.HostState {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]policy.HostState, len(d.hosts))
	for _, w := range d.hosts {
		out[w.cfg.Name] = w.verdict.State
	}
	return out
}

// hostRecord is what the store keeps of a host: its verdict and the operator's marks. Caller
// holds d.mu.
func (d *Daemon) hostRecord(w *hostWatch, now time.Time) store.HostRecord {
	v := w.verdict
	return store.HostRecord{Name: w.cfg.Name, Role: string(w.cfg.Role), State: string(v.State), Reason: string(v.Reason),
		Message: v.Message, Since: v.Since, UpdatedAt: now, Maintenance: w.draining,
		Degraded: w.sig.Operator.Degraded, DegradedReason: w.sig.Operator.DegradedReason, Observations: w.health.stored()}
}

// saveHost stores a host's record now (after an operator changed its marks).
func (d *Daemon) saveHost(ctx context.Context, w *hostWatch) {
	d.mu.Lock()
	r := d.hostRecord(w, d.now())
	d.mu.Unlock()
	if err := d.db.PutHost(context.WithoutCancel(ctx), r); err != nil {
		d.log.Error("cannot store a host record", "host", r.Name, "err", err)
	}
}
