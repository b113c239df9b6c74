package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"time"

	"libvirt.org/go/libvirt"
)

// Errors of Migrate, for errors.Is (besides ErrNoDomain and ErrNotConnected).
var (
	// ErrMigrationAborted means the MigrationController aborted the migration.
	ErrMigrationAborted = errors.New("migration aborted by its controller")
	// ErrMigrationCancelled means the caller's context ended the migration.
	ErrMigrationCancelled = errors.New("migration cancelled")
)

const (
	defaultPollInterval = 500 * time.Millisecond
	// defaultMaxDowntime is libvirt's (QEMU's) default, assumed when it cannot be read.
	defaultMaxDowntime = 300 * time.Millisecond
	// jobStartPoll is how often the job is polled until it appears, so that the initial maximum
	// downtime is applied and an abort lands as soon as possible.
	jobStartPoll = 20 * time.Millisecond
	// migrationConnectTimeout bounds opening each of a migration's connections.
	migrationConnectTimeout = 10 * time.Second
	// Keepalive of a migration's connections: a dead or hung peer closes them (and so ends
	// calls in flight, the migration call included) after about interval*(count+1) seconds.
	migrationKeepAliveInterval = 2
	migrationKeepAliveCount    = 3
	// completedStatsWait bounds the wait for the job-completed event after a success.
	completedStatsWait = 2 * time.Second
)

// MigrationSpec describes one live migration.
type MigrationSpec struct {
	// SourceURI and DestURI are the libvirt URIs of the two hosts. The migration is
	// peer-to-peer: the source's libvirtd connects to DestURI itself, so DestURI must be valid
	// from the source host as well as from here.
	SourceURI, DestURI string
	// UUID names the domain.
	UUID string
	// BandwidthMiBs caps the migration stream in MiB/s; 0 means unlimited. (The libvirt binding
	// sends it as the post-copy bandwidth too.)
	BandwidthMiBs uint64
	// MaxDowntime is the initial maximum downtime, applied as soon as the job starts; 0 keeps
	// libvirt's default (300 ms).
	MaxDowntime time.Duration
	// AutoConverge lets QEMU throttle the guest's vCPUs when memory is dirtied faster than it
	// is sent.
	AutoConverge bool
	// PostCopy allows post-copy; the switch happens only when the controller asks for it.
	PostCopy bool
	// CopyStorage copies non-shared disks along with memory (MIGRATE_NON_SHARED_DISK).
	CopyStorage bool
	// TLS encrypts the migration stream (MIGRATE_TLS; the hosts need QEMU TLS certificates).
	TLS bool
	// PollInterval is the time between progress samples. Default 500 ms.
	PollInterval time.Duration
}

// MigrationProgress is one progress sample.
type MigrationProgress struct {
	At time.Time
	// Elapsed is the time since the migration call started.
	Elapsed time.Duration
	// DataTotal, DataProcessed and DataRemaining count bytes (memory plus copied disks).
	DataTotal, DataProcessed, DataRemaining uint64
	// DirtyRate is the rate at which the guest dirties memory, in bytes/s (libvirt's pages/s
	// times the page size); 0 until QEMU has measured it (after the first pass).
	DirtyRate uint64
	// TransferRate is the memory transfer rate, in bytes/s; 0 until measured.
	TransferRate uint64
	// Iteration is the number of the pass over memory (1 is the first full pass).
	Iteration uint64
	// MaxDowntime is the maximum downtime currently set.
	MaxDowntime time.Duration
	// PostCopy tells that the switch to post-copy has been requested and accepted.
	PostCopy bool
}

// MigrationAction is what a controller tells the running migration to do after a sample.
type MigrationAction struct {
	// SetMaxDowntime, when positive and different from the current value, sets the maximum
	// downtime. A failure leaves MaxDowntime unchanged in the next sample.
	SetMaxDowntime time.Duration
	// StartPostCopy switches to post-copy (only if MigrationSpec.PostCopy; ignored otherwise).
	// Once switched, the migration can no longer be aborted or cancelled.
	StartPostCopy bool
	// Abort cancels the migration; the guest keeps running on the source. Ignored once in
	// post-copy.
	Abort       bool
	AbortReason string
}

