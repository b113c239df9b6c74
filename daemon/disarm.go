package daemon

import (
	"context"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/store"
)

// disarmState is the stored record of an admin's stop of all automatic action, for the API and
// the metric; d.disarmed (under d.mu) is what the reconciler's snapshot reads. It has its own
// lock, so that the view can be read with or without d.mu held.
type disarmState struct {
	mu    sync.Mutex
	rec   store.Disarm
	gauge prometheus.Gauge
}

// loadDisarm reads the disarm record from the store and registers the lifeboat_disarmed
// metric; New calls it once.
func (d *Daemon) loadDisarm(ctx context.Context) error {
	rec, err := d.db.GetDisarm(ctx)
	if err != nil {
		return fmt.Errorf("daemon: %w", err)
	}
	d.disarm.gauge = newDisarmGauge(d.m.reg)
	d.setDisarm(rec)
	if rec.Disarmed {
		d.log.Warn("automatic action is DISARMED: no fence, restart, evacuation or failback until 'lifeboat arm'",
			"by", rec.By, "since", rec.Since, "reason", rec.Reason)
	}
	return nil
}

// newDisarmGauge registers lifeboat_disarmed on reg.
func newDisarmGauge(reg *registry) prometheus.Gauge {
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "lifeboat_disarmed",
		Help: "1 while an admin has stopped all automatic action ('lifeboat disarm'), else 0.",
	})
	reg.MustRegister(g)
	return g
}

// setDisarm replaces the in-memory record, the snapshot's switch and the metric.
func (d *Daemon) setDisarm(rec store.Disarm) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setDisarmLocked(rec)
}

// setDisarmLocked is setDisarm for a caller that holds d.mu.
func (d *Daemon) setDisarmLocked(rec store.Disarm) {
	d.disarmed = rec.Disarmed
	d.disarm.mu.Lock()
	defer d.disarm.mu.Unlock()
	d.disarm.rec = rec
	if d.disarm.gauge != nil {
		v := 0.0
		if rec.Disarmed {
			v = 1
		}
		d.disarm.gauge.Set(v)
	}
}

// disarmView is the record as the API shows it.
func (d *Daemon) disarmView() api.DisarmView {
	d.disarm.mu.Lock()
	defer d.disarm.mu.Unlock()
	r := d.disarm.rec
	return api.DisarmView{Disarmed: r.Disarmed, Reason: r.Reason, By: r.By, Since: r.Since}
}

// Disarm stops all automatic action until Arm: it is stored first (so that it survives a
// restart, and nothing is disarmed that the store does not know), then journaled with who.
func (d *Daemon) Disarm(ctx context.Context, reason string) (api.DisarmView, error) {
	who := callerName(ctx)
	rec := store.Disarm{Disarmed: true, Reason: reason, By: who, Since: d.now()}
	if err := d.db.PutDisarm(ctx, rec); err != nil {
		return api.DisarmView{}, fmt.Errorf("disarm: %w", err)
	}
	d.setDisarm(rec)
	d.journal(ctx, store.Entry{At: rec.Since, Kind: "decision", Reason: "disarmed",
		Message: fmt.Sprintf("automatic action DISARMED by %s: %s (no fence, restart, evacuation or failback until 'lifeboat arm')", who, reason)})
	d.kickDrain()
	d.log.Warn("automatic action disarmed", "by", who, "reason", reason)
	return d.disarmView(), nil
}

// Arm resumes automatic action, and wakes the loops that were held back.
func (d *Daemon) Arm(ctx context.Context) (api.DisarmView, error) {
	who := callerName(ctx)
	was := d.disarmView()
	if err := d.db.PutDisarm(ctx, store.Disarm{}); err != nil {
		return api.DisarmView{}, fmt.Errorf("arm: %w", err)
	}
	d.setDisarm(store.Disarm{})
	msg := fmt.Sprintf("automatic action armed by %s", who)
	if was.Disarmed {
		msg += fmt.Sprintf(" (disarmed since %s by %s: %s)", was.Since.Format("2006-01-02 15:04:05"), was.By, was.Reason)
	} else {
		msg += " (it was not disarmed)"
	}
	d.journal(ctx, store.Entry{Kind: "decision", Reason: "armed", Message: msg})
	d.log.Info("automatic action armed", "by", who)
	d.kickDrain()
	return d.disarmView(), nil
}

// callerName is who made an API call, as its credential proves: "alice (from 10.0.0.5)".
func callerName(ctx context.Context) string {
	id, ok := api.IdentityFrom(ctx)
	if !ok {
		return "an operator" // a call from inside the process (tests), not through the API
	}
	return id.Name + " (from " + id.Remote + ")"
}
