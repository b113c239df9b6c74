package daemon

import (
	"context"
	"fmt"
	"os"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/controller"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// haState is the daemon's part in controller HA: the controller that says whether this daemon
// acts, and its metrics.
type haState struct {
	ctl     controller.Controller
	leader  prometheus.Gauge
	changes prometheus.Counter
	// acting is the last acting state reported (for the journal and the metrics).
	acting atomic.Bool
	// raw is the store without the acting guard: an alert of a lost store is journaled
	// through it once the store answers again, whether this daemon acts then or not.
	raw store.Store
	// lost is the alert of a lost store waiting for the store to come back (see
	// controller_alert.go).
	lost lostStore
	// owed are the journal entries adopt found missing (adopt_journal.go), written once this
	// daemon acts. Guarded by Daemon.mu.
	owed []store.Entry
}

// initController makes the controller for the configured store: an etcd election, or the
// single daemon's lock in the lease directory. It wraps d.db so that only an acting daemon
// writes (see actingStore).
func (d *Daemon) initController(db store.Store, name string) error {
	if name == "" {
		h, err := os.Hostname()
		if err != nil {
			return fmt.Errorf("daemon: --name not given and no hostname: %w", err)
		}
		name = h
	}
	url := d.conf().API.Advertise
	if url == "" && d.conf().API.TLS.Enabled() {
		url = "https://" + d.conf().API.Listen
	} else if url == "" {
		url = "http://" + d.conf().API.Listen
	}
	d.ha.leader, d.ha.changes = newHAMetrics(d.m.reg)
	opts := controller.Options{Name: name, URL: url, Adopt: d.adopt, Changed: d.controllerChanged, Logger: d.log}
	switch s := db.(type) {
	case *store.Etcd:
		d.ha.ctl = controller.NewEtcd(s, d.conf().Store.Etcd.SessionTTL.D(), opts)
	default:
		d.ha.ctl = controller.NewSingle(d.conf().LeaseDir, opts)
	}
	if d.ha.ctl.Acting() {
		d.ha.leader.Set(1)
		d.ha.acting.Store(true)
	}
	_, shared := db.(*store.Etcd)
	d.ha.raw = db
	d.db = actingStore{Store: db, acting: d.leading, shared: shared}
	return nil
}

// leading tells whether this daemon may act now. Every loop that acts (recovery, drains and
// evacuations, failback, plans) asks first; the store refuses a follower's writes as well.
func (d *Daemon) leading() bool {
	return d.ha.ctl == nil || d.ha.ctl.Acting()
}

// controllerChanged journals and counts a change of leadership.
func (d *Daemon) controllerChanged(st controller.Status) {
	if d.ha.acting.Swap(st.Acting) == st.Acting {
		if st.Acting {
			d.journalOwed(d.ctx()) // a daemon that acted from the start (single, no lease_dir)
		}
		return
	}
	d.ha.changes.Inc()
	if st.Acting {
		d.ha.leader.Set(1)
		d.flushLostStore(d.ctx())
		d.journal(d.ctx(), store.Entry{Kind: "controller", Reason: "acting",
			Message: fmt.Sprintf("%s acts on the cluster (%s, term %d): %s", st.Name, st.Role, st.Term, st.Why)})
		d.journalOwed(d.ctx())
		d.kickDecide()
		return
	}
	d.ha.leader.Set(0)
	if st.StoreLost {
		d.alertLostStore(st)
		return
	}
	d.log.Warn("this daemon stopped acting", "why", st.Why)
}

// ctx is Run's context without its cancellation, or a background one before Run.
func (d *Daemon) ctx() context.Context {
	if d.runCtx != nil {
		return d.runCtx
	}
	return context.Background()
}

// adopt loads from the store what the previous leader (or this daemon's previous run) left:
// the guards (fence and restart records, the freeze), the disarm switch, the plans, operators' marks on hosts and
// VM records this daemon has not seen. It runs when this daemon wins the leadership, before it
// acts.
func (d *Daemon) adopt(ctx context.Context) error {
	g, err := d.db.Guards(ctx)
	if err != nil {
		return fmt.Errorf("daemon: adopt recovery guards: %w", err)
	}
	ps, err := d.db.ListPlans(ctx)
	if err != nil {
		return fmt.Errorf("daemon: adopt plans: %w", err)
	}
	hosts, err := d.db.ListHosts(ctx)
	if err != nil {
		return fmt.Errorf("daemon: adopt host records: %w", err)
	}
	vms, err := d.db.ListVMs(ctx)
	if err != nil {
		return fmt.Errorf("daemon: adopt VM records: %w", err)
	}
	dis, err := d.db.GetDisarm(ctx)
	if err != nil {
		return fmt.Errorf("daemon: adopt the disarm switch: %w", err)
	}
	owed, err := d.unjournaledFences(ctx, g)
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ha.owed = owed
	d.setDisarmLocked(dis) // an admin's disarm holds for every daemon that takes over
	if g.Fences == nil {
		g.Fences = map[string]policy.FenceRecord{}
	}
	if g.Restarts == nil {
		g.Restarts = map[string]policy.RestartRecord{}
	}
	d.guards = g
	d.plans = planBook{byID: map[string]*store.Plan{}, byKey: map[string]*store.Plan{}}
	for i := range ps {
		p := ps[i]
		d.plans.byID[p.ID] = &p
		d.plans.byKey[p.Key] = &p
	}
	for _, h := range hosts {
		if w, ok := d.byName[h.Name]; ok {
			w.draining = h.Maintenance
			w.sig.Operator.Maintenance = h.Maintenance
			w.sig.Operator.Degraded, w.sig.Operator.DegradedReason = h.Degraded, h.DegradedReason
		}
	}
	for i := range vms {
		r := vms[i]
		cur, ok := d.vms[r.UUID]
		if !ok {
			d.addVM(&r)
			d.parseDisks(&r)
			d.vmsMoved()
			continue
		}
		// Where a VM runs is what this daemon sees; where it belongs is the leader's record.
		cur.HomeHost, cur.Protected, cur.Priority = r.HomeHost, r.Protected, r.Priority
	}
	return nil
}

// Redirect tells the API whether this daemon is a follower, and where the leader is.
func (d *Daemon) Redirect() (bool, string, string) {
	if d.leading() {
		return false, "", ""
	}
	st := d.ha.ctl.Status()
	return true, st.LeaderURL, st.Why
}

// controllerView is the controller's status for the API.
func (d *Daemon) controllerView() *api.ControllerView {
	if d.ha.ctl == nil {
		return nil
	}
	// Acting first: a leader whose session goes stale meanwhile then also says why it stopped.
	acting := d.leading()
	st := d.ha.ctl.Status()
	v := &api.ControllerView{Name: st.Name, Role: string(st.Role), Acting: acting && st.Acting, Leader: st.Leader,
		LeaderURL: st.LeaderURL, Term: st.Term, Peers: []api.PeerView{}, Why: st.Why}
	for _, p := range st.Peers {
		v.Peers = append(v.Peers, api.PeerView(p))
	}
	return v
}

var _ api.Follower = (*Daemon)(nil)

// newHAMetrics registers the metrics of controller HA on reg.
func newHAMetrics(reg prometheus.Registerer) (leader prometheus.Gauge, changes prometheus.Counter) {
	leader = prometheus.NewGauge(prometheus.GaugeOpts{Name: "lifeboat_leader",
		Help: "1 while this daemon acts on the cluster (the elected leader, or a single daemon holding the controller lock), else 0."})
	changes = prometheus.NewCounter(prometheus.CounterOpts{Name: "lifeboat_leader_changes_total",
		Help: "Times this daemon started or stopped acting (won or lost the leadership or the controller lock)."})
	reg.MustRegister(leader, changes)
	return leader, changes
}