// MigrationController decides, from each progress sample, what to do next. Migrate calls it
// from its own goroutine, between samples, so it must return quickly. It is called only while
// memory is being transferred, and no longer once an abort has been asked for.
type MigrationController func(p MigrationProgress) MigrationAction

// MigrationResult is how it ended.
type MigrationResult struct {
	// Started is when the migration call was made; Ended is when it returned.
	Started, Ended time.Time
	// Downtime is libvirt's figure of how long the guest was paused, when available.
	Downtime time.Duration
	// DataBytes counts the bytes transferred: libvirt's final figure after a success, the last
	// sample's otherwise.
	DataBytes uint64
	// PostCopy tells that the switch to post-copy was requested and accepted (QEMU makes it at
	// the end of the pass under way).
	PostCopy bool
	// Aborted tells that the controller or the context aborted the migration and it ended
	// without moving the guest (a migration that failed on its own, e.g. because the
	// destination was lost, is not "aborted": the error says why it failed).
	Aborted     bool
	AbortReason string
}

func (s MigrationSpec) withDefaults() (MigrationSpec, error) {
	switch {
	case s.SourceURI == "":
		return s, errors.New("hypervisor: migration: no source URI")
	case s.DestURI == "":
		return s, errors.New("hypervisor: migration: no destination URI")
	case s.UUID == "":
		return s, errors.New("hypervisor: migration: no domain UUID")
	case s.SourceURI == s.DestURI:
		return s, fmt.Errorf("hypervisor: migration of %s: source and destination are both %s", s.UUID, s.SourceURI)
	case s.MaxDowntime < 0:
		return s, fmt.Errorf("hypervisor: migration of %s: negative maximum downtime %s", s.UUID, s.MaxDowntime)
	}
	if s.PollInterval <= 0 {
		s.PollInterval = defaultPollInterval
	}
	return s, nil
}

// migrationFlags are the libvirt flags for a spec: a live, peer-to-peer migration that moves
// the persistent definition along with the guest.
func migrationFlags(s MigrationSpec) libvirt.DomainMigrateFlags {
	f := libvirt.MIGRATE_LIVE | libvirt.MIGRATE_PEER2PEER | libvirt.MIGRATE_PERSIST_DEST | libvirt.MIGRATE_UNDEFINE_SOURCE
	if s.AutoConverge {
		f |= libvirt.MIGRATE_AUTO_CONVERGE
	}
	if s.PostCopy {
		f |= libvirt.MIGRATE_POSTCOPY
	}
	if s.CopyStorage {
		f |= libvirt.MIGRATE_NON_SHARED_DISK
	}
	if s.TLS {
		f |= libvirt.MIGRATE_TLS
	}
	return f
}

// migrationParams are the libvirt parameters for a spec. There is no downtime parameter: the
// maximum downtime is set on the running job.
func migrationParams(s MigrationSpec) *libvirt.DomainMigrateParameters {
	p := &libvirt.DomainMigrateParameters{}
	if s.BandwidthMiBs > 0 {
		p.Bandwidth, p.BandwidthSet = s.BandwidthMiBs, true
	}
	return p
}

// hostOf names a host by its URI's host part, for messages.
func hostOf(uri string) string {
	if u, err := url.Parse(uri); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return uri
}

// jobPhase is where a migration job stands, from the job statistics.
type jobPhase int

const (
	phaseNone     jobPhase = iota // no migration job (not yet started, or over)
	phaseSetup                    // the job runs but no memory is being sent yet
	phaseTransfer                 // memory is being sent
)

