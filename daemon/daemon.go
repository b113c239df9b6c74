package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/fence"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/migrate"
	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// Version is reported by the API; the binary sets it.
var Version = "dev"

// Daemon watches the cluster. Create it with New, run it with Run.
type Daemon struct {
	// cfgp is the configuration in force (see conf); SIGHUP may replace its reloadable sections.
	cfgp   atomic.Pointer[config.Config]
	log    *slog.Logger
	db     store.Store
	now    func() time.Time
	det    policy.DetectorConfig
	m      *metrics
	hosts  []*hostWatch
	byName map[string]*hostWatch

	// mu guards the hosts' signals, tracks and verdicts, and the VM records.
	mu  sync.Mutex
	vms map[string]*store.VMRecord // by UUID
	// unsaved are the VM records (by UUID) whose latest write failed: the next inventory writes
	// them again.
	unsaved map[string]bool
	// vmIdx indexes vms by current host for the inventories (vmsOnHost); vmOrder is vms in
	// the snapshot's order (orderedVMs).
	vmIdx   vmIndex
	vmOrder []*store.VMRecord
	// vmOrderStale says vmOrder must be sorted again: a record was added (addVM) or renamed.
	vmOrderStale bool
	// activeAt are the hosts whose latest inventory lists a VM active, by UUID (activeHost).
	activeAt map[string][]*hostWatch
	disks    map[string][]string // each VM's disk paths, parsed from its definition once
	// queue holds the hosts waiting for a decision: signals changed, or a next check due.
	queue *decideQueue
	// recoverKick asks the recovery loop to reconcile now.
	recoverKick chan struct{}
	// engine carries out live migrations (nil until Run); drainKick wakes the drain loop; noted
	// remembers notes already journaled.
	engine    *migrate.Engine
	runCtx    context.Context // Run's context without its cancellation, for records made on the way out
	drainKick chan struct{}
	noted     map[string]bool
	// guards is the recovery guards' state (the store has it too); fencing and restarting are
	// the fences and restarts running in this process; held remembers the reconciler's latest
	// hold per subject, to journal changes only. webhook delivers notifications (nil: none).
	guards     policy.Guards
	fencing    map[string]bool
	restarting map[string]bool
	// resetting are the in-place restarts of crashed guests running in this process.
	resetting map[string]bool
	held      map[string]policy.ActionReason
	// stuck lists, per draining or evacuating host, the VMs that cannot leave it and why (written
	// by the drain loop under mu).
	stuck    map[string][]api.StuckVM
	disarmed bool
	// capCache is the latest failover capacity figure (see Capacity).
	capCache capacityFigure
	webhook  *notify.Webhook
	dial     hypervisor.Dialer
	migrate  migrate.MigrateFunc
	started  time.Time
	ready    atomic.Bool
	// plans are the approval mode's plans (under mu); failback is the failback loop's state.
	plans        planBook
	failbackKick chan struct{}
	fb           failbackState
	// learnt is when libvirt was last asked for each VM's address (under mu).
	learnt map[string]time.Time
	// ha is this daemon's part in controller HA (see controller.go).
	ha haState
	// disarm is an admin's stop of all automatic action (disarm.go).
	disarm disarmState
}

// hostWatch is everything the daemon knows about one host.
type hostWatch struct {
	idx     int // in Daemon.hosts
	cfg     config.Host
	conn    hypervisor.Host
	bmc     bmcSource
	sig     policy.Signals
	track   policy.Track
	verdict policy.Verdict
	// domains is the latest inventory (from a reachable host); invKick asks for a refresh.
	domains []hypervisor.Domain
	invAt   time.Time
	invKick chan struct{}
	info    hypervisor.HostInfo // capacity, read once connected
	history []store.Entry       // recent verdict changes, newest last
	health  healthState         // the health score's inputs and memory
	// draining is an operator's drain: maintenance (no new placements), VMs moved off.
	draining bool
	// ladder fences the host (its fence record is in the daemon's guards).
	ladder fence.Ladder
	// guestKick asks the guest-liveness loop to probe now.
	guestKick chan struct{}
	// bmcKick asks the BMC loop to read the BMC now.
	bmcKick chan struct{}
	// events is the BMC's event stream, for explain (bmcevents.go).
	events bmcEvents
	// faults are the host's crashed guests found in its latest inventory, by UUID
	// (VM-level monitoring; see checkGuests).
	faults map[string]policy.GuestFault
}

