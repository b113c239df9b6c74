package hypervisor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"libvirt.org/go/libvirt"
)

func TestMigrationSpecDefaults(t *testing.T) {
	ok := MigrationSpec{SourceURI: "qemu+tcp://10.0.0.1/system", DestURI: "qemu+tcp://10.0.0.2/system", UUID: "u"}
	s, err := ok.withDefaults()
	if err != nil || s.PollInterval != defaultPollInterval {
		t.Fatalf("defaults: %+v %v", s, err)
	}
	for name, bad := range map[string]MigrationSpec{
		"no source":     {DestURI: ok.DestURI, UUID: "u"},
		"no dest":       {SourceURI: ok.SourceURI, UUID: "u"},
		"no uuid":       {SourceURI: ok.SourceURI, DestURI: ok.DestURI},
		"same host":     {SourceURI: ok.SourceURI, DestURI: ok.SourceURI, UUID: "u"},
		"neg. downtime": {SourceURI: ok.SourceURI, DestURI: ok.DestURI, UUID: "u", MaxDowntime: -time.Second},
	} {
		if _, err := bad.withDefaults(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMigrationFlagsAndParams(t *testing.T) {
	base := libvirt.MIGRATE_LIVE | libvirt.MIGRATE_PEER2PEER | libvirt.MIGRATE_PERSIST_DEST | libvirt.MIGRATE_UNDEFINE_SOURCE
	if f := migrationFlags(MigrationSpec{}); f != base {
		t.Errorf("plain flags %#x, want %#x", f, base)
	}
	all := base | libvirt.MIGRATE_AUTO_CONVERGE | libvirt.MIGRATE_POSTCOPY | libvirt.MIGRATE_NON_SHARED_DISK | libvirt.MIGRATE_TLS
	if f := migrationFlags(MigrationSpec{AutoConverge: true, PostCopy: true, CopyStorage: true, TLS: true}); f != all {
		t.Errorf("all flags %#x, want %#x", f, all)
	}
	if p := migrationParams(MigrationSpec{}); p.BandwidthSet {
		t.Errorf("unlimited bandwidth sets the parameter: %+v", p)
	}
	if p := migrationParams(MigrationSpec{BandwidthMiBs: 8}); !p.BandwidthSet || p.Bandwidth != 8 {
		t.Errorf("bandwidth 8 MiB/s: %+v", p)
	}
}

func TestHostOf(t *testing.T) {
	for uri, want := range map[string]string{
		"qemu+tcp://10.1.2.3/system":     "10.1.2.3",
		"qemu+ssh://root@h2:2222/system": "h2",
		"qemu:///system":                 "qemu:///system",
		"qemu+tcp://[fd00::1]:16509/sys": "fd00::1",
	} {
		if got := hostOf(uri); got != want {
			t.Errorf("hostOf(%q) = %q, want %q", uri, got, want)
		}
	}
}

func TestProgressFromJob(t *testing.T) {
	if ph, _ := progressFromJob(&libvirt.DomainJobInfo{Type: libvirt.DOMAIN_JOB_NONE}); ph != phaseNone {
		t.Errorf("no job: phase %d", ph)
	}
	if ph, _ := progressFromJob(&libvirt.DomainJobInfo{Type: libvirt.DOMAIN_JOB_UNBOUNDED,
		OperationSet: true, Operation: libvirt.DOMAIN_JOB_OPERATION_SAVE, DataTotalSet: true, DataTotal: 1}); ph != phaseNone {
		t.Errorf("another job: phase %d", ph)
	}
	if ph, _ := progressFromJob(&libvirt.DomainJobInfo{Type: libvirt.DOMAIN_JOB_UNBOUNDED,
		OperationSet: true, Operation: libvirt.DOMAIN_JOB_OPERATION_MIGRATION_OUT}); ph != phaseSetup {
		t.Errorf("setup: phase %d", ph)
	}
	ph, p := progressFromJob(&libvirt.DomainJobInfo{Type: libvirt.DOMAIN_JOB_UNBOUNDED,
		DataTotalSet: true, DataTotal: 1000, DataProcessedSet: true, DataProcessed: 600, DataRemainingSet: true, DataRemaining: 400,
		MemDirtyRateSet: true, MemDirtyRate: 10, MemPageSizeSet: true, MemPageSize: 4096,
		MemBpsSet: true, MemBps: 5 << 20, MemIterationSet: true, MemIteration: 3})
	want := MigrationProgress{DataTotal: 1000, DataProcessed: 600, DataRemaining: 400, DirtyRate: 40960, TransferRate: 5 << 20, Iteration: 3}
	if ph != phaseTransfer || p != want {
		t.Errorf("transfer: phase %d %+v, want %+v", ph, p, want)
	}
}

func TestCompletedFigures(t *testing.T) {
	if _, _, ok := completedFigures(nil); ok {
		t.Error("nil stats gave figures")
	}
	d, b, ok := completedFigures(&libvirt.DomainJobInfo{DowntimeSet: true, Downtime: 42, DataProcessedSet: true, DataProcessed: 1 << 20})
	if !ok || d != 42*time.Millisecond || b != 1<<20 {
		t.Errorf("figures: %s %d %v", d, b, ok)
	}
	_, b, ok = completedFigures(&libvirt.DomainJobInfo{MemProcessedSet: true, MemProcessed: 5, DiskProcessed: 7})
	if !ok || b != 12 {
		t.Errorf("memory+disk: %d %v", b, ok)
	}
}

// fakeJob is a scripted migration job. Calls come from the supervising goroutine only.
type fakeJob struct {
	phases        []jobPhase // per sample; the last repeats
	remaining     []uint64   // DataRemaining per transfer sample; the last repeats
	samples       int
	transfers     int
	abortFailures int // the first aborts fail (no job yet)
	aborts        int
	downtime      time.Duration
	setDowntimes  []time.Duration
	postCopies    int
	onAbort       func() // called after a successful abort
}

func (f *fakeJob) sample() (jobPhase, MigrationProgress, error) {
	ph := f.phases[min(f.samples, len(f.phases)-1)]
	f.samples++
	if ph != phaseTransfer {
		return ph, MigrationProgress{}, nil
	}
	rem := f.remaining[min(f.transfers, len(f.remaining)-1)]
	f.transfers++
	return ph, MigrationProgress{DataTotal: 100, DataRemaining: rem, DataProcessed: 100 - rem}, nil
}

func (f *fakeJob) maxDowntime() (time.Duration, error) { return f.downtime, nil }

func (f *fakeJob) setMaxDowntime(d time.Duration) error {
	f.downtime = d
	f.setDowntimes = append(f.setDowntimes, d)
	return nil
}

func (f *fakeJob) startPostCopy() error { f.postCopies++; return nil }

func (f *fakeJob) abort() error {
	f.aborts++
	if f.aborts <= f.abortFailures {
		return errors.New("no job is active on the domain")
	}
	if f.onAbort != nil {
		f.onAbort()
	}
	return nil
}

func newSupervisor(spec MigrationSpec, ctl MigrationController, job migrationJob) *supervisor {
	spec, _ = MigrationSpec{SourceURI: "qemu+tcp://h1/system", DestURI: "qemu+tcp://h2/system", UUID: "u",
		PollInterval: time.Millisecond, MaxDowntime: spec.MaxDowntime, PostCopy: spec.PostCopy}.withDefaults()
	return &supervisor{spec: spec, ctl: ctl, job: job, started: time.Now(), now: time.Now,
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

var errAborted = libvirt.Error{Code: libvirt.ERR_OPERATION_ABORTED, Message: "operation aborted: migration out job: canceled by client"}

func TestSupervisorAppliesActions(t *testing.T) {
	job := &fakeJob{phases: []jobPhase{phaseNone, phaseSetup, phaseTransfer}, remaining: []uint64{90, 80, 70, 60, 50, 40}, downtime: 300 * time.Millisecond}
	done := make(chan error, 1)
	var seen []MigrationProgress
	ctl := func(p MigrationProgress) MigrationAction {
		seen = append(seen, p)
		switch len(seen) {
		case 2:
			return MigrationAction{SetMaxDowntime: time.Second}
		case 3:
			return MigrationAction{SetMaxDowntime: time.Second, StartPostCopy: true} // same downtime: not set again
		case 5:
			done <- nil
		}
		return MigrationAction{}
	}
	v := newSupervisor(MigrationSpec{MaxDowntime: 200 * time.Millisecond, PostCopy: true}, ctl, job)
	s := v.run(context.Background(), done, nil)
	if s.migErr != nil || s.cause != causeNone || !s.postCopy || s.samples < 5 {
		t.Fatalf("supervision: %+v", s)
	}
	if len(job.setDowntimes) != 2 || job.setDowntimes[0] != 200*time.Millisecond || job.setDowntimes[1] != time.Second {
		t.Errorf("downtimes set: %v, want [200ms 1s]", job.setDowntimes)
	}
	if job.postCopies != 1 {
		t.Errorf("post-copy started %d times", job.postCopies)
	}
	if seen[0].MaxDowntime != 200*time.Millisecond || seen[2].MaxDowntime != time.Second || !seen[3].PostCopy || seen[2].PostCopy {
		t.Errorf("samples do not track downtime and post-copy: %+v", seen)
	}
	if seen[0].DataRemaining != 90 || seen[4].DataRemaining != 50 || seen[4].Elapsed <= 0 || seen[4].At.IsZero() {
		t.Errorf("samples: %+v", seen)
	}
	if err := migrationError(s, nil, true, true, "migrate g1"); err != nil {
		t.Errorf("success gave error %v", err)
	}
}

func TestSupervisorPostCopyNotAllowed(t *testing.T) {
	job := &fakeJob{phases: []jobPhase{phaseTransfer}, remaining: []uint64{50}}
	done := make(chan error, 1)
	n := 0
	ctl := func(MigrationProgress) MigrationAction {
		if n++; n == 3 {
			done <- nil
		}
		return MigrationAction{StartPostCopy: true}
	}
	s := newSupervisor(MigrationSpec{}, ctl, job).run(context.Background(), done, nil)
	if job.postCopies != 0 || s.postCopy {
		t.Errorf("post-copy started without MigrationSpec.PostCopy: %d %+v", job.postCopies, s)
	}
	if len(job.setDowntimes) != 0 {
		t.Errorf("downtime set without being asked: %v", job.setDowntimes)
	}
}

func TestSupervisorControllerAbort(t *testing.T) {
	done := make(chan error, 1)
	job := &fakeJob{phases: []jobPhase{phaseTransfer}, remaining: []uint64{50}, onAbort: func() { done <- errAborted }}
	calls := 0
	ctl := func(MigrationProgress) MigrationAction {
		calls++
		return MigrationAction{Abort: true, AbortReason: "not converging"}
	}
	s := newSupervisor(MigrationSpec{}, ctl, job).run(context.Background(), done, nil)
	if calls != 1 || job.aborts != 1 || s.cause != causeController || s.reason != "not converging" {
		t.Fatalf("calls %d aborts %d supervision %+v", calls, job.aborts, s)
	}
	err := migrationError(s, nil, true, true, "migrate g1 (u) from h1 to h2")
	if !errors.Is(err, ErrMigrationAborted) || !strings.Contains(err.Error(), "not converging") || !strings.Contains(err.Error(), "from h1 to h2") {
		t.Errorf("error: %v", err)
	}
}

func TestSupervisorCancelRetriesAbort(t *testing.T) {
	done := make(chan error, 1)
	job := &fakeJob{phases: []jobPhase{phaseNone, phaseNone, phaseSetup}, abortFailures: 2, onAbort: func() { done <- errAborted }}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s := newSupervisor(MigrationSpec{}, nil, job).run(ctx, done, nil)
	if job.aborts != 3 || s.cause != causeCancel {
		t.Fatalf("aborts %d, supervision %+v", job.aborts, s)
	}
	err := migrationError(s, ctx.Err(), true, true, "migrate g1")
	if !errors.Is(err, ErrMigrationCancelled) || !errors.Is(err, context.Canceled) {
		t.Errorf("error: %v", err)
	}
}

func TestSupervisorDestLost(t *testing.T) {
	done := make(chan error, 1)
	job := &fakeJob{phases: []jobPhase{phaseTransfer}, remaining: []uint64{50}, onAbort: func() { done <- errAborted }}
	lost := make(chan struct{})
	close(lost)
	s := newSupervisor(MigrationSpec{}, nil, job).run(context.Background(), done, lost)
	if s.cause != causeDestLost || job.aborts != 1 {
		t.Fatalf("supervision %+v, aborts %d", s, job.aborts)
	}
	if err := migrationError(s, nil, true, false, "migrate g1"); !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), "destination") {
		t.Errorf("error: %v", err)
	}
}

func TestSupervisorNoAbortInPostCopy(t *testing.T) {
	done := make(chan error, 1)
	job := &fakeJob{phases: []jobPhase{phaseTransfer}, remaining: []uint64{50}}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	ctl := func(MigrationProgress) MigrationAction {
		switch n++; n {
		case 1:
			return MigrationAction{StartPostCopy: true}
		case 2:
			cancel()
			return MigrationAction{Abort: true}
		case 5:
			done <- nil
		}
		return MigrationAction{}
	}
	s := newSupervisor(MigrationSpec{PostCopy: true}, ctl, job).run(ctx, done, nil)
	if job.aborts != 0 || s.cause != causeNone || !s.postCopy || s.migErr != nil {
		t.Fatalf("aborted in post-copy: aborts %d, %+v", job.aborts, s)
	}
}

func TestSupervisorAbortTooLate(t *testing.T) {
	done := make(chan error, 1)
	job := &fakeJob{phases: []jobPhase{phaseTransfer}, remaining: []uint64{50}, onAbort: func() { done <- nil }}
	ctl := func(MigrationProgress) MigrationAction { return MigrationAction{Abort: true} }
	s := newSupervisor(MigrationSpec{}, ctl, job).run(context.Background(), done, nil)
	if err := migrationError(s, nil, true, true, "migrate g1"); err != nil {
		t.Errorf("a migration that completed despite the abort reported %v", err)
	}
}

func TestMigrationErrorOther(t *testing.T) {
	s := supervision{migErr: libvirt.Error{Code: libvirt.ERR_OPERATION_FAILED, Message: "operation failed: migration out job: unexpectedly failed"}}
	err := migrationError(s, nil, true, true, "migrate g1 (u) from h1 to h2")
	if err == nil || errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), "unexpectedly failed") || !strings.Contains(err.Error(), "g1") {
		t.Errorf("generic failure: %v", err)
	}
	if err := migrationError(s, nil, true, false, "migrate g1"); !errors.Is(err, ErrNotConnected) {
		t.Errorf("failure with the destination gone: %v, want ErrNotConnected", err)
	}
	s.migErr = libvirt.Error{Code: libvirt.ERR_RPC, Message: "internal error: client socket is closed"}
	if err := migrationError(s, nil, false, true, "migrate g1"); !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), "source") {
		t.Errorf("source lost: %v, want ErrNotConnected naming the source", err)
	}
	s.cause = causeCancel
	if err := migrationError(s, nil, false, true, "migrate g1"); errors.Is(err, ErrMigrationCancelled) || !errors.Is(err, ErrNotConnected) {
		t.Errorf("source lost while cancelling: %v, want ErrNotConnected only (the outcome is unknown)", err)
	}
	s.cause = causeNone
	// The source answers but its peer-to-peer connection closed: the destination was lost,
	// even before the destination's own connection noticed.
	s.migErr = libvirt.Error{Code: libvirt.ERR_INTERNAL_ERROR, Message: "internal error: client socket is closed"}
	if err := migrationError(s, nil, true, true, "migrate g1"); !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), "destination") {
		t.Errorf("peer connection closed: %v, want ErrNotConnected naming the destination", err)
	}
	s.migErr = libvirt.Error{Code: libvirt.ERR_NO_DOMAIN, Message: "Domain not found"}
	if err := migrationError(s, nil, true, true, "migrate g1"); !errors.Is(err, ErrNoDomain) {
		t.Errorf("no domain: %v", err)
	}
}

func TestMigrateBadInputs(t *testing.T) {
	if _, err := Migrate(context.Background(), MigrationSpec{}, nil); err == nil {
		t.Error("empty spec accepted")
	}
	spec := MigrationSpec{SourceURI: "qemu+tcp://127.0.0.1:1/system", DestURI: "qemu+tcp://127.0.0.2:1/system", UUID: "00000000-0000-4000-8000-000000000000"}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Migrate(ctx, spec, nil); !errors.Is(err, ErrMigrationCancelled) {
		t.Errorf("cancelled context: %v, want ErrMigrationCancelled", err)
	}
	if testing.Short() {
		return
	}
	// Port 1 refuses: the source is unreachable.
	_, err := Migrate(context.Background(), spec, nil)
	if !errors.Is(err, ErrNotConnected) || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Errorf("unreachable source: %v, want ErrNotConnected naming it", err)
	}
}