// progressFromJob turns libvirt's job statistics into a sample (without its times, maximum
// downtime or post-copy state, which the caller knows).
func progressFromJob(ji *libvirt.DomainJobInfo) (jobPhase, MigrationProgress) {
	if ji == nil || ji.Type == libvirt.DOMAIN_JOB_NONE || ji.Type == libvirt.DOMAIN_JOB_COMPLETED ||
		ji.Type == libvirt.DOMAIN_JOB_FAILED || ji.Type == libvirt.DOMAIN_JOB_CANCELLED {
		return phaseNone, MigrationProgress{}
	}
	if ji.OperationSet && ji.Operation != libvirt.DOMAIN_JOB_OPERATION_MIGRATION_OUT {
		return phaseNone, MigrationProgress{} // some other job
	}
	var p MigrationProgress
	if ji.DataTotalSet {
		p.DataTotal = ji.DataTotal
	}
	if ji.DataProcessedSet {
		p.DataProcessed = ji.DataProcessed
	}
	if ji.DataRemainingSet {
		p.DataRemaining = ji.DataRemaining
	}
	if ji.MemDirtyRateSet {
		page := uint64(4096)
		if ji.MemPageSizeSet && ji.MemPageSize > 0 {
			page = ji.MemPageSize
		}
		p.DirtyRate = ji.MemDirtyRate * page
	}
	if ji.MemBpsSet {
		p.TransferRate = ji.MemBps
	}
	if ji.MemIterationSet {
		p.Iteration = ji.MemIteration
	}
	if p.DataTotal == 0 {
		return phaseSetup, p
	}
	return phaseTransfer, p
}

// completedFigures reads the downtime and the bytes sent from a completed job's statistics.
func completedFigures(ji *libvirt.DomainJobInfo) (downtime time.Duration, data uint64, ok bool) {
	if ji == nil {
		return 0, 0, false
	}
	if ji.DowntimeSet {
		downtime, ok = time.Duration(ji.Downtime)*time.Millisecond, true
	}
	switch {
	case ji.DataProcessedSet:
		data, ok = ji.DataProcessed, true
	case ji.MemProcessedSet:
		data, ok = ji.MemProcessed+ji.DiskProcessed, true
	}
	return downtime, data, ok
}

// migrationJob is the running job as the supervising loop sees it; the real one calls libvirt
// on the source.
type migrationJob interface {
	sample() (jobPhase, MigrationProgress, error)
	maxDowntime() (time.Duration, error)
	setMaxDowntime(time.Duration) error
	startPostCopy() error
	abort() error
}

// abortCause is why Migrate asked for an abort.
type abortCause int

const (
	causeNone abortCause = iota
	causeController
	causeCancel
	causeDestLost
)

// supervision is what the supervising loop saw.
type supervision struct {
	migErr   error // what the migration call returned
	cause    abortCause
	reason   string
	postCopy bool
	last     MigrationProgress
	samples  int
}

// supervisor samples a running migration, hands each sample to the controller and applies its
// actions, and aborts on cancellation or loss of the destination.
type supervisor struct {
	spec    MigrationSpec
	ctl     MigrationController
	job     migrationJob
	started time.Time
	now     func() time.Time
	log     *slog.Logger

	s            supervision
	jobSeen      bool
	abortPending bool // an abort was asked for but AbortJob has not succeeded yet
	downtime     time.Duration
}

// run supervises until the migration call returns on done.
func (v *supervisor) run(ctx context.Context, done <-chan error, destLost <-chan struct{}) supervision {
	poll := time.NewTimer(0)
	defer poll.Stop()
	ctxDone := ctx.Done()
	for {
		select {
		case err := <-done:
			v.s.migErr = err
			return v.s
		case <-ctxDone:
			ctxDone = nil
			v.requestAbort(causeCancel, "context ended: "+ctx.Err().Error())
		case <-destLost:
			destLost = nil
			v.requestAbort(causeDestLost, "lost the connection to the destination "+hostOf(v.spec.DestURI))
		case <-poll.C:
			v.tick()
			next := v.spec.PollInterval
			if !v.jobSeen {
				next = min(jobStartPoll, next)
			}
			poll.Reset(next)
		}
	}
}

// requestAbort aborts the job unless it is in post-copy (which cannot be undone). The first
// cause wins.
func (v *supervisor) requestAbort(cause abortCause, reason string) {
	if v.s.postCopy {
		v.log.Warn("migration in post-copy: cannot abort, waiting for it to finish", "reason", reason)
		return
	}
	if v.s.cause == causeNone {
		v.s.cause, v.s.reason = cause, reason
		v.log.Info("aborting migration", "reason", reason)
	}
	v.tryAbort()
}