// Options are the daemon's injectable parts.
type Options struct {
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Dial opens host connections; default hypervisor.DialHost (real libvirt). A simulated
	// fleet passes its own.
	Dial hypervisor.Dialer
	// Migrate runs one live migration; default hypervisor.Migrate.
	Migrate migrate.MigrateFunc
	// Name is this daemon's name among the cluster's daemons; default the hostname.
	Name string
}

// New opens the store and prepares the host watchers; nothing runs until Run.
func New(ctx context.Context, cfg config.Config, opts Options) (*Daemon, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("daemon: config: %w", err)
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Dial == nil {
		opts.Dial = hypervisor.DialHost
	}
	if opts.Migrate == nil {
		opts.Migrate = hypervisor.Migrate
	}
	db, err := store.OpenConfig(ctx, cfg.Store)
	if err != nil {
		return nil, fmt.Errorf("daemon: store: %w", err)
	}
	d := &Daemon{log: opts.Logger, db: db, now: opts.Now, byName: map[string]*hostWatch{},
		vms: map[string]*store.VMRecord{}, unsaved: map[string]bool{}, activeAt: map[string][]*hostWatch{}, disks: map[string][]string{}, queue: newDecideQueue(len(cfg.Hosts)), recoverKick: make(chan struct{}, 1), drainKick: make(chan struct{}, 1), noted: map[string]bool{}, fencing: map[string]bool{}, restarting: map[string]bool{}, resetting: map[string]bool{}, held: map[string]policy.ActionReason{}, m: newMetrics(), dial: opts.Dial, migrate: opts.Migrate}
	d.cfgp.Store(&cfg)
	d.det = detectorConfig(cfg.Timings, cfg.Recovery)
	if err := d.initController(db, opts.Name); err != nil {
		db.Close()
		return nil, err
	}
	for _, h := range cfg.Hosts {
		w := &hostWatch{idx: len(d.hosts), cfg: h, invKick: make(chan struct{}, 1), guestKick: make(chan struct{}, 1), bmcKick: make(chan struct{}, 1)}
		w.sig.Host = h.Name
		w.sig.Guests.Configured = cfg.Recovery.PartitionPolicy == config.PartitionWaitForGuests
		bmc, err := newBMCSource(h, cfg.Timings.BMCTimeout.D())
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("daemon: host %s: %w", h.Name, err)
		}
		if bmc != nil {
			w.bmc = bmc
			w.sig.BMC.Configured = true
		}
		w.sig.Lease.Configured = cfg.LeaseDir != ""
		ladder, err := fence.FromHost(h, cfg.Recovery.FenceTimeout.D())
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("daemon: host %s: fencing: %w", h.Name, err)
		}
		w.ladder = ladder
		for _, m := range ladder.Methods {
			// Series at 0 from the start, so that an alert on increase() sees the first failure.
			d.m.fenceAttempts.WithLabelValues(m.Name(), "failed")
			d.m.fenceAttempts.WithLabelValues(m.Name(), "ok")
		}
		d.hosts = append(d.hosts, w)
		d.byName[h.Name] = w
	}
	if cfg.Notify.WebhookURL != "" {
		wh, err := notify.NewWebhook(cfg.Notify.WebhookURL, cfg.Notify.SecretFile, d.log)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("daemon: notify: %w", err)
		}
		wh.Metrics = d.m.webhook
		d.webhook = wh
	}
	if err := d.load(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := d.loadPlans(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := d.loadDisarm(ctx); err != nil {
		db.Close()
		return nil, err
	}
	d.m.setHostStates(d.hostStates()) // from here on, each change of verdict moves one host
	d.failbackKick = make(chan struct{}, 1)
	d.learnt = map[string]time.Time{}
	d.fb = failbackState{migrations: map[string]string{}, failed: map[string]time.Time{}}
	return d, nil
}

func detectorConfig(t config.Timings, r config.Recovery) policy.DetectorConfig {
	c := policy.DefaultDetectorConfig()
	c.SuspectAfter = t.SuspectAfter.D()
	c.UnreachableAfter = t.UnreachableAfter.D()
	c.StableFor = t.StableFor.D()
	c.BMCStaleAfter = max(3*t.BMCInterval.D()+t.BMCTimeout.D(), 2*time.Second)
	c.PartitionPolicy = policy.PartitionPolicy(r.PartitionPolicy)
	// A guest reading is taken every probe interval, each probe within the probe timeout.
	c.GuestStaleAfter = max(2*(t.ProbeInterval.D()+t.ProbeTimeout.D()), 2*time.Second)
	return c
}

// load restores VM records and the last host verdicts from the store.
func (d *Daemon) load(ctx context.Context) error {
	vms, err := d.db.ListVMs(ctx)
	if err != nil {
		return fmt.Errorf("daemon: load VM records: %w", err)
	}
	for i := range vms {
		r := vms[i]
		d.addVM(&r)
		d.parseDisks(&r)
	}
	if d.guards, err = d.db.Guards(ctx); err != nil {
		return fmt.Errorf("daemon: load recovery guards: %w", err)
	}
	hosts, err := d.db.ListHosts(ctx)
	if err != nil {
		return fmt.Errorf("daemon: load host records: %w", err)
	}
	for _, h := range hosts {
		if w, ok := d.byName[h.Name]; ok {
			w.draining = h.Maintenance
			w.sig.Operator.Maintenance = h.Maintenance
			w.sig.Operator.Degraded, w.sig.Operator.DegradedReason = h.Degraded, h.DegradedReason
			w.health.restore(h.Observations, d.now().Add(d.conf().Alerts.Alertmanager.ExpireAfter.D()))
			w.track = policy.Track{State: policy.HostState(h.State), Reason: policy.Reason(h.Reason), Since: h.Since}
			w.verdict = policy.Verdict{Host: h.Name, State: w.track.State, Reason: w.track.Reason, Message: h.Message, Since: h.Since}
		}
	}
	return nil
}

// Run watches the cluster until ctx ends, then closes every connection and the store.
func (d *Daemon) Run(ctx context.Context) error {
	d.started = d.now()
	d.runCtx = context.WithoutCancel(ctx)
	d.journal(ctx, store.Entry{Kind: "daemon", Reason: "started",
		Message: fmt.Sprintf("lifeboat %s started: watching %d hosts, %d VM records restored", Version, len(d.hosts), len(d.vms))})
	mc := d.conf().Migration
	ladder := d.ladder()
	d.engine = migrate.New(ctx, migrate.Options{
		Budgets:       migrate.Budgets{PerHostOut: mc.PerHostOut, PerHostIn: mc.PerHostIn, Cluster: mc.Cluster},
		Ladder:        ladder,
		BandwidthMiBs: mc.BandwidthMiBs,
		CopyStorage:   mc.CopyStorage,
		TLS:           mc.TLS,
		Migrate:       d.migrate,
		Journal:       d.journal,
		Now:           d.now,
		Logger:        d.log,
		OnDone:        d.migrationDone,
	})
	var wg sync.WaitGroup
	for _, w := range d.hosts {
		conn, err := d.dial(ctx, w.cfg.Name, w.cfg.URI, hypervisor.Options{
			ProbeTimeout: d.conf().Timings.ProbeTimeout.D(), Logger: d.log, Now: d.now})
		if err != nil {
			return fmt.Errorf("daemon: host %s: %w", w.cfg.Name, err)
		}
		w.conn = conn
		for _, loop := range []func(context.Context, *hostWatch){d.probeLoop, d.bmcLoop, d.inventoryLoop, d.eventLoop, d.guestLoop} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				loop(ctx, w)
			}()
		}
	}
	d.queue.markAll() // a first verdict on every host
	wg.Add(3)
	go func() {
		defer wg.Done()
		d.decideLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		d.recoveryLoop(ctx)
	}()
	if d.webhook != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.webhook.Run(ctx)
		}()
	}
	go func() {
		defer wg.Done()
		d.drainLoop(ctx)
	}()
	wg.Add(5)
	go func() {
		defer wg.Done()
		d.planLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		d.controllerWatch(ctx)
	}()
	go func() {
		defer wg.Done()
		d.capacityLoop(ctx)
	}()
	go func() {
		defer wg.Done()
		if err := d.ha.ctl.Run(ctx); err != nil {
			d.log.Error("controller stopped", "err", err)
		}
	}()
	go func() {
		defer wg.Done()
		d.failbackLoop(ctx)
	}()
	d.ready.Store(true)
	<-ctx.Done()
	d.ready.Store(false)
	d.engine.Close()
	for _, w := range d.hosts {
		w.conn.Close()
	}
	wg.Wait()
	stopCtx := context.WithoutCancel(ctx)
	d.journal(stopCtx, store.Entry{Kind: "daemon", Reason: "stopped", Message: "lifeboat stopped"})
	if err := d.db.Close(); err != nil {
		return fmt.Errorf("daemon: close store: %w", err)
	}
	if errors.Is(ctx.Err(), context.Canceled) {
		return nil
	}
	return ctx.Err()
}

