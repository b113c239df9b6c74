package daemon

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// The daemon serves the API.
var _ api.Backend = (*Daemon)(nil)

// Status reports the daemon and cluster at a glance.
func (d *Daemon) Status(ctx context.Context) (api.StatusView, error) {
	// Without its store (etcd without quorum), the daemon still watches its hosts and says whether
	// it acts: the status answers with what it knows and says what it could not read.
	// A second at most for the store: a status that hangs on etcd hides what the daemon knows.
	sctx, cancel := context.WithTimeout(ctx, time.Second)
	last, storeErr := d.db.LastSeq(sctx)
	if storeErr == nil && !d.leading() {
		// A follower's disarm switch is what it read when it started or last took over: the
		// acting daemon may have changed it since. The store knows.
		if rec, err := d.db.GetDisarm(sctx); err == nil {
			d.setDisarm(rec)
		} else {
			storeErr = err
		}
	}
	cancel()
	if storeErr != nil && ctx.Err() != nil {
		return api.StatusView{}, fmt.Errorf("daemon: status: %w", storeErr)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	sv := api.StatusView{Cluster: d.conf().Cluster, Version: Version, StartedAt: d.started, Leader: d.ready.Load() && d.leading(), Controller: d.controllerView(),
		Hosts: len(d.hosts), HostStates: map[string]int{}, VMs: len(d.vms), Store: d.db.Location(), LastEvent: last,
		Disarm: d.disarmView()}
	if storeErr != nil {
		sv.StoreError = storeErr.Error()
	}
	for _, w := range d.hosts {
		sv.HostStates[string(w.verdict.State)]++
	}
	for _, r := range d.vms {
		if r.Protected {
			sv.ProtectedVMs++
		}
	}
	return sv, nil
}

// Hosts lists every host with its verdict and the VMs running there.
func (d *Daemon) Hosts(ctx context.Context) ([]api.HostView, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]api.HostView, 0, len(d.hosts))
	on := d.vmsByHost()
	for _, w := range d.hosts {
		out = append(out, d.hostView(w, on[w.cfg.Name]))
	}
	return out, ctx.Err()
}

// vmsByHost maps each host to the names of the VMs running there, sorted. Caller holds d.mu.
func (d *Daemon) vmsByHost() map[string][]string {
	on := map[string][]string{}
	for _, r := range d.vms {
		if r.CurrentHost != "" {
			on[r.CurrentHost] = append(on[r.CurrentHost], r.Name)
		}
	}
	for _, names := range on {
		sort.Strings(names)
	}
	return on
}

// hostView renders one host with the VMs running there. Caller holds d.mu.
func (d *Daemon) hostView(w *hostWatch, vms []string) api.HostView {
	v := w.verdict
	hv := api.HostView{Name: w.cfg.Name, State: string(v.State), Reason: string(v.Reason), Message: v.Message,
		Since: v.Since, VMs: append([]string{}, vms...), Role: string(w.cfg.Role), Group: w.cfg.Group,
		Stuck: append([]api.StuckVM(nil), d.stuck[w.cfg.Name]...)}
	if hv.State == "" {
		hv.State, hv.Reason, hv.Message = string(policy.Unknown), string(policy.ReasonNoObservation), "not evaluated yet"
	}
	return hv
}

// VMs lists every VM on record.
func (d *Daemon) VMs(ctx context.Context) ([]api.VMView, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]api.VMView, 0, len(d.vms))
	for _, r := range d.vms {
		out = append(out, api.VMView{Name: r.Name, UUID: r.UUID, Host: r.CurrentHost, HomeHost: r.HomeHost,
			State: r.State, Protected: r.Protected, Priority: r.Priority})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].UUID < out[j].UUID
	})
	return out, ctx.Err()
}

func toEvent(e store.Entry) api.Event {
	return api.Event{Seq: e.Seq, At: e.At, Kind: e.Kind, Host: e.Host, VM: e.VM, Reason: e.Reason, Message: e.Message, Data: e.Data}
}

// Events returns journal entries after a sequence number.
func (d *Daemon) Events(ctx context.Context, after uint64, limit int) ([]api.Event, error) {
	es, err := d.db.Journal(ctx, after, limit)
	if err != nil {
		return nil, fmt.Errorf("daemon: journal: %w", err)
	}
	out := make([]api.Event, 0, len(es))
	for _, e := range es {
		out = append(out, toEvent(e))
	}
	return out, nil
}