func (v *supervisor) tryAbort() {
	if err := v.job.abort(); err != nil {
		// Most likely the job has not started yet (or is finishing): retry on the next ticks
		// until the migration call returns.
		v.log.Debug("abort migration job", "err", err)
		v.abortPending = true
		return
	}
	v.abortPending = false
}

// tick takes one sample and applies the controller's action.
func (v *supervisor) tick() {
	phase, p, err := v.job.sample()
	if err != nil {
		v.log.Debug("migration job stats", "err", err)
	}
	if err == nil && phase != phaseNone && !v.jobSeen {
		v.jobSeen = true
		v.initDowntime()
	}
	if v.abortPending {
		v.tryAbort()
	}
	if err != nil || phase != phaseTransfer || v.s.cause != causeNone {
		return
	}
	p.At = v.now()
	p.Elapsed = p.At.Sub(v.started)
	p.MaxDowntime = v.downtime
	p.PostCopy = v.s.postCopy
	v.s.last = p
	v.s.samples++
	if v.ctl == nil {
		return
	}
	act := v.ctl(p)
	if act.Abort {
		reason := act.AbortReason
		if reason == "" {
			reason = "aborted by controller"
		}
		v.requestAbort(causeController, reason)
		return
	}
	if act.SetMaxDowntime > 0 && act.SetMaxDowntime != v.downtime {
		if err := v.job.setMaxDowntime(act.SetMaxDowntime); err != nil {
			v.log.Warn("set migration max downtime", "downtime", act.SetMaxDowntime, "err", err)
		} else {
			v.downtime = act.SetMaxDowntime
		}
	}
	if act.StartPostCopy && !v.s.postCopy {
		if !v.spec.PostCopy {
			v.log.Warn("post-copy requested but not allowed by the migration spec: ignored")
		} else if err := v.job.startPostCopy(); err != nil {
			v.log.Warn("start post-copy", "err", err)
		} else {
			v.s.postCopy = true
		}
	}
}

// initDowntime applies the spec's maximum downtime once the job exists, or reads the current one.
func (v *supervisor) initDowntime() {
	if v.spec.MaxDowntime > 0 {
		err := v.job.setMaxDowntime(v.spec.MaxDowntime)
		if err == nil {
			v.downtime = v.spec.MaxDowntime
			return
		}
		v.log.Warn("set initial migration max downtime", "downtime", v.spec.MaxDowntime, "err", err)
	}
	d, err := v.job.maxDowntime()
	if err != nil || d <= 0 {
		d = defaultMaxDowntime
	}
	v.downtime = d
}

// migrationError turns how the migration ended into Migrate's error: nil after a success,
// else one wrapping ErrNotConnected (source or destination lost), ErrMigrationAborted,
// ErrMigrationCancelled or libvirt's error, naming the domain and both hosts (in what).
func migrationError(s supervision, ctxErr error, srcAlive, destAlive bool, what string) error {
	if s.migErr == nil {
		return nil
	}
	lv := wrap("libvirt", s.migErr)
	switch {
	case !srcAlive:
		// Nothing can be known of the source, not even whether an abort took effect.
		if errors.Is(lv, ErrNotConnected) {
			return fmt.Errorf("hypervisor: %s: lost the connection to the source; where the guest runs is unknown: %w", what, lv)
		}
		return fmt.Errorf("hypervisor: %s: lost the connection to the source; where the guest runs is unknown: %w (%v)", what, ErrNotConnected, lv)
	case s.cause == causeController:
		return fmt.Errorf("hypervisor: %s: %w: %s (%v)", what, ErrMigrationAborted, s.reason, lv)
	case s.cause == causeCancel:
		if ctxErr == nil {
			ctxErr = context.Canceled
		}
		return fmt.Errorf("hypervisor: %s: %w: %w (%v)", what, ErrMigrationCancelled, ctxErr, lv)
	case s.cause == causeDestLost || !destAlive || errors.Is(lv, ErrNotConnected):
		// A lost connection while the source still answers is the source's peer-to-peer
		// connection to the destination: the destination was lost (even before this side saw it).
		if errors.Is(lv, ErrNotConnected) {
			return fmt.Errorf("hypervisor: %s: lost the connection to the destination: %w", what, lv)
		}
		return fmt.Errorf("hypervisor: %s: lost the connection to the destination: %w (%v)", what, ErrNotConnected, lv)
	}
	return fmt.Errorf("hypervisor: %s: %w", what, lv)
}

