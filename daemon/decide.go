package daemon

import (
	"context"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/witness"
)

// leaseRecheck is how often the disk-lease witness is read again for a host whose libvirt
// fails: the lockspace tells no one when a lease is released, so such a host is decided again
// this often while it fails. Healthy hosts are never read.
const leaseRecheck = 200 * time.Millisecond

// decideLoop decides a host when one of its signals changed (the observation marks it dirty,
// see markDirty) or when its next check comes (policy.NextCheck: the verdict may change by
// time alone). Nothing walks the fleet: a steady fleet costs no decisions.
func (d *Daemon) decideLoop(ctx context.Context) {
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		d.decidePending(ctx)
		wait := time.Hour
		if at, ok := d.queue.next(); ok {
			wait = max(at.Sub(d.now()), 0)
		}
		t.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-d.queue.wake:
		}
	}
}

// markDirty asks for a decision on the host, after one of its signals changed. Callable with
// or without d.mu.
func (d *Daemon) markDirty(w *hostWatch) { d.queue.mark(w.idx) }

// decidePending decides the hosts marked dirty and those whose next check has come.
func (d *Daemon) decidePending(ctx context.Context) {
	now := d.now()
	if idx := d.queue.take(now); len(idx) > 0 {
		d.decideHosts(ctx, idx, now)
	}
}

// decideAll decides every host now, whatever changed (tests, and the benchmark's baseline of a
// fleet-wide walk).
func (d *Daemon) decideAll(ctx context.Context) {
	d.queue.markAll()
	d.decidePending(ctx)
}

// decision is what deciding one host left to record.
type decision struct {
	change *store.Entry  // the verdict changed
	record bool          // the host record must be stored
	lapsed []store.Entry // alerts that stopped counting
	rec    store.HostRecord
}

// decideHosts runs the detector for each of the hosts (by index), each in its own short
// critical section, schedules each host's next check, and records the verdicts that changed.
func (d *Daemon) decideHosts(ctx context.Context, idx []int, now time.Time) {
	leases := d.leaseSignals(idx)
	var changes, lapsed []store.Entry
	var records []store.HostRecord
	for _, i := range idx {
		w := d.hosts[i]
		d.mu.Lock()
		dec, next := d.decideHost(w, leases, now)
		d.queue.schedule(i, next) // under d.mu: the next check of the latest decision wins
		d.mu.Unlock()
		if dec.change != nil {
			changes = append(changes, *dec.change)
		}
		if dec.record {
			records = append(records, dec.rec)
		}
		lapsed = append(lapsed, dec.lapsed...)
	}
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
}

// decideHost runs the detector over one host at now and keeps its verdict; it returns what to
// record and the host's next check (zero: none). Caller holds d.mu.
func (d *Daemon) decideHost(w *hostWatch, leases map[string]policy.LeaseSignal, now time.Time) (decision, time.Time) {
	var dec decision
	if ls, ok := leases[w.cfg.Name]; ok {
		w.sig.Lease = ls
	}
	gone, healthNext := d.scoreHealth(w, now)
	dec.lapsed = gone
	d.fenceSignal(w)
	v, track := policy.Decide(d.det, w.track, w.sig, now)
	d.m.decisions.Inc()
	prev := w.verdict
	w.track, w.verdict = track, v
	next := policy.EarliestCheck(policy.NextCheck(d.det, track, w.sig, now), healthNext)
	if w.sig.Lease.Configured && libvirtFailing(w) {
		next = policy.EarliestCheck(next, now.Add(leaseRecheck))
	}
	if !v.Changed && prev.State != "" {
		if len(gone) > 0 {
			dec.record, dec.rec = true, d.hostRecord(w, now)
		}
		return dec, next
	}
	e := store.Entry{At: now, Kind: "verdict", Host: w.cfg.Name, Reason: string(v.Reason),
		Message: w.cfg.Name + " is " + string(v.State) + ": " + v.Message}
	w.history = append(w.history, e)
	if len(w.history) > 20 {
		w.history = w.history[len(w.history)-20:]
	}
	dec.change = &e
	dec.record, dec.rec = true, d.hostRecord(w, now)
	d.m.verdicts.WithLabelValues(string(v.State)).Inc()
	d.m.moveHostState(prev.State, v.State)
	if (v.State == policy.Failed || v.State == policy.Unreachable) && prev.State != policy.Failed && prev.State != policy.Unreachable && !w.sig.Libvirt.LastOK.IsZero() {
		d.m.detectSeconds.Observe(now.Sub(w.sig.Libvirt.LastOK).Seconds())
	}
	d.log.Info("verdict", "host", w.cfg.Name, "state", v.State, "reason", v.Reason, "message", v.Message, "was", prev.State)
	return dec, next
}

// leaseSignals reads the disk-lease witness for those of the hosts (by index) whose libvirt
// does not answer (the only ones whose verdict it can change): of the leases of the VMs last
// seen running there, how many are still held. Healthy hosts are not read, so a large fleet
// costs nothing in steady state.
func (d *Daemon) leaseSignals(idx []int) map[string]policy.LeaseSignal {
	if d.conf().LeaseDir == "" {
		return nil
	}
	want := map[string]bool{}
	d.mu.Lock()
	for _, i := range idx {
		if w := d.hosts[i]; w.sig.Libvirt.Result != policy.ProbeOK {
			want[w.cfg.Name] = true
		}
	}
	disks := map[string][]string{}
	for host := range want {
		for _, r := range d.vmsOnHost(host) {
			if r.CurrentHost == host {
				disks[host] = append(disks[host], d.disks[r.UUID]...)
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
