package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// probeLoop probes the host's libvirt endpoint every probe interval and records the outcome as
// the libvirt signal.
func (d *Daemon) probeLoop(ctx context.Context, w *hostWatch) {
	t := time.NewTicker(d.conf().Timings.ProbeInterval.D())
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
	lim := d.conf().Health.RPCLatency.D()
	wasSlow := rttSlow(w.health.rtts, lim)
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
	// A steady host's probes change nothing the verdict reads: only a new outcome, or round
	// trips turning slow or fast again, ask for a decision.
	if slow := rttSlow(w.health.rtts, lim); prev != res || slow != wasSlow {
		d.markDirty(w)
	}
	d.mu.Unlock()
	if res != policy.ProbeOK && (prev == policy.ProbeOK || prev == policy.ProbeNone) {
		w.kickGuests() // a fresh guest reading must exist before unreachable_after
		w.kickBMC()    // the proof of death (power off) must come within the detection budget
	}
	if prev != res {
		msg := fmt.Sprintf("libvirt probe: %s", res)
		if p.Err != nil {
			msg += ": " + p.Err.Error()
		}
		d.journal(ctx, store.Entry{At: p.At, Kind: "observation", Host: w.cfg.Name, Reason: "libvirt_" + string(res), Message: msg})
	}
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