// Migrate live-migrates the domain on its own connection, sampling progress every PollInterval
// and applying the controller's actions (ctl may be nil); ctx cancellation aborts the migration
// (AbortJob) and returns an error wrapping ErrMigrationCancelled. Errors are typed:
// ErrMigrationAborted (controller abort), ErrMigrationCancelled, ErrNoDomain, ErrNotConnected
// (source or destination unreachable, or the destination lost mid-way), others wrapped with %w
// and naming VM and hosts.
//
// The migration is peer-to-peer (the source's libvirtd drives it), persists the domain on the
// destination and undefines it on the source. It uses connections of its own, closed at the
// end: one for the migration call (which holds it throughout), one on the source for progress
// and control, and one to the destination, which tells early that the destination is
// unreachable and, if it drops mid-way, aborts the migration.
//
// Until the switch to post-copy, a failure or abort leaves the guest running on the source
// (libvirt resumes it); if the source is then not running, the error says so. Once in
// post-copy, the migration can be neither aborted nor cancelled: Migrate waits for its end, and
// a failure then leaves the guest paused on both sides. If the abort comes too late (the
// migration completes first), Migrate reports the success. If the source itself becomes
// unreachable, the error wraps ErrNotConnected and where the guest runs is unknown.
//
// Completed-job figures (Downtime, DataBytes) come from the job-completed event on the source,
// else from the destination's completed job statistics, else from the last sample.
func Migrate(ctx context.Context, spec MigrationSpec, ctl MigrationController) (MigrationResult, error) {
	spec, err := spec.withDefaults()
	if err != nil {
		return MigrationResult{}, err
	}
	src, dst := hostOf(spec.SourceURI), hostOf(spec.DestURI)
	what := fmt.Sprintf("migrate %s from %s to %s", spec.UUID, src, dst)
	if err := ctx.Err(); err != nil {
		return MigrationResult{}, fmt.Errorf("hypervisor: %s: %w: %w", what, ErrMigrationCancelled, err)
	}
	if err := startEventLoop(); err != nil {
		return MigrationResult{}, err
	}
	log := slog.Default().With("domain", spec.UUID, "source", src, "destination", dst)
	m := &migration{spec: spec, log: log}
	defer m.close()
	if err := m.open(ctx); err != nil {
		if ctx.Err() != nil {
			return MigrationResult{}, fmt.Errorf("hypervisor: %s: %w: %w (%v)", what, ErrMigrationCancelled, ctx.Err(), err)
		}
		return MigrationResult{}, fmt.Errorf("hypervisor: %s: %w", what, err)
	}
	what = fmt.Sprintf("migrate %s (%s) from %s to %s", m.name, spec.UUID, src, dst)
	log = log.With("name", m.name)

	res := MigrationResult{Started: time.Now()}
	done := make(chan error, 1)
	go func() {
		done <- m.migDom.MigrateToURI3(spec.DestURI, migrationParams(spec), migrationFlags(spec))
	}()
	v := &supervisor{spec: spec, ctl: ctl, job: libvirtJob{dom: m.ctlDom}, started: res.Started, now: time.Now, log: log}
	s := v.run(ctx, done, m.destLost)
	res.Ended = time.Now()
	res.PostCopy = s.postCopy
	res.DataBytes = s.last.DataProcessed

	if s.migErr != nil {
		if s.cause == causeController || s.cause == causeCancel {
			res.Aborted, res.AbortReason = true, s.reason
		}
		srcAlive, _ := m.ctlConn.IsAlive()
		destAlive, _ := m.dstConn.IsAlive()
		err := migrationError(s, ctx.Err(), srcAlive, destAlive, what)
		if trouble := m.sourceTrouble(); trouble != "" {
			err = fmt.Errorf("%w; %s", err, trouble)
		}
		log.Info("migration failed", "took", res.Ended.Sub(res.Started), "err", err)
		return res, err
	}
	if downtime, data, ok := m.completedStats(); ok {
		res.Downtime = downtime
		if data > 0 {
			res.DataBytes = data
		}
	}
	log.Info("migration done", "took", res.Ended.Sub(res.Started), "downtime", res.Downtime, "bytes", res.DataBytes, "post_copy", res.PostCopy)
	return res, nil
}

