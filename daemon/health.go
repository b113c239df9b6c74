package daemon

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// rttSamples is how many recent probe round trips the latency signal looks at.
const rttSamples = 10

// healthState is what the daemon keeps per host for the health score, besides the signals.
type healthState struct {
	track policy.HealthTrack
	// events are latched observations (guest I/O errors, alerts) by key.
	events map[string]policy.Observation
	// rtts are the latest successful probe round trips, oldest first.
	rtts []time.Duration
	// mem is the latest host memory reading (zero: none yet).
	mem   hypervisor.NodeMemory
	memAt time.Time
}

func (d *Daemon) healthConfig() policy.HealthConfig {
	h := d.conf().Health
	return policy.HealthConfig{DegradeScore: h.DegradeScore, ClearScore: h.ClearScore, ClearAfter: h.ClearAfter.D()}
}

// observations gathers every health observation about a host at now. A reading that goes
// stale (the BMC's health, the host's memory) carries the time it stops counting as Expires, so
// that the health score knows when to look again (policy.HealthNextCheck). Caller holds d.mu.
func (d *Daemon) observations(w *hostWatch, now time.Time) []policy.Observation {
	var out []policy.Observation
	if o, ok := d.bmcObservation(w, now); ok {
		out = append(out, o)
	}
	if w.sig.Operator.Degraded {
		out = append(out, policy.Observation{Source: policy.SourceOperator, Key: "operator", Severity: policy.SeverityCritical,
			Reason: "marked degraded by an operator: " + orNone(w.sig.Operator.DegradedReason)})
	}
	for _, o := range w.health.events {
		out = append(out, o)
	}
	out = append(out, pausedObservations(w)...)
	if o, ok := d.latencyObservation(w, now); ok {
		out = append(out, o)
	}
	if o, ok := d.memoryObservation(w, now); ok {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// bmcObservation is the BMC's health reading, while it is fresh and not ok. Caller holds d.mu.
func (d *Daemon) bmcObservation(w *hostWatch, now time.Time) (policy.Observation, bool) {
	b := w.sig.BMC
	stale := bmcHealthStaleAfter(d.conf().Timings, d.det)
	if !b.Configured || !b.Reachable || now.Sub(b.At) > stale {
		return policy.Observation{}, false
	}
	sev := policy.SeverityWarning
	switch b.Health {
	case policy.HealthCritical:
		sev = policy.SeverityCritical
	case policy.HealthWarning:
	case policy.HealthOK, policy.HealthUnknown:
		return policy.Observation{}, false
	}
	return policy.Observation{Source: policy.SourceBMC, Key: "bmc", Severity: sev, At: b.At, Expires: b.At.Add(stale + 1),
		Reason: "the BMC reports health " + string(b.Health) + ": " + orNone(b.Reason)}, true
}

// pausedObservations are the guests paused on an I/O error: the host's storage path is failing.
// Caller holds d.mu.
func pausedObservations(w *hostWatch) []policy.Observation {
	if w.sig.Libvirt.Result != policy.ProbeOK {
		return nil
	}
	var out []policy.Observation
	for _, dom := range w.domains {
		if dom.PausedOnError() {
			out = append(out, policy.Observation{Source: policy.SourceLibvirt, Key: "paused:" + dom.UUID, Severity: policy.SeverityCritical,
				At: w.invAt, Reason: dom.Name + " is paused on an I/O error"})
		}
	}
	return out
}

// pausedKeys names the guests paused on an I/O error, to tell whether an inventory changed them.
func pausedKeys(doms []hypervisor.Domain) string {
	var keys []string
	for _, dom := range doms {
		if dom.PausedOnError() {
			keys = append(keys, dom.UUID)
		}
	}
	return strings.Join(keys, ",")
}

// latencyObservation is slow libvirt round trips. Caller holds d.mu.
func (d *Daemon) latencyObservation(w *hostWatch, now time.Time) (policy.Observation, bool) {
	lim := d.conf().Health.RPCLatency.D()
	if !rttSlow(w.health.rtts, lim) {
		return policy.Observation{}, false
	}
	var buf [rttSamples]time.Duration // on the stack
	s := append(buf[:0], w.health.rtts...)
	slices.Sort(s)
	med := s[len(s)/2]
	return policy.Observation{Source: policy.SourceLibvirt, Key: "latency", Severity: policy.SeverityWarning, At: now,
		Reason: fmt.Sprintf("libvirt round trips are slow: median %s over the last %d probes (health.rpc_latency %s)", med.Round(time.Millisecond), len(s), lim)}, true
}

// rttSlow reports whether the median of the round trips (the upper one of an even count)
// exceeds lim, given at least half of rttSamples: whether more than the lower half of them do.
// It counts instead of sorting: it runs on every probe of every host.
func rttSlow(rtts []time.Duration, lim time.Duration) bool {
	if lim <= 0 || len(rtts) < rttSamples/2 {
		return false
	}
	over := 0
	for _, r := range rtts {
		if r > lim {
			over++
		}
	}
	// The sorted samples' element len/2 exceeds lim when the len-len/2 largest all do.
	return over >= len(rtts)-len(rtts)/2
}

// memoryObservation is memory pressure, while the reading is fresh. Caller holds d.mu.
func (d *Daemon) memoryObservation(w *hostWatch, now time.Time) (policy.Observation, bool) {
	share := d.conf().Health.MemoryAvailable
	fresh := w.health.memAt.Add(3 * d.conf().Timings.InventoryInterval.D())
	if share <= 0 || w.health.mem.TotalKiB == 0 || !now.Before(fresh) {
		return policy.Observation{}, false
	}
	avail := w.health.mem.AvailableShare()
	if avail >= share {
		return policy.Observation{}, false
	}
	return policy.Observation{Source: policy.SourceLibvirt, Key: "memory", Severity: policy.SeverityWarning, At: w.health.memAt, Expires: fresh,
		Reason: fmt.Sprintf("memory pressure: %.1f%% of %d MiB available (health.memory_available %.1f%%)", 100*avail, w.health.mem.TotalKiB/1024, 100*share)}, true
}

// scoreHealth drops a host's lapsed observations and updates its health verdict into its
// signals. It returns a journal entry for each Alertmanager alert that lapsed (no notification
// for alerts.alertmanager.expire_after); the caller records them and the host. It also returns
// when the health verdict could change by time alone (zero: never). Caller holds d.mu.
func (d *Daemon) scoreHealth(w *hostWatch, now time.Time) ([]store.Entry, time.Time) {
	var lapsed []store.Entry
	for k, o := range w.health.events {
		if !o.Expires.IsZero() && !now.Before(o.Expires) {
			delete(w.health.events, k)
			if o.Source == policy.SourceAlertmanager {
				lapsed = append(lapsed, store.Entry{At: now, Kind: "observation", Host: w.cfg.Name, Reason: "alert_expired",
					Message: fmt.Sprintf("%s on %s no longer counts: Alertmanager has not repeated it for %s (alerts.alertmanager.expire_after)",
						o.Reason, w.cfg.Name, d.conf().Alerts.Alertmanager.ExpireAfter)})
			}
		}
	}
	sort.Slice(lapsed, func(i, j int) bool { return lapsed[i].Message < lapsed[j].Message })
	obs := d.observations(w, now)
	cfg := d.healthConfig()
	w.sig.Health, w.health.track = policy.ScoreHealth(cfg, w.health.track, obs, now)
	d.m.healthScore.WithLabelValues(w.cfg.Name).Set(float64(w.sig.Health.Score))
	return lapsed, policy.HealthNextCheck(cfg, w.health.track, obs, now)
}

// recordRTT keeps the latest probe round trips for the latency signal. Caller holds d.mu.
func (w *hostWatch) recordRTT(rtt time.Duration) {
	if len(w.health.rtts) < rttSamples {
		w.health.rtts = append(w.health.rtts, rtt)
		return
	}
	copy(w.health.rtts, w.health.rtts[1:]) // no allocation on every probe
	w.health.rtts[rttSamples-1] = rtt
}

// recordIOError latches a guest's I/O error as a critical observation for health.event_ttl.
func (d *Daemon) recordIOError(ctx context.Context, ev hypervisor.Event) {
	w, ok := d.byName[ev.Host]
	if !ok {
		return
	}
	d.mu.Lock()
	_, had := w.health.events["io:"+ev.UUID]
	w.health.event(policy.Observation{Source: policy.SourceLibvirt, Key: "io:" + ev.UUID, Severity: policy.SeverityCritical, At: ev.At,
		Expires: ev.At.Add(d.conf().Health.EventTTL.D()), Reason: fmt.Sprintf("%s had a disk I/O error: %s", ev.Domain, ev.Detail)})
	d.markDirty(w)
	d.mu.Unlock()
	if !had {
		d.saveHost(ctx, w)
	}
}

func (h *healthState) event(o policy.Observation) {
	if h.events == nil {
		h.events = map[string]policy.Observation{}
	}
	h.events[o.Key] = o
}

// sampleMemory reads the host's memory for the memory-pressure signal.
func (d *Daemon) sampleMemory(ctx context.Context, w *hostWatch) {
	if d.conf().Health.MemoryAvailable <= 0 {
		return
	}
	m, err := w.conn.NodeMemory(ctx)
	if err != nil {
		d.log.Debug("host memory reading failed", "host", w.cfg.Name, "err", err)
		return
	}
	d.mu.Lock()
	now := d.now()
	_, was := d.memoryObservation(w, now)
	w.health.mem, w.health.memAt = m, now
	if _, is := d.memoryObservation(w, now); is != was {
		d.markDirty(w) // memory pressure began or ended
	}
	d.mu.Unlock()
}

// ReceiveAlerts folds Alertmanager alerts into the hosts' health: a firing alert counts until
// its resolved notification (or an operator's repair) arrives, or until
// alerts.alertmanager.expire_after passes without a new notification of it. Alerts are stored with the host,
// so a daemon restart keeps them.
func (d *Daemon) ReceiveAlerts(ctx context.Context, alerts []api.AlertObservation) error {
	now := d.now()
	var entries []store.Entry
	d.mu.Lock()
	for _, a := range alerts {
		w, ok := d.byName[a.Host]
		if !ok {
			continue
		}
		d.markDirty(w)
		key := alertKeyPrefix + a.Fingerprint
		_, had := w.health.events[key]
		if !a.Firing {
			if had {
				delete(w.health.events, key)
				entries = append(entries, store.Entry{At: now, Kind: "observation", Host: a.Host, Reason: "alert_resolved",
					Message: fmt.Sprintf("alert %s on %s resolved", a.Name, a.Host)})
			}
			continue
		}
		sev := policy.SeverityWarning
		if a.Severity == string(policy.SeverityCritical) {
			sev = policy.SeverityCritical
		}
		at := a.StartsAt
		if at.IsZero() {
			at = now
		}
		// Each notification renews the alert; one that Alertmanager stops repeating lapses.
		w.health.event(policy.Observation{Source: policy.SourceAlertmanager, Key: key, Severity: sev, At: at,
			Expires: now.Add(d.conf().Alerts.Alertmanager.ExpireAfter.D()), Reason: fmt.Sprintf("alert %s (%s): %s", a.Name, sev, a.Summary)})
		if !had {
			entries = append(entries, store.Entry{At: now, Kind: "observation", Host: a.Host, Reason: "alert_firing",
				Message: fmt.Sprintf("alert %s firing on %s (%s): %s", a.Name, a.Host, sev, a.Summary)})
		}
	}
	touched := map[string]*hostWatch{}
	for _, e := range entries {
		touched[e.Host] = d.byName[e.Host]
	}
	for name, w := range touched {
		entries = append(entries, w.health.capAlerts(name, now)...)
	}
	d.mu.Unlock()
	// One store write per host the payload changed, however many alerts it held.
	for _, w := range touched {
		d.saveHost(ctx, w)
	}
	for _, e := range entries {
		d.journal(ctx, e)
	}
	d.kickDrain()
	return nil
}

// clearLatched drops a host's latched observations (guest I/O errors and alerts), for an
// operator's repair; an alert still firing comes back with Alertmanager's next notification.
// Caller holds d.mu.
func (w *hostWatch) clearLatched() {
	clear(w.health.events)
}

// stored is the latched observations as the store keeps them, in key order.
func (h *healthState) stored() []store.Observation {
	out := make([]store.Observation, 0, len(h.events))
	for _, o := range h.events {
		out = append(out, store.Observation{Source: o.Source, Key: o.Key, Severity: string(o.Severity), Reason: o.Reason, At: o.At, Expires: o.Expires})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// restore brings back the latched observations a stored host record holds. An alert stored
// without an expiry (by a version before alerts.alertmanager.expire_after) expires at
// alertExpires unless Alertmanager repeats it.
func (h *healthState) restore(obs []store.Observation, alertExpires time.Time) {
	for _, o := range obs {
		exp := o.Expires
		if exp.IsZero() && o.Source == policy.SourceAlertmanager {
			exp = alertExpires
		}
		h.event(policy.Observation{Source: o.Source, Key: o.Key, Severity: policy.Severity(o.Severity), Reason: o.Reason, At: o.At, Expires: exp})
	}
}

// AlertOptions are the API's Alertmanager receiver settings from the configuration (nil when
// alerts.alertmanager.token_file is not set: no receiver).
func (d *Daemon) AlertOptions() (*api.AlertOptions, error) {
	am := d.conf().Alerts.Alertmanager
	if am.TokenFile == "" {
		return nil, nil
	}
	tok, err := api.ReadTokenFile(am.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("alerts.alertmanager.token_file: %w", err)
	}
	known := make([]string, 0, len(d.hosts))
	for _, w := range d.hosts {
		known = append(known, w.cfg.Name)
	}
	return &api.AlertOptions{Token: tok, HostLabel: am.HostLabel, SeverityLabel: am.SeverityLabel, Hosts: am.Hosts, Known: known}, nil
}
