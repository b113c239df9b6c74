package daemon

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// bmcJitter is the spread of the steady-state BMC reads: ±10% of timings.bmc_health_interval.
const bmcJitter = 0.1

// bmcPollDelay is how long the BMC loop waits before its next read of a host's BMC. While the
// host's libvirt probe fails, the power state is the proof of death the verdict waits for: read
// it every bmc_interval. While the host answers, the BMC only says how healthy the hardware is:
// read it every bmc_health_interval, spread by ±10% (u is uniform in [0,1)) so a fleet's reads
// do not come in waves.
func bmcPollDelay(t config.Timings, libvirtFailing bool, u float64) time.Duration {
	if libvirtFailing {
		return t.BMCInterval.D()
	}
	d := t.BMCHealthInterval.D()
	return d + time.Duration(float64(d)*bmcJitter*(2*u-1))
}

// libvirtFailing reports whether a probe of the host has finished and failed. Caller holds d.mu.
func libvirtFailing(w *hostWatch) bool {
	r := w.sig.Libvirt.Result
	return r != policy.ProbeOK && r != policy.ProbeNone
}

// kickBMC asks the BMC loop to read the BMC now.
func (w *hostWatch) kickBMC() {
	select {
	case w.bmcKick <- struct{}{}:
	default:
	}
}

// bmcCloser is a BMC source that holds a session to end (a Redfish client).
type bmcCloser interface {
	Close(ctx context.Context)
}

// bmcLoop reads the host's BMC (power state and health): at once (recovery waits until every
// host and BMC has been heard from), then every bmc_health_interval while the host answers, and
// at once and then every bmc_interval while its libvirt probe fails (see bmcPollDelay), and at
// once whenever the BMC's event stream says something changed (bmcEventLoop). It logs out of
// the BMC when it stops.
func (d *Daemon) bmcLoop(ctx context.Context, w *hostWatch) {
	if w.bmc == nil {
		return
	}
	if c, ok := w.bmc.(bmcCloser); ok {
		defer func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), d.conf().Timings.BMCTimeout.D())
			defer cancel()
			c.Close(cctx)
		}()
	}
	// The event stream (if any) runs beside the poll and ends before the client is closed.
	evCtx, stopEvents := context.WithCancel(ctx)
	evDone := make(chan struct{})
	go func() {
		defer close(evDone)
		d.bmcEventLoop(evCtx, w)
	}()
	defer func() {
		stopEvents()
		<-evDone
	}()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.bmcKick:
		}
		d.readBMC(ctx, w)
		if ctx.Err() != nil {
			return
		}
		d.mu.Lock()
		failing := libvirtFailing(w)
		d.mu.Unlock()
		t.Reset(bmcPollDelay(d.conf().Timings, failing, rand.Float64())) //nolint:gosec // jitter, not a secret
	}
}

// readBMC reads the BMC once and folds the answer into the host's BMC signal; a change is
// journaled as an observation.
func (d *Daemon) readBMC(ctx context.Context, w *hostWatch) {
	qctx, cancel := context.WithTimeout(ctx, d.conf().Timings.BMCTimeout.D())
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
			b.Err = "no answer within " + d.conf().Timings.BMCTimeout.String() + " (" + err.Error() + ")"
		}
	} else {
		b.Reachable, b.Silent, b.Err = true, false, ""
		b.Power, b.Health, b.Reason = toPower(st.Power), toHealth(st.Health), st.Reason
	}
	after := *b
	// While libvirt fails, every reading may be the proof of death (or say it went stale); a
	// reading after a stale one brings its health back. Else only a change asks for a decision.
	changed := before.Reachable != after.Reachable || before.Power != after.Power || before.Health != after.Health || before.Reason != after.Reason
	if changed || libvirtFailing(w) || at.Sub(before.At) > bmcHealthStaleAfter(d.conf().Timings, d.det) {
		d.markDirty(w)
	}
	d.mu.Unlock()
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	d.m.bmcQueries.WithLabelValues(outcome).Inc()
	if changed {
		msg := fmt.Sprintf("BMC: power %s, health %s", after.Power, after.Health)
		if after.Reason != "" {
			msg += " (" + after.Reason + ")"
		}
		if !after.Reachable {
			msg = "BMC unreachable: " + after.Err
		}
		d.journal(ctx, store.Entry{At: at, Kind: "observation", Host: w.cfg.Name, Reason: "bmc", Message: msg})
	}
}

// noAnswer reports an error that means the BMC gave no answer at all: a timeout, or no route
// to it. A refused login, a page that is not Redfish or a refused connection are answers.
func noAnswer(err error) bool {
	var te interface{ Timeout() bool }
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &te) && te.Timeout()) ||
		errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH)
}

// bmcHealthStaleAfter is how old a BMC health reading may be and still count: the steady-state
// reads are bmc_health_interval (+10%) apart, so two of them may be missed.
func bmcHealthStaleAfter(t config.Timings, det policy.DetectorConfig) time.Duration {
	return max(det.BMCStaleAfter, 2*time.Duration(float64(t.BMCHealthInterval.D())*(1+bmcJitter))+t.BMCTimeout.D())
}
