package daemon

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/witness"
)

// guestTarget is one protected VM of a host and where to probe it.
type guestTarget struct {
	vm     string
	target witness.Target
}

// guestLoop is the guest-liveness witness of one host. While the host's libvirt probe fails, and
// only then, it probes the host's protected VMs on their own network, all in parallel, every probe
// interval (at once when libvirt's first probe fails), and records the reading as the host's guest
// signal. A healthy host costs nothing: the loop sleeps until the probe loop kicks it (the
// first failed probe), and ticks only while the probe fails.
func (d *Daemon) guestLoop(ctx context.Context, w *hostWatch) {
	if !w.sig.Guests.Configured {
		return
	}
	interval := d.conf().Timings.ProbeInterval.D()
	var tick <-chan time.Time // nil while the host answers
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick:
		case <-w.guestKick:
		}
		d.mu.Lock()
		r := w.sig.Libvirt.Result
		var targets []guestTarget
		if r != policy.ProbeOK && r != policy.ProbeNone {
			targets = d.guestTargets(w.cfg.Name)
		}
		d.mu.Unlock()
		if r == policy.ProbeOK || r == policy.ProbeNone {
			tick = nil
			continue
		}
		tick = time.After(interval)
		answering, errText := d.probeGuests(ctx, targets)
		if ctx.Err() != nil {
			return
		}
		d.recordGuests(ctx, w, len(targets), answering, errText)
	}
}

// guestTargets lists the protected VMs last seen on the host that have a probe address: the one
// configured in protection.vms[].probe, else the one learnt from libvirt. Caller holds d.mu.
func (d *Daemon) guestTargets(host string) []guestTarget {
	var out []guestTarget
	for _, r := range d.vmsOnHost(host) {
		if !r.Protected || r.CurrentHost != host {
			continue
		}
		addr := d.configuredProbe(r.Name)
		if addr == "" {
			addr = r.ProbeAddress
		}
		if addr == "" {
			continue
		}
		t, err := witness.ParseTarget(addr)
		if err != nil {
			continue // validated when configured or learnt; never probe garbage
		}
		out = append(out, guestTarget{vm: r.Name, target: t})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].vm < out[j].vm })
	return out
}

// configuredProbe is the probe address configured for a VM ("" if none).
func (d *Daemon) configuredProbe(name string) string {
	for _, r := range d.conf().Protection.VMs {
		if r.Name == name && r.Probe != "" {
			return r.Probe
		}
	}
	return ""
}

// probeGuests probes every target at once, each within the probe timeout, and returns how many
// answered and the first failure, for explanations.
func (d *Daemon) probeGuests(ctx context.Context, targets []guestTarget) (int, string) {
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, g := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = witness.ProbeGuest(ctx, g.target, d.conf().Timings.ProbeTimeout.D())
		}()
	}
	wg.Wait()
	answering, first := 0, ""
	for i, err := range errs {
		if err == nil {
			answering++
		} else if first == "" {
			first = targets[i].vm + ": " + err.Error()
		}
	}
	for _, err := range errs {
		outcome := "ok"
		if err != nil {
			outcome = "no_answer"
		}
		d.m.guestProbes.WithLabelValues(outcome).Inc()
	}
	return answering, first
}

// recordGuests stores a reading as the host's guest signal and asks for a decision; the first
// reading of a failure of libvirt, and each change in how many guests answer, is journaled as an
// observation.
func (d *Daemon) recordGuests(ctx context.Context, w *hostWatch, known, answering int, errText string) {
	now := d.now()
	d.mu.Lock()
	prev := w.sig.Guests
	newSpell := prev.At.Before(w.sig.Libvirt.FailingSince)
	w.sig.Guests = policy.GuestSignal{Configured: true, At: now, Known: known, Answering: answering, Err: errText}
	d.markDirty(w)
	d.mu.Unlock()
	if !newSpell && prev.Known == known && prev.Answering == answering {
		return
	}
	msg := fmt.Sprintf("guest probe: %d of %d probed guests of %s answer on their own network", answering, known, w.cfg.Name)
	if known == 0 {
		msg = fmt.Sprintf("guest probe: no protected guest of %s has a probe address (protection.vms[].probe, or one learnt from libvirt)", w.cfg.Name)
	}
	if errText != "" {
		msg += " (" + errText + ")"
	}
	d.journal(ctx, store.Entry{At: now, Kind: "observation", Host: w.cfg.Name, Reason: "guest_probe", Message: msg})
}

// guestSignalView shows the guest-liveness witness in `lifeboat explain host`.
func guestSignalView(g policy.GuestSignal, lv policy.LibvirtSignal, now time.Time) api.SignalView {
	switch {
	case !g.Configured:
		return api.SignalView{Name: "guest_witness", Value: "n/a", Detail: "recovery.partition_policy fence: guests are not probed"}
	case g.At.IsZero() || lv.Result == policy.ProbeOK || g.At.Before(lv.FailingSince):
		return api.SignalView{Name: "guest_witness", Value: "idle", Detail: "guests are probed on their own network only while libvirt does not answer"}
	}
	detail := fmt.Sprintf("protected guests last seen here that answer on their own network, of those with a probe address (read %s ago)", now.Sub(g.At).Round(100*time.Millisecond))
	if g.Err != "" {
		detail += "; " + g.Err
	}
	return api.SignalView{Name: "guest_witness", Value: fmt.Sprintf("%d/%d answer", g.Answering, g.Known), At: g.At, Detail: detail}
}

// kickGuests asks the host's guest loop to probe now (libvirt's first failed probe).
func (w *hostWatch) kickGuests() {
	select {
	case w.guestKick <- struct{}{}:
	default:
	}
}