// WaitEvents blocks until the journal has an entry after the given one.
func (d *Daemon) WaitEvents(ctx context.Context, after uint64) error { return d.db.Wait(ctx, after) }

// Ready is nil once the daemon watches its hosts.
func (d *Daemon) Ready(context.Context) error {
	if !d.ready.Load() {
		return errors.New("daemon is starting or stopping")
	}
	return nil
}

// ExplainHost shows the signals and the rule behind a host's verdict.
func (d *Daemon) ExplainHost(ctx context.Context, name string) (api.Explanation, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.byName[name]
	if !ok {
		names := make([]string, 0, len(d.hosts))
		for _, h := range d.hosts {
			names = append(names, h.cfg.Name)
		}
		return api.Explanation{}, fmt.Errorf("unknown host %q (hosts: %s): %w", name, strings.Join(names, ", "), api.ErrNotFound)
	}
	hv := d.hostView(w, d.vmsByHost()[name])
	ex := api.Explanation{Host: name, State: hv.State, Reason: hv.Reason, Message: hv.Message, Since: hv.Since,
		Rule: w.verdict.Rule, Signals: signalViews(w.sig, d.now())}
	if w.bmc != nil {
		ex.Signals = append(ex.Signals, w.events.view(w.cfg.BMC.EventMode()))
	}
	if ex.Rule == "" {
		ex.Rule = policy.RuleNoObservation
	}
	for _, e := range w.history {
		ex.History = append(ex.History, toEvent(e))
	}
	return ex, ctx.Err()
}

// signalViews lists the signals behind a verdict, for people.
func signalViews(s policy.Signals, now time.Time) []api.SignalView {
	lv := s.Libvirt
	libvirt := api.SignalView{Name: "libvirt", Value: string(lv.Result), At: lv.At}
	switch {
	case lv.Result == policy.ProbeOK:
		libvirt.Detail = fmt.Sprintf("RPC round trip %s", lv.RTT.Round(10*time.Microsecond))
	case lv.Result == policy.ProbeNone:
		libvirt.Value, libvirt.Detail = "none", "no probe finished yet"
	default:
		libvirt.Detail = fmt.Sprintf("failing for %s: %s", now.Sub(lv.FailingSince).Round(100*time.Millisecond), lv.Err)
	}
	if !lv.LastOK.IsZero() {
		libvirt.Detail += fmt.Sprintf("; last OK %s ago", now.Sub(lv.LastOK).Round(100*time.Millisecond))
	}
	out := []api.SignalView{libvirt}
	b := s.BMC
	switch {
	case !b.Configured:
		out = append(out, api.SignalView{Name: "bmc_power", Value: "n/a", Detail: "no BMC configured"})
	case !b.Reachable:
		out = append(out, api.SignalView{Name: "bmc_power", Value: "unreachable", At: b.At, Detail: b.Err})
	default:
		out = append(out, api.SignalView{Name: "bmc_power", Value: string(b.Power), At: b.At},
			api.SignalView{Name: "bmc_health", Value: string(b.Health), At: b.At, Detail: b.Reason})
	}
	l := s.Lease
	if l.Configured {
		out = append(out, api.SignalView{Name: "lease_witness", Value: fmt.Sprintf("%d/%d held", l.Held, l.Known), At: l.At,
			Detail: "disk leases of the VMs last seen on this host, in the shared lockspace"})
	} else {
		out = append(out, api.SignalView{Name: "lease_witness", Value: "n/a", Detail: "no lease_dir configured"})
	}
	out = append(out, guestSignalView(s.Guests, s.Libvirt, now))
	op := "none"
	switch {
	case s.Operator.Maintenance:
		op = "maintenance"
	case s.Operator.Degraded:
		op = "degraded: " + s.Operator.DegradedReason
	}
	out = append(out, api.SignalView{Name: "operator", Value: op})
	h := s.Health
	out = append(out, api.SignalView{Name: "health_score", Value: strconv.Itoa(h.Score), Detail: h.Message})
	for _, o := range h.Active {
		out = append(out, api.SignalView{Name: "health/" + o.Source, Value: string(o.Severity), At: o.At, Detail: o.Reason})
	}
	return out
}