// journal appends an entry, stamping its time; a failure is logged, never fatal.
func (d *Daemon) journal(ctx context.Context, e store.Entry) {
	if e.At.IsZero() {
		e.At = d.now()
	}
	// What was observed is recorded even while the daemon is stopping.
	if _, err := d.db.Append(context.WithoutCancel(ctx), e); err != nil {
		d.log.Error("journal append failed", "err", err, "kind", e.Kind, "message", e.Message)
		return
	}
	d.m.journal.WithLabelValues(e.Kind).Inc()
}

// kickDecide asks the decide loop to decide every host, for a change that may touch all of
// them (a configuration reload, a change of leadership). A change of one host's signals marks
// only that host (markDirty).
func (d *Daemon) kickDecide() { d.queue.markAll() }

// parseDisks caches the disk paths of a VM's definition. Caller holds d.mu (or owns d).
func (d *Daemon) parseDisks(r *store.VMRecord) {
	if r.Definition == "" {
		return
	}
	_, _, disks, err := hypervisor.DomainDisks(r.Definition)
	if err != nil {
		d.log.Warn("VM definition does not parse", "vm", r.Name, "err", err)
		return
	}
	d.disks[r.UUID] = disks
}

// migrationDone records where a migrated VM now runs, without waiting for the next inventory.
func (d *Daemon) migrationDone(m migrate.Migration) {
	d.m.migrations.WithLabelValues(string(m.State)).Inc()
	if !m.Started.IsZero() {
		d.m.migDur.Observe(m.Ended.Sub(m.Started).Seconds())
	}
	if m.Purpose == migrate.PurposeFailback {
		d.m.failbacks.WithLabelValues(string(m.State)).Inc()
		if m.State != migrate.StateSucceeded {
			d.mu.Lock()
			d.fb.failed[m.UUID] = d.now() // it waits before its next try
			d.mu.Unlock()
		}
	}
	if id := m.Plan; id != "" && m.Purpose == migrate.PurposeSwitchover {
		state, result := policy.PlanDone, fmt.Sprintf("migration %s %s", m.ID, m.State)
		if m.State != migrate.StateSucceeded {
			state, result = policy.PlanFailed, result+": "+m.Error
		}
		d.finishPlanID(d.runCtx, id, state, result)
	}
	if m.State != migrate.StateSucceeded {
		return
	}
	d.m.migDown.Observe(float64(m.DowntimeMs) / 1000)
	d.m.migBytes.Add(float64(m.DataBytes))
	d.mu.Lock()
	delete(d.fb.failed, m.UUID)
	r, ok := d.vms[m.UUID]
	if ok {
		d.vmArrived(r, m.To)
		r.CurrentHost, r.State, r.UpdatedAt = m.To, "running", d.now()
		if m.Purpose == migrate.PurposeSwitchover && r.HomeHost != m.To {
			// An operator's switchover is a move on purpose: the VM's home is where it went.
			r.HomeHost = m.To
		}
	}
	var rec store.VMRecord
	if ok {
		rec = *r
	}
	d.mu.Unlock()
	if ok {
		if err := d.db.PutVM(d.runCtx, rec); err != nil {
			d.log.Error("cannot store a VM record", "vm", rec.Name, "err", err)
		}
	}
	for _, w := range []string{m.From, m.To} {
		if hw, ok := d.byName[w]; ok {
			select {
			case hw.invKick <- struct{}{}:
			default:
			}
		}
	}
}

// ladder is the configured escalation ladder.
func (d *Daemon) ladder() policy.Ladder {
	mc := d.conf().Migration
	l := policy.Ladder{StallSamples: mc.StallSamples, PostCopy: mc.PostCopy, MaxDuration: mc.MaxDuration.D()}
	for _, dt := range mc.Downtimes {
		l.Downtimes = append(l.Downtimes, dt.D())
	}
	return l
}
