package hypervisor_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/guest"
)

// migrationLab starts a two-host lab with one Linux guest and returns it with the guest, its
// home (source) and the other host (destination). Migrate's logs go to the test log, through the
// process-wide slog default: so the migration tests do not call testenv.Parallel (they run one by
// one, before the package's parallel lab tests; their labs still share the machine's lab slots).
func migrationLab(t *testing.T) (*testenv.Lab, testenv.Guest, testenv.Host, testenv.Host) {
	t.Helper()
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, VMs: 1})
	g := l.Guests()[0]
	src, err := l.Host(g.Home)
	if err != nil {
		t.Fatal(err)
	}
	var dst testenv.Host
	for _, h := range l.Hosts() {
		if h.Name != src.Name {
			dst = h
		}
	}
	// slog.SetDefault also redirects the log package, and setting the old default back does not
	// undo that: restore both.
	prev, prevOut, prevFlags := slog.Default(), log.Writer(), log.Flags()
	slog.SetDefault(slog.New(slog.NewTextHandler(migLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	t.Cleanup(func() {
		slog.SetDefault(prev)
		log.SetOutput(prevOut)
		log.SetFlags(prevFlags)
	})
	return l, g, src, dst
}

// migLogWriter writes to the test log.
type migLogWriter struct{ t *testing.T }

func (w migLogWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// migRecorder is a controller that records the samples it sees, optionally delegating decisions.
type migRecorder struct {
	mu      sync.Mutex
	samples []hypervisor.MigrationProgress
	decide  func(p hypervisor.MigrationProgress, n int) hypervisor.MigrationAction
}

func (r *migRecorder) control(p hypervisor.MigrationProgress) hypervisor.MigrationAction {
	r.mu.Lock()
	r.samples = append(r.samples, p)
	n := len(r.samples)
	r.mu.Unlock()
	if r.decide == nil {
		return hypervisor.MigrationAction{}
	}
	return r.decide(p, n)
}

func (r *migRecorder) all() []hypervisor.MigrationProgress {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hypervisor.MigrationProgress(nil), r.samples...)
}

func mibs(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }

// assertRunsOnlyOn checks, from the hosts' processes, that the guest runs on one host only.
func assertRunsOnlyOn(t *testing.T, l *testenv.Lab, g testenv.Guest, host string) {
	t.Helper()
	got, err := l.RunningOn(g.Name)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != host {
		t.Fatalf("%s runs on %v, want only on %s", g.Name, got, host)
	}
}

// assertGuestAnswers checks that the guest's agent answers and the guest was not restarted.
func assertGuestAnswers(t *testing.T, g testenv.Guest, minUptime float64) guest.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	st, err := guest.GetStatus(ctx, guest.Addr(g.IP))
	if err != nil {
		t.Fatalf("guest %s does not answer: %v", g.Name, err)
	}
	if st.UptimeSeconds < minUptime {
		t.Fatalf("guest %s uptime %.1f s < %.1f s: it was restarted", g.Name, st.UptimeSeconds, minUptime)
	}
	return st
}

func guestUptime(t *testing.T, g testenv.Guest) float64 {
	t.Helper()
	return assertGuestAnswers(t, g, 0).UptimeSeconds
}

// TestLabMigrateLive live-migrates a guest while pinging it every 10 ms.
func TestLabMigrateLive(t *testing.T) {
	l, g, src, dst := migrationLab(t)
	ctx := context.Background()
	up := guestUptime(t, g)
	p, err := testenv.StartPinger(ctx, g.IP, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	migWaitUntil(t, "first ping replies", 10*time.Second, func() bool { return p.Replies() > 20 })

	rec := &migRecorder{}
	spec := hypervisor.MigrationSpec{SourceURI: src.LibvirtURI, DestURI: dst.LibvirtURI, UUID: g.UUID, PollInterval: 100 * time.Millisecond}
	res, err := hypervisor.Migrate(ctx, spec, rec.control)
	if err != nil {
		t.Fatalf("migrate: %v", err)
	}
	took := res.Ended.Sub(res.Started)
	before := p.Replies()
	migWaitUntil(t, "ping replies after the migration", 10*time.Second, func() bool { return p.Replies() > before+50 })
	samples := rec.all()
	t.Logf("migration %s -> %s took %s: downtime %s, %s sent, %d samples; longest ping gap %s (10 ms interval)",
		src.Name, dst.Name, took.Round(time.Millisecond), res.Downtime, mibs(res.DataBytes), len(samples), p.MaxGap().Round(time.Millisecond))
	for _, s := range samples {
		t.Logf("  %6s it %d: %s of %s sent, %s left, dirty %s/s, rate %s/s, max downtime %s",
			s.Elapsed.Round(time.Millisecond), s.Iteration, mibs(s.DataProcessed), mibs(s.DataTotal), mibs(s.DataRemaining), mibs(s.DirtyRate), mibs(s.TransferRate), s.MaxDowntime)
	}
	assertRunsOnlyOn(t, l, g, dst.Name)
	assertGuestAnswers(t, g, up)
	if holder, err := l.LeaseHolder(g.Name); err != nil || holder != dst.Name {
		t.Errorf("lease of %s held by %q (%v), want %s", g.Name, holder, err, dst.Name)
	}
	if len(samples) == 0 && took > spec.PollInterval {
		t.Errorf("no progress sample in a %s migration (poll every %s)", took, spec.PollInterval)
	}
	for _, s := range samples {
		if s.DataTotal == 0 || s.DataProcessed+s.DataRemaining == 0 || s.MaxDowntime != 300*time.Millisecond {
			t.Errorf("implausible sample %+v", s)
		}
	}
	if res.Downtime <= 0 || res.DataBytes == 0 || res.Aborted || res.PostCopy {
		t.Errorf("result %+v: want libvirt's downtime and bytes", res)
	}
	if gap := p.MaxGap(); gap > 5*time.Second {
		t.Errorf("the guest stopped answering ping for %s during a live migration", gap)
	}
}

// TestLabMigrateNonConvergingAborts migrates a guest that rewrites a 48 MiB buffer as fast as it
// can (about 38 MiB/s under TCG), faster than the 16 MiB/s the migration may use: each pass
// starts with the whole buffer to send again. The controller raises the maximum downtime step
// by step while that does not shrink, then aborts. The guest keeps running on the source.
// (At 2 MiB/s the first pass alone, over the guest's ~100 MiB of non-zero memory, takes 50 s.)
func TestLabMigrateNonConvergingAborts(t *testing.T) {
	l, g, src, dst := migrationLab(t)
	ctx := context.Background()
	up := guestUptime(t, g)
	addr := guest.Addr(g.IP)
	if err := guest.Dirty(ctx, addr, 0, 48); err != nil {
		t.Fatal(err)
	}
	var st guest.Status
	migWaitUntil(t, "the guest dirtying memory", 15*time.Second, func() bool {
		st, _ = guest.GetStatus(ctx, addr)
		return st.Dirtying && st.MeasuredRateMiBs > 0
	})
	t.Logf("guest dirties %.0f MiB/s over %d MiB", st.MeasuredRateMiBs, st.DirtySizeMiB)

	// The ladder: 300 ms (initial) -> 600 ms -> 1 s -> abort, one step each time a pass over
	// memory starts with no less data remaining (within 10%) than the pass before it. Passes,
	// not samples: within a pass the remaining data always shrinks.
	ladder := []time.Duration{600 * time.Millisecond, time.Second}
	type step struct {
		at        time.Duration
		iteration uint64
		remaining uint64
		to        time.Duration // 0: abort
	}
	var (
		steps     []step
		abortedAt time.Time
		iteration uint64
		passStart uint64 // remaining data at the start of the latest pass
		libvirtDT []string
	)
	rec := &migRecorder{decide: func(p hypervisor.MigrationProgress, n int) hypervisor.MigrationAction {
		if p.Iteration == iteration {
			return hypervisor.MigrationAction{}
		}
		iteration = p.Iteration
		prev := passStart
		passStart = p.DataRemaining
		// Ask libvirt itself (another client) what the job's maximum downtime is now.
		out, err := testenv.Exec(ctx, "virsh", "-c", src.LibvirtURI, "migrate-getmaxdowntime", g.Name)
		if got := strings.TrimSpace(out); err != nil || got != fmt.Sprint(p.MaxDowntime.Milliseconds()) {
			t.Errorf("pass %d: libvirt says max downtime %q (%v), the sample says %s", p.Iteration, got, err, p.MaxDowntime)
		} else {
			libvirtDT = append(libvirtDT, got+"ms")
		}
		if prev == 0 || passStart < prev*9/10 {
			return hypervisor.MigrationAction{}
		}
		for _, d := range ladder {
			if d > p.MaxDowntime {
				steps = append(steps, step{p.Elapsed, p.Iteration, p.DataRemaining, d})
				return hypervisor.MigrationAction{SetMaxDowntime: d}
			}
		}
		steps = append(steps, step{p.Elapsed, p.Iteration, p.DataRemaining, 0})
		abortedAt = time.Now()
		return hypervisor.MigrationAction{Abort: true, AbortReason: fmt.Sprintf("not converging at %s max downtime", p.MaxDowntime)}
	}}
	spec := hypervisor.MigrationSpec{SourceURI: src.LibvirtURI, DestURI: dst.LibvirtURI, UUID: g.UUID,
		BandwidthMiBs: 16, MaxDowntime: 300 * time.Millisecond, PollInterval: 250 * time.Millisecond}
	mctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	res, err := hypervisor.Migrate(mctx, spec, rec.control)
	if !abortedAt.IsZero() {
		t.Logf("Migrate returned %s after the abort", res.Ended.Sub(abortedAt).Round(time.Millisecond))
	}
	samples := rec.all()
	for _, s := range samples {
		t.Logf("  %6s it %d: %s of %s sent, %s left, dirty %s/s, rate %s/s, max downtime %s",
			s.Elapsed.Round(time.Millisecond), s.Iteration, mibs(s.DataProcessed), mibs(s.DataTotal), mibs(s.DataRemaining), mibs(s.DirtyRate), mibs(s.TransferRate), s.MaxDowntime)
	}
	for _, s := range steps {
		if s.to == 0 {
			t.Logf("at %s, pass %d starts with %s left: abort", s.at.Round(time.Millisecond), s.iteration, mibs(s.remaining))
		} else {
			t.Logf("at %s, pass %d starts with %s left: max downtime -> %s", s.at.Round(time.Millisecond), s.iteration, mibs(s.remaining), s.to)
		}
	}
	t.Logf("result %+v, took %s; libvirt's max downtime at each pass %v; err: %v", res, res.Ended.Sub(res.Started).Round(time.Millisecond), libvirtDT, err)
	if !errors.Is(err, hypervisor.ErrMigrationAborted) || !res.Aborted || !strings.Contains(res.AbortReason, "not converging") {
		t.Fatalf("want ErrMigrationAborted with the reason, got %v (%+v)", err, res)
	}
	if len(steps) != len(ladder)+1 || steps[0].to != 600*time.Millisecond || steps[1].to != time.Second || steps[2].to != 0 {
		t.Errorf("escalation %+v, want 600ms, 1s, abort", steps)
	}
	var got []time.Duration
	for _, s := range samples {
		if len(got) == 0 || got[len(got)-1] != s.MaxDowntime {
			got = append(got, s.MaxDowntime)
		}
	}
	if fmt.Sprint(got) != "[300ms 600ms 1s]" {
		t.Errorf("max downtime over the samples %v, want [300ms 600ms 1s]", got)
	}
	assertRunsOnlyOn(t, l, g, src.Name)
	if st := assertGuestAnswers(t, g, up); !st.Dirtying {
		t.Errorf("after the abort the guest no longer dirties memory: %+v", st)
	}
	if holder, err := l.LeaseHolder(g.Name); err != nil || holder != src.Name {
		t.Errorf("lease of %s held by %q (%v), want %s", g.Name, holder, err, src.Name)
	}
}

// TestLabMigratePostCopy completes a migration that would not converge by switching to
// post-copy when the controller says so, at the start of the second pass.
//
// Under TCG, switching later (third pass or after) crashed the guest's kernel on the
// destination in every try (4 of 4 with Migrate, and with plain `virsh migrate --postcopy` +
// `virsh migrate-postcopy` too): a QEMU 7.2 TCG post-copy problem, not one of this package.
func TestLabMigratePostCopy(t *testing.T) {
	// Post-copy is opt-in, and under TCG (what the lab's Linux guests run on) QEMU 7.2 crashes
	// the guest kernel after a post-copy switch now and then; reproduced with plain virsh
	// migrate --postcopy. The test runs only when asked for.
	if os.Getenv("LIFEBOAT_TEST_POSTCOPY") == "" {
		t.Skip("post-copy test skipped: QEMU 7.2 under TCG crashes guest kernels after a post-copy switch at times; set LIFEBOAT_TEST_POSTCOPY=1 to run it")
	}
	l, g, src, dst := migrationLab(t)
	ctx := context.Background()
	up := guestUptime(t, g)
	if err := guest.Dirty(ctx, guest.Addr(g.IP), 0, 48); err != nil {
		t.Fatal(err)
	}
	var switchedAt time.Duration
	rec := &migRecorder{decide: func(p hypervisor.MigrationProgress, n int) hypervisor.MigrationAction {
		if p.Iteration >= 2 && !p.PostCopy {
			switchedAt = p.Elapsed
			return hypervisor.MigrationAction{StartPostCopy: true}
		}
		return hypervisor.MigrationAction{}
	}}
	spec := hypervisor.MigrationSpec{SourceURI: src.LibvirtURI, DestURI: dst.LibvirtURI, UUID: g.UUID,
		BandwidthMiBs: 16, PostCopy: true, PollInterval: 250 * time.Millisecond}
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := hypervisor.Migrate(mctx, spec, rec.control)
	t.Logf("switched to post-copy at %s; migration took %s: %v (result %+v)", switchedAt.Round(time.Millisecond), res.Ended.Sub(res.Started).Round(time.Millisecond), err, res)
	if err != nil {
		t.Fatalf("post-copy migration: %v", err)
	}
	if !res.PostCopy || switchedAt == 0 {
		t.Errorf("no switch to post-copy: %+v", res)
	}
	samples := rec.all()
	if last := samples[len(samples)-1]; !last.PostCopy {
		t.Errorf("the samples after the switch do not say post-copy: %+v", last)
	}
	assertRunsOnlyOn(t, l, g, dst.Name)
	if st := assertGuestAnswers(t, g, up); !st.Dirtying {
		t.Errorf("after the migration the guest no longer dirties memory: %+v", st)
	}
}

// TestLabMigrateTargetDies powers the destination off in the middle of a slow migration.
func TestLabMigrateTargetDies(t *testing.T) {
	l, g, src, dst := migrationLab(t)
	ctx := context.Background()
	up := guestUptime(t, g)
	// Dirtying keeps the migration going for a while even once the first pass is over.
	if err := guest.Dirty(ctx, guest.Addr(g.IP), 4, 16); err != nil {
		t.Fatal(err)
	}
	kill := make(chan struct{})
	var once sync.Once
	rec := &migRecorder{decide: func(p hypervisor.MigrationProgress, n int) hypervisor.MigrationAction {
		if n >= 3 && p.DataProcessed > 0 {
			once.Do(func() { close(kill) })
		}
		return hypervisor.MigrationAction{}
	}}
	powered := make(chan error, 1)
	go func() {
		select {
		case <-kill:
			powered <- l.PowerOff(ctx, dst.Name)
		case <-time.After(2 * time.Minute):
			powered <- errors.New("no progress sample to power off on")
		}
	}()
	spec := hypervisor.MigrationSpec{SourceURI: src.LibvirtURI, DestURI: dst.LibvirtURI, UUID: g.UUID,
		BandwidthMiBs: 2, PollInterval: 250 * time.Millisecond}
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := hypervisor.Migrate(mctx, spec, rec.control)
	if perr := <-powered; perr != nil {
		t.Fatalf("power off %s: %v", dst.Name, perr)
	}
	samples := rec.all()
	var killedAt time.Duration
	if len(samples) >= 3 {
		killedAt = samples[2].Elapsed
	}
	t.Logf("destination powered off at about %s; Migrate returned after %s with %v (result %+v)",
		killedAt.Round(time.Millisecond), res.Ended.Sub(res.Started).Round(time.Millisecond), err, res)
	if err == nil {
		t.Fatal("the migration succeeded to a powered-off host")
	}
	if errors.Is(err, hypervisor.ErrMigrationAborted) || errors.Is(err, hypervisor.ErrMigrationCancelled) {
		t.Errorf("error %v blames the controller or the caller", err)
	}
	if !errors.Is(err, hypervisor.ErrNotConnected) || !strings.Contains(err.Error(), g.Name) || !strings.Contains(err.Error(), dst.Address) {
		t.Errorf("error %v: want ErrNotConnected naming %s and %s", err, g.Name, dst.Address)
	}
	assertRunsOnlyOn(t, l, g, src.Name)
	assertGuestAnswers(t, g, up)
}

// TestLabMigrateTargetPartitioned cuts the destination off the network in the middle of a
// slow migration: unlike a power-off, nothing closes the connections, so only keepalive tells.
func TestLabMigrateTargetPartitioned(t *testing.T) {
	l, g, src, dst := migrationLab(t)
	ctx := context.Background()
	up := guestUptime(t, g)
	if err := guest.Dirty(ctx, guest.Addr(g.IP), 4, 16); err != nil {
		t.Fatal(err)
	}
	var cutAt time.Time
	rec := &migRecorder{decide: func(p hypervisor.MigrationProgress, n int) hypervisor.MigrationAction {
		if n == 3 {
			cutAt = time.Now()
			if err := l.Partition(ctx, dst.Name); err != nil {
				t.Errorf("partition %s: %v", dst.Name, err)
			}
		}
		return hypervisor.MigrationAction{}
	}}
	spec := hypervisor.MigrationSpec{SourceURI: src.LibvirtURI, DestURI: dst.LibvirtURI, UUID: g.UUID,
		BandwidthMiBs: 2, PollInterval: 250 * time.Millisecond}
	mctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	res, err := hypervisor.Migrate(mctx, spec, rec.control)
	if cutAt.IsZero() {
		t.Fatalf("the migration ended before the partition: %v", err)
	}
	t.Logf("Migrate returned %s after the partition: %v (result %+v)", res.Ended.Sub(cutAt).Round(time.Millisecond), err, res)
	if !errors.Is(err, hypervisor.ErrNotConnected) || !strings.Contains(err.Error(), dst.Address) {
		t.Errorf("error %v: want ErrNotConnected naming %s", err, dst.Address)
	}
	// The guest runs on the source; the destination may keep its (paused, incoming) QEMU
	// until its own libvirtd gives up on the source.
	procs, perr := l.Running()
	if perr != nil {
		t.Fatal(perr)
	}
	for _, p := range procs {
		if p.Guest == g.Name && p.Host != src.Name && !p.Incoming {
			t.Errorf("%s runs on %s too", g.Name, p.Host)
		}
		if p.Guest == g.Name && p.Host != src.Name {
			t.Logf("an incoming QEMU for %s is left on %s (pid %d)", g.Name, p.Host, p.PID)
		}
	}
	onSrc := false
	for _, p := range procs {
		onSrc = onSrc || (p.Guest == g.Name && p.Host == src.Name && !p.Incoming)
	}
	if !onSrc {
		t.Fatalf("%s no longer runs on %s: %+v", g.Name, src.Name, procs)
	}
	assertGuestAnswers(t, g, up)
}

// TestLabMigrateCancel cancels the context in the middle of a migration; it also checks the
// errors for an unknown domain and an unreachable destination.
func TestLabMigrateCancel(t *testing.T) {
	l, g, src, dst := migrationLab(t)
	ctx := context.Background()
	up := guestUptime(t, g)
	if err := guest.Dirty(ctx, guest.Addr(g.IP), 4, 16); err != nil {
		t.Fatal(err)
	}
	mctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var cancelledAt time.Time
	rec := &migRecorder{decide: func(p hypervisor.MigrationProgress, n int) hypervisor.MigrationAction {
		if n == 2 {
			cancelledAt = time.Now()
			cancel()
		}
		return hypervisor.MigrationAction{}
	}}
	spec := hypervisor.MigrationSpec{SourceURI: src.LibvirtURI, DestURI: dst.LibvirtURI, UUID: g.UUID,
		BandwidthMiBs: 2, PollInterval: 250 * time.Millisecond}
	res, err := hypervisor.Migrate(mctx, spec, rec.control)
	t.Logf("Migrate returned %s after the cancellation: %v (result %+v)", time.Since(cancelledAt).Round(time.Millisecond), err, res)
	if !errors.Is(err, hypervisor.ErrMigrationCancelled) || !errors.Is(err, context.Canceled) || !res.Aborted {
		t.Fatalf("want ErrMigrationCancelled, got %v (%+v)", err, res)
	}
	if n := len(rec.all()); n != 2 {
		t.Errorf("the controller saw %d samples, want none after the cancellation", n)
	}
	assertRunsOnlyOn(t, l, g, src.Name)
	assertGuestAnswers(t, g, up)

	// Unknown domain.
	bad := spec
	bad.UUID = "00000000-0000-4000-8000-000000000000"
	if _, err := hypervisor.Migrate(ctx, bad, nil); !errors.Is(err, hypervisor.ErrNoDomain) {
		t.Errorf("unknown domain: %v, want ErrNoDomain", err)
	} else {
		t.Logf("unknown domain: %v", err)
	}
	// Unreachable destination (nothing listens on port 1).
	bad = spec
	bad.DestURI = fmt.Sprintf("qemu+tcp://%s:1/system", dst.Address)
	if _, err := hypervisor.Migrate(ctx, bad, nil); !errors.Is(err, hypervisor.ErrNotConnected) || !strings.Contains(err.Error(), dst.Address) {
		t.Errorf("unreachable destination: %v, want ErrNotConnected naming %s", err, dst.Address)
	} else {
		t.Logf("unreachable destination: %v", err)
	}
	assertRunsOnlyOn(t, l, g, src.Name)
}

func migWaitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
