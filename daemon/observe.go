package daemon

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// probeLoop probes the host's libvirt endpoint every probe interval and records the outcome as
// the libvirt signal.
func (d *Daemon) probeLoop(ctx context.Context, w *hostWatch) {
	t := time.NewTicker(d.cfg.Timings.ProbeInterval.D())
	defer t.Stop()
	for {
		p := w.conn.Probe(ctx)
		d.m.probes.WithLabelValues(string(p.Outcome)).Inc()
		if p.Outcome == hypervisor.ProbeOK {
			d.m.probeRTT.Observe(p.RTT.Seconds())
		}
		d.recordProbe(ctx, w, p)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// recordProbe folds one probe into the host's libvirt signal; a change of outcome is journaled
// as an observation.
func (d *Daemon) recordProbe(ctx context.Context, w *hostWatch, p hypervisor.Probe) {
	res := policy.ProbeResult(p.Outcome)
	d.mu.Lock()
	lv := &w.sig.Libvirt
	prev := lv.Result
	lv.Result, lv.At, lv.RTT = res, p.At, p.RTT
	lv.Err = ""
	if p.Err != nil {
		lv.Err = p.Err.Error()
	}
	if res == policy.ProbeOK {
		w.recordRTT(p.RTT)
		lv.LastOK, lv.FailingSince = p.At, time.Time{}
		if prev != policy.ProbeOK {
			lv.OKSince = p.At
		}
	} else {
		lv.OKSince = time.Time{}
		w.health.rtts = nil // the latency signal speaks of a host that answers
		if prev == policy.ProbeOK || prev == policy.ProbeNone {
			lv.FailingSince = p.At
		}
	}
	d.mu.Unlock()
	if res != policy.ProbeOK && (prev == policy.ProbeOK || prev == policy.ProbeNone) {
		w.kickGuests() // a fresh guest reading must exist before unreachable_after
	}
	if prev != res {
		msg := fmt.Sprintf("libvirt probe: %s", res)
		if p.Err != nil {
			msg += ": " + p.Err.Error()
		}
		d.journal(ctx, store.Entry{At: p.At, Kind: "observation", Host: w.cfg.Name, Reason: "libvirt_" + string(res), Message: msg})
		d.kickDecide()
	}
}

// bmcLoop asks the host's BMC for power state and health every BMC interval.
func (d *Daemon) bmcLoop(ctx context.Context, w *hostWatch) {
	if w.bmc == nil {
		return
	}
	t := time.NewTicker(d.cfg.Timings.BMCInterval.D())
	defer t.Stop()
	for {
		qctx, cancel := context.WithTimeout(ctx, d.cfg.Timings.BMCTimeout.D())
		st, err := w.bmc.Status(qctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		at := d.now()
		d.mu.Lock()
		b := &w.sig.BMC
		before := *b
		b.At = at
		if err != nil {
			b.Reachable, b.Silent, b.Err = false, noAnswer(err), err.Error()
			if b.Silent {
				b.Err = "no answer within " + d.cfg.Timings.BMCTimeout.String() + " (" + err.Error() + ")"
			}
		} else {
			b.Reachable, b.Silent, b.Err = true, false, ""
			b.Power, b.Health, b.Reason = toPower(st.Power), toHealth(st.Health), st.Reason
		}
		after := *b
		d.mu.Unlock()
		outcome := "ok"
		if err != nil {
			outcome = "error"
		}
		d.m.bmcQueries.WithLabelValues(outcome).Inc()
		if before.Reachable != after.Reachable || before.Power != after.Power || before.Health != after.Health || before.Reason != after.Reason {
			msg := fmt.Sprintf("BMC: power %s, health %s", after.Power, after.Health)
			if after.Reason != "" {
				msg += " (" + after.Reason + ")"
			}
			if !after.Reachable {
				msg = "BMC unreachable: " + after.Err
			}
			d.journal(ctx, store.Entry{At: at, Kind: "observation", Host: w.cfg.Name, Reason: "bmc", Message: msg})
			d.kickDecide()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// noAnswer reports an error that means the BMC gave no answer at all: a timeout, or no route
// to it. A refused login, a page that is not Redfish or a refused connection are answers.
func noAnswer(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout()) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

func toPower(s string) policy.Power {
	switch s {
	case "on":
		return policy.PowerOn
	case "off":
		return policy.PowerOff
	}
	return policy.PowerUnknown
}

func toHealth(s string) policy.Health {
	switch s {
	case "ok":
		return policy.HealthOK
	case "warning":
		return policy.HealthWarning
	case "critical":
		return policy.HealthCritical
	}
	return policy.HealthUnknown
}