// migration holds one migration's connections and handles.
type migration struct {
	spec MigrationSpec
	log  *slog.Logger
	name string

	ctlConn, migConn, dstConn *libvirt.Connect
	ctlDom, migDom            *libvirt.Domain
	completedID               int
	completedSet              bool
	completed                 chan libvirt.DomainJobInfo
	dstCloseSet               bool
	destLost                  chan struct{}
}

// open opens the connections, finds the domain on the source and subscribes to its
// job-completed event and to the loss of the destination.
func (m *migration) open(ctx context.Context) error {
	var err error
	if m.ctlConn, err = openMigrationConn(ctx, m.spec.SourceURI); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if m.ctlDom, err = m.ctlConn.LookupDomainByUUIDString(m.spec.UUID); err != nil {
		return wrap("on the source", err)
	}
	m.name, _ = m.ctlDom.GetName()
	if active, err := m.ctlDom.IsActive(); err != nil {
		return wrap("on the source", err)
	} else if !active {
		return errors.New("the domain is not running on the source")
	}
	if m.dstConn, err = openMigrationConn(ctx, m.spec.DestURI); err != nil {
		return fmt.Errorf("destination: %w", err)
	}
	if m.migConn, err = openMigrationConn(ctx, m.spec.SourceURI); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	if m.migDom, err = m.migConn.LookupDomainByUUIDString(m.spec.UUID); err != nil {
		return wrap("on the source", err)
	}
	m.completed = make(chan libvirt.DomainJobInfo, 1)
	id, err := m.ctlConn.DomainEventJobCompletedRegister(m.ctlDom, func(_ *libvirt.Connect, _ *libvirt.Domain, ev *libvirt.DomainEventJobCompleted) {
		select {
		case m.completed <- ev.Info:
		default:
		}
	})
	if err != nil {
		return wrap("register job-completed event", err)
	}
	m.completedID, m.completedSet = id, true
	m.destLost = make(chan struct{})
	lost := m.destLost
	if err := m.dstConn.RegisterCloseCallback(func(*libvirt.Connect, libvirt.ConnectCloseReason) {
		select {
		case <-lost:
		default:
			close(lost)
		}
	}); err != nil {
		return wrap("destination close callback", err)
	}
	m.dstCloseSet = true
	// The destination may have gone while we were connecting.
	if alive, err := m.dstConn.IsAlive(); err != nil || !alive {
		return fmt.Errorf("destination: %w (connection closed)", ErrNotConnected)
	}
	return nil
}

// sourceTrouble describes what is wrong with the domain on the source after a failure: "" when
// it runs there (or nothing can be known).
func (m *migration) sourceTrouble() string {
	if alive, err := m.ctlConn.IsAlive(); err != nil || !alive {
		return ""
	}
	st, _, err := m.ctlDom.GetState()
	if err != nil {
		var le libvirt.Error
		if errors.As(err, &le) && le.Code == libvirt.ERR_NO_DOMAIN {
			return "the guest is no longer defined on the source"
		}
		return ""
	}
	if s := stateNames[st]; s != StateRunning {
		return fmt.Sprintf("the guest is now %s on the source", s)
	}
	return ""
}

// completedStats reads the completed job's figures: from the job-completed event on the source
// (waiting a moment for it), else from the destination's completed job statistics.
func (m *migration) completedStats() (time.Duration, uint64, bool) {
	select {
	case ji := <-m.completed:
		if d, b, ok := completedFigures(&ji); ok {
			m.log.Debug("completed job stats from the job-completed event")
			return d, b, true
		}
	case <-time.After(completedStatsWait):
	}
	dom, err := m.dstConn.LookupDomainByUUIDString(m.spec.UUID)
	if err != nil {
		m.log.Debug("completed job stats: lookup on the destination", "err", err)
		return 0, 0, false
	}
	defer dom.Free()
	ji, err := dom.GetJobStats(libvirt.DOMAIN_JOB_STATS_COMPLETED)
	if err != nil {
		m.log.Debug("completed job stats on the destination", "err", err)
		return 0, 0, false
	}
	m.log.Debug("completed job stats from the destination")
	return completedFigures(ji)
}

// close releases everything open opened. The migration call has returned by then.
func (m *migration) close() {
	if m.completedSet {
		_ = m.ctlConn.DomainEventDeregister(m.completedID)
	}
	if m.dstCloseSet {
		_ = m.dstConn.UnregisterCloseCallback()
	}
	for _, d := range []*libvirt.Domain{m.ctlDom, m.migDom} {
		if d != nil {
			_ = d.Free()
		}
	}
	for _, c := range []*libvirt.Connect{m.migConn, m.ctlConn, m.dstConn} {
		if c != nil {
			_, _ = c.Close()
		}
	}
}

// openMigrationConn opens a connection with keepalive, bounded by migrationConnectTimeout and
// ctx. Every failure wraps ErrNotConnected.
func openMigrationConn(ctx context.Context, uri string) (*libvirt.Connect, error) {
	ctx, cancel := context.WithTimeout(ctx, migrationConnectTimeout)
	defer cancel()
	type result struct {
		conn *libvirt.Connect
		err  error
	}
	res := make(chan result, 1)
	go func() {
		c, err := libvirt.NewConnect(uri)
		res <- result{c, err}
	}()
	var r result
	select {
	case r = <-res:
	case <-ctx.Done():
		go func() { // close it if it ever succeeds
			if late := <-res; late.conn != nil {
				late.conn.Close()
			}
		}()
		return nil, fmt.Errorf("connect %s: %w (%w)", uri, ErrNotConnected, ctx.Err())
	}
	if r.err != nil {
		err := wrap("connect "+uri, r.err)
		if !errors.Is(err, ErrNotConnected) {
			err = fmt.Errorf("%w: %w", ErrNotConnected, err)
		}
		return nil, err
	}
	if err := r.conn.SetKeepAlive(migrationKeepAliveInterval, migrationKeepAliveCount); err != nil {
		r.conn.Close()
		return nil, fmt.Errorf("%w: %w", ErrNotConnected, wrap("keepalive "+uri, err))
	}
	return r.conn, nil
}

// libvirtJob is the migration job on the source, through the control connection.
type libvirtJob struct {
	dom *libvirt.Domain
}

func (j libvirtJob) sample() (jobPhase, MigrationProgress, error) {
	ji, err := j.dom.GetJobStats(0)
	if err != nil {
		return phaseNone, MigrationProgress{}, wrap("job stats", err)
	}
	phase, p := progressFromJob(ji)
	return phase, p, nil
}

func (j libvirtJob) maxDowntime() (time.Duration, error) {
	ms, err := j.dom.MigrateGetMaxDowntime(0)
	if err != nil {
		return 0, wrap("get max downtime", err)
	}
	return time.Duration(ms) * time.Millisecond, nil
}

func (j libvirtJob) setMaxDowntime(d time.Duration) error {
	ms := max(uint64(d/time.Millisecond), 1)
	return wrap("set max downtime", j.dom.MigrateSetMaxDowntime(ms, 0))
}

func (j libvirtJob) startPostCopy() error {
	return wrap("start post-copy", j.dom.MigrateStartPostCopy(0))
}

func (j libvirtJob) abort() error {
	return wrap("abort job", j.dom.AbortJob())
}
