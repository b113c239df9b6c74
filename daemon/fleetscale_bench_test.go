package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// Shape of BenchmarkFleetScale: VMs per host, the steady window, the power losses injected for
// the detection latency, and the simulated day of the store.
const (
	scaleVMsPerHost = 20
	scaleIdleWindow = 30 * time.Second // one bmc_health_interval: every BMC is read about once
	scaleSettle     = 5 * time.Second
	scaleLosses     = 48
	scaleLossGap    = 500 * time.Millisecond // mean gap between two injected losses (uniform in [0, 2×))
	scaleDay        = 24 * time.Hour
	// Per simulated hour: one host lost and its VMs restarted (the events recorded from the real
	// daemon, replayed), and scaleAuditsPerHour operator calls.
	scaleAuditsPerHour = 6
)

// scaleSizes are the fleet sizes of BenchmarkFleetScale.
var scaleSizes = []int{1000, 2000, 5000}

// raiseFileLimit lifts the soft RLIMIT_NOFILE to the hard one (the BMC process inherits it),
// and fails if that is below need: for a fleet of n hosts, the BMC process holds about 2n
// sockets (a listener and a connection per BMC), 3n with the BMCs' event streams, and this
// process n, 2n with event streams. It returns the hard limit.
func raiseFileLimit(b *testing.B, need uint64) uint64 {
	b.Helper()
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		b.Fatal(err)
	}
	if l.Max < need {
		b.Fatalf("RLIMIT_NOFILE: %d open files at most (hard limit), want %d: raise it (ulimit -Hn, or LimitNOFILE in a unit)", l.Max, need)
	}
	if l.Cur < l.Max {
		next := syscall.Rlimit{Cur: l.Max, Max: l.Max}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next); err != nil {
			b.Fatal(err)
		}
		b.Logf("RLIMIT_NOFILE raised from %d to %d", l.Cur, l.Max)
	}
	return l.Max
}

// scaleFleet is one run of BenchmarkFleetScale: the simulated fleet, its BMC emulators in a
// child process, and the real daemon watching them.
type scaleFleet struct {
	b     *testing.B
	n     int
	f     *fleet.Fleet
	bmcs  *fleet.BMCProcess
	cfg   config.Config
	d     *Daemon
	rec   *recordingStore
	stop  func()
	names []string
}

// startScaleFleet starts n simulated hosts of 20 VMs, each with its own Redfish BMC emulator on
// a real HTTPS socket, all emulators in one child process (fleet.StartBMCProcess: this test
// binary run again, see TestMain; one shared certificate, pinned in the configuration; one
// credentials file for all), and configures the real daemon to watch them with automatic
// recovery and no failback. The child ends with the benchmark (Close in a cleanup, and
// Pdeathsig if this process dies).
func startScaleFleet(b *testing.B, n int) *scaleFleet {
	b.Helper()
	dir := b.TempDir()
	s := &scaleFleet{b: b, n: n, f: fleet.New(scaleVMsPerHost), cfg: fleetConfig(dir, n)}
	b.Cleanup(func() {
		if err := s.f.Close(); err != nil {
			b.Errorf("the fleet's BMC process: %v", err)
		}
	})
	for _, h := range s.cfg.Hosts {
		s.names = append(s.names, h.Name)
	}
	t0 := time.Now()
	p, err := s.f.StartBMCProcess(context.Background(), s.names, fleet.ProcessOptions{Username: "watch", Password: "pw-fleet"})
	if err != nil {
		b.Fatal(err)
	}
	s.bmcs = p
	creds := filepath.Join(dir, "bmc.cred")
	if err := os.WriteFile(creds, []byte("username=watch\npassword=pw-fleet\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	for i := range s.cfg.Hosts {
		s.cfg.Hosts[i].BMC = config.BMC{Type: config.BMCRedfish, Endpoint: p.URL(s.names[i]), SystemID: s.names[i],
			CredentialsFile: creds, PinnedSHA256: p.Fingerprint()}
	}
	s.cfg.Failback.Enabled = false
	b.Logf("%d hosts: %d BMC emulators started in %s, in process %d", n, n, time.Since(t0).Round(time.Millisecond), p.Pid())
	return s
}

// run starts the daemon, its store seen through a recordingStore.
func (s *scaleFleet) run() {
	b := s.b
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	var ln net.Listener
	if s.cfg.Hosts[0].BMC.Events == config.EventsPush { // the BMCs push to the daemon's API
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			b.Fatal(err)
		}
		s.cfg.API.BMCEventURL = "http://" + ln.Addr().String()
	}
	d, err := New(context.Background(), s.cfg, Options{Dial: s.f.Dial, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	if ln != nil {
		h, err := api.NewServer(d, api.ServerOptions{BMCEvents: d.BMCEventReceiver(), Logger: logger})
		if err != nil {
			b.Fatal(err)
		}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		b.Cleanup(func() { _ = srv.Close() })
	}
	as, ok := d.db.(actingStore)
	if !ok {
		b.Fatalf("the daemon's store is a %T, want actingStore", d.db)
	}
	s.rec = &recordingStore{Store: as.Store}
	as.Store = s.rec
	d.db = as
	s.d = d
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	s.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}
	b.Cleanup(s.stop)
}

// settled reports how many hosts are healthy with their BMC read (power on) and how many VMs
// are on record.
func (s *scaleFleet) settled() (hosts, vms int) {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	for _, w := range s.d.hosts {
		if w.verdict.State == policy.Healthy && w.sig.BMC.Reachable && w.sig.BMC.Power == policy.PowerOn {
			hosts++
		}
	}
	return hosts, len(s.d.vms)
}

// states counts the hosts by verdict and BMC reading, to say why a fleet has not settled.
func (s *scaleFleet) states() map[string]int {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	out := map[string]int{}
	for _, w := range s.d.hosts {
		bmc := "bmc " + string(w.sig.BMC.Power)
		switch {
		case w.sig.BMC.At.IsZero():
			bmc = "bmc not read"
		case !w.sig.BMC.Reachable:
			bmc = "bmc unreachable"
		}
		out[string(w.verdict.State)+", "+bmc]++
	}
	return out
}

// pollUntil checks cond every 100 ms until it holds, or fails after limit.
func pollUntil(b *testing.B, limit time.Duration, what func() string, cond func() bool) {
	b.Helper()
	for end := time.Now().Add(limit); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			b.Fatalf("not within %s: %s", limit, what())
		}
	}
}

// idleFigures are what the idle window measured: the daemon's process, and the BMC process
// apart.
type idleFigures struct {
	cores, rssMiB       float64
	bmcCores, bmcRSSMiB float64
}

// idle measures the daemon at rest: CPU over scaleIdleWindow once every host is healthy, every
// BMC read and every VM on record, and the process's RSS at its end; the same of the BMC
// process.
func (s *scaleFleet) idle() idleFigures {
	b := s.b
	t0 := time.Now()
	pollUntil(b, 8*time.Minute, func() string {
		h, v := s.settled()
		return fmt.Sprintf("%d of %d hosts healthy with their BMC read, %d of %d VMs on record; hosts by state and BMC: %v", h, s.n, v, s.n*scaleVMsPerHost, s.states())
	}, func() bool { h, v := s.settled(); return h == s.n && v == s.n*scaleVMsPerHost })
	b.Logf("%d hosts healthy, every BMC read, %d VMs on record %s after start", s.n, s.n*scaleVMsPerHost, time.Since(t0).Round(time.Millisecond))
	time.Sleep(scaleSettle)
	defer s.profile("idle")()
	bmc0, err := s.bmcs.Usage()
	if err != nil {
		b.Fatal(err)
	}
	cpu0, w0 := cpuTime(), time.Now()
	time.Sleep(scaleIdleWindow)
	cpu, wall := cpuTime()-cpu0, time.Since(w0)
	bmc1, err := s.bmcs.Usage()
	if err != nil {
		b.Fatal(err)
	}
	s.heapProfile("idle")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.Logf("idle memory: %d goroutines, stacks %d MiB, heap in use %d MiB, heap idle not released %d MiB, runtime total %d MiB",
		runtime.NumGoroutine(), ms.StackInuse>>20, ms.HeapInuse>>20, (ms.HeapIdle-ms.HeapReleased)>>20, ms.Sys>>20)
	return idleFigures{cores: cpu.Seconds() / wall.Seconds(), rssMiB: float64(rssKiB()) / 1024,
		bmcCores: (bmc1.CPU - bmc0.CPU).Seconds() / wall.Seconds(), bmcRSSMiB: float64(bmc1.RSSKiB) / 1024}
}

// profile writes a CPU profile of a phase of the run to LIFEBOAT_FLEET_PROFILE_DIR (PHASE-N.pprof)
// until the function it returns is called; without the variable it does nothing.
func (s *scaleFleet) profile(phase string) (stop func()) {
	dir := os.Getenv("LIFEBOAT_FLEET_PROFILE_DIR")
	if dir == "" {
		return func() {}
	}
	b := s.b
	path := filepath.Join(dir, fmt.Sprintf("%s-%d.pprof", phase, s.n))
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		b.Logf("CPU profile of the %s phase: %s", phase, path)
	}
}

// heapProfile writes a heap profile to LIFEBOAT_FLEET_PROFILE_DIR (PHASE-heap-N.pprof), after a
// collection; without the variable it does nothing.
func (s *scaleFleet) heapProfile(phase string) {
	dir := os.Getenv("LIFEBOAT_FLEET_PROFILE_DIR")
	if dir == "" {
		return
	}
	path := filepath.Join(dir, fmt.Sprintf("%s-heap-%d.pprof", phase, s.n))
	f, err := os.Create(path)
	if err != nil {
		s.b.Fatal(err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		s.b.Fatal(err)
	}
	s.b.Logf("heap profile after the %s phase: %s", phase, path)
}

// failedAt is when the journal recorded the host's verdict failed with proof of death (the BMC
// reports power off), at or after since; zero if it has not.
func (s *scaleFleet) failedAt(ctx context.Context, after uint64) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	for {
		es, err := s.d.db.Journal(ctx, after, 10000)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			if e.Kind == "verdict" && e.Reason == string(policy.ReasonPowerOff) {
				if _, seen := out[e.Host]; !seen {
					out[e.Host] = e.At
				}
			}
			after = e.Seq
		}
		if len(es) < 10000 {
			return out, nil
		}
	}
}

// vmsOn lists the UUIDs of the VMs on record on a host.
func (s *scaleFleet) vmsOn(host string) []string {
	s.d.mu.Lock()
	defer s.d.mu.Unlock()
	var out []string
	for uuid, r := range s.d.vms {
		if r.CurrentHost == host {
			out = append(out, uuid)
		}
	}
	return out
}

// restart cuts the power of the hosts at once, and returns the time from the latest of their
// verdicts failed (with proof) to the start of the last of their VMs elsewhere, after the
// daemon fenced each host through its BMC emulator (Redfish ForceOff, power verified off) and
// placed its VMs; and the same from the power cut.
func (s *scaleFleet) restart(ctx context.Context, hosts []string) (fromVerdict, fromCut time.Duration) {
	b := s.b
	var want []string
	for _, h := range hosts {
		vms := s.vmsOn(h)
		if len(vms) != scaleVMsPerHost {
			b.Fatalf("%s has %d VMs on record, want %d", h, len(vms), scaleVMsPerHost)
		}
		want = append(want, vms...)
	}
	seq0, err := s.d.db.LastSeq(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer s.profile(fmt.Sprintf("restart%d", len(hosts)))()
	cut := time.Now()
	for _, h := range hosts {
		if err := s.f.CutPower(h); err != nil {
			b.Fatal(err)
		}
	}
	var last time.Time
	pollUntil(b, 5*time.Minute, func() string {
		return fmt.Sprintf("the %d VMs of %v restarted elsewhere", len(want), hosts)
	}, func() bool {
		for _, uuid := range want {
			st, ok := s.f.Started(uuid)
			if !ok || st.At.Before(cut) {
				return false
			}
			if slices.Contains(hosts, st.Host) {
				b.Fatalf("VM %s restarted on %s, a host without power", uuid, st.Host)
			}
			if st.At.After(last) {
				last = st.At
			}
		}
		return true
	})
	failed, err := s.failedAt(ctx, seq0)
	if err != nil {
		b.Fatal(err)
	}
	var verdict time.Time
	for _, h := range hosts {
		at, ok := failed[h]
		if !ok {
			b.Fatalf("%s: its VMs restarted without a verdict failed (power off) in the journal", h)
		}
		if fenced := s.f.Host(h).Powered(); fenced {
			b.Fatalf("%s has power again", h)
		}
		if at.After(verdict) {
			verdict = at
		}
	}
	return last.Sub(verdict), last.Sub(cut)
}

// detect injects scaleLosses power losses at random hosts (not in skip), spread in time, and
// returns, for each, the time from the power cut to the journal's verdict failed with proof of
// death. It restores every host it cut once all verdicts are in.
func (s *scaleFleet) detect(ctx context.Context, rng *rand.Rand, skip []string) []time.Duration {
	b := s.b
	seq0, err := s.d.db.LastSeq(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer s.profile("detect")()
	cut := map[string]time.Time{}
	for len(cut) < scaleLosses {
		h := s.names[rng.IntN(len(s.names))]
		if _, dup := cut[h]; dup || slices.Contains(skip, h) {
			continue
		}
		time.Sleep(time.Duration(rng.Int64N(int64(2 * scaleLossGap))))
		cut[h] = time.Now()
		if err := s.f.CutPower(h); err != nil {
			b.Fatal(err)
		}
	}
	var failed map[string]time.Time
	pollUntil(b, time.Minute, func() string {
		return fmt.Sprintf("%d of %d injected power losses detected", len(failed), len(cut))
	}, func() bool {
		if failed, err = s.failedAt(ctx, seq0); err != nil {
			b.Fatal(err)
		}
		for h := range cut {
			if _, ok := failed[h]; !ok {
				return false
			}
		}
		return true
	})
	lat := make([]time.Duration, 0, len(cut))
	for h, at := range cut {
		lat = append(lat, failed[h].Sub(at))
		if err := s.f.RestorePower(h); err != nil {
			b.Fatal(err)
		}
	}
	slices.Sort(lat)
	return lat
}

// quantile is the q-quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// storeDay copies the daemon's store file after the run and drives it through scaleDay of
// simulated time: every hour, the writes the real daemon made for one host's power loss (its
// observations, verdicts, fence, recovery plan, restart records and moved VM records, recorded
// in the restart phase) are replayed, an hour later each time, and scaleAuditsPerHour audit
// entries of operator calls are added. Probe ticks that change nothing write nothing (see
// TestSteadyStateWritesNothing), so they add nothing here either. It returns the file's size
// before and after the day.
func (s *scaleFleet) storeDay(ctx context.Context, cycle, audits []storeWrite) (before, after int64) {
	b := s.b
	src := s.cfg.Store.Path
	fi, err := os.Stat(src)
	if err != nil {
		b.Fatal(err)
	}
	cfg := s.cfg.Store
	cfg.Path = src + ".day"
	raw, err := os.ReadFile(src)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(cfg.Path, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	db, err := store.OpenConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	for hour := range int(scaleDay / time.Hour) {
		shift := time.Duration(hour+1) * time.Hour
		if err := replayWrites(ctx, db, cycle, shift); err != nil {
			b.Fatal(err)
		}
		for range scaleAuditsPerHour {
			if err := replayWrites(ctx, db, audits, shift); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	fa, err := os.Stat(cfg.Path)
	if err != nil {
		b.Fatal(err)
	}
	return fi.Size(), fa.Size()
}

// BenchmarkFleetScale watches a simulated fleet of 1,000, 2,000 and 5,000 hosts with 20 VMs
// each (testenv/fleet behind the real hypervisor.Host interface), every host with its own
// Redfish BMC emulator (testenv/bmc, sessions, events) on a real HTTPS socket, through the real
// daemon (bbolt store, automatic recovery, default timings). The emulators all run in one
// child process (fleet.StartBMCProcess: this test binary run again, see TestMain), so that the
// figures of this process are the daemon's and the simulated fleet's, not the emulators'. It
// reports as metrics:
//
//   - idle-cores, rss-MiB: CPU (cores) of this process over a 30 s steady window once every
//     host is healthy, every BMC read and every VM on record, and its RSS at its end. The
//     process also holds the simulated fleet (libvirt side): fleet-rss-MiB is the RSS before
//     the daemon started.
//   - bmc-proc-cores, bmc-proc-rss-MiB: the same of the BMC process (/proc/PID/stat and
//     /proc/PID/status): the emulators serving the daemon's polls and event streams.
//   - restart-1host-s, restart-10hosts-s: from the verdict failed (the last of the 10) to the
//     last VM started elsewhere, after the daemon fenced the host through its emulator
//     (Redfish ForceOff, power verified off) and placed the VMs; restart-10hosts-cut-s counts
//     from the power cut.
//   - detect-p50-s, detect-p99-s: from a power loss (CutPower: BMC off, libvirt probes time
//     out) to the journal's verdict failed with proof, over 48 losses at random hosts about a
//     half second apart; the hosts get their power back afterwards.
//   - store-MiB, store-24h-MiB: the bbolt file after the run, and after a simulated day more
//     (store.journal_max_entries at its default): every hour, the writes the daemon made for one
//     host's loss and restart, replayed, and six audited operator calls.
//
// bmc-events is 1 when the daemon held an event stream per BMC (bmc.events auto, the default),
// 2 with LIFEBOAT_FLEET_EVENTS=push (each BMC holds a push subscription to the daemon's API
// listener: no connection while nothing happens), 0 with LIFEBOAT_FLEET_EVENTS=off or when the
// open-files limit left no room for event streams (then it polls only). It raises the soft
// RLIMIT_NOFILE to the hard one: about 2 sockets per host in the BMC process and 1 here, one
// more in each with event streams. With LIFEBOAT_FLEET_PROFILE_DIR set, it
// writes a CPU profile of each phase there (idle-N, restart1-N, restart10-N, detect-N.pprof), and a heap profile after the idle window (idle-heap-N.pprof). The whole run takes about 12 minutes here:
//
//	flock /tmp/lab.lock go test -run '^$' -bench '^BenchmarkFleetScale$' -benchtime 1x -timeout 30m ./daemon/
func BenchmarkFleetScale(b *testing.B) {
	if testing.Short() {
		b.Skip("BenchmarkFleetScale takes minutes")
	}
	for _, n := range scaleSizes {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			for range b.N {
				benchFleetScale(b, n)
			}
		})
	}
}

func benchFleetScale(b *testing.B, n int) {
	limit := raiseFileLimit(b, uint64(2*n+1024))
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(n), 14)) //nolint:gosec // reproducible choice of hosts
	debug.FreeOSMemory()                        // what an earlier size left
	s := startScaleFleet(b, n)
	// Each BMC's event stream (bmc.events auto, the default) is one more connection: one more
	// socket in this process and in the BMC process. Without room for them the BMCs are polled
	// only.
	// LIFEBOAT_FLEET_EVENTS=push makes the BMCs push their events to the daemon's API listener
	// instead (push subscriptions: no open connection while nothing happens); off polls only.
	mode := config.EventsAuto
	switch m := os.Getenv("LIFEBOAT_FLEET_EVENTS"); m {
	case "", "auto":
	case "push", "off":
		mode = config.BMCEvents(m)
	default:
		b.Fatalf("LIFEBOAT_FLEET_EVENTS=%q: want auto, push or off", m)
	}
	if mode == config.EventsAuto && limit < uint64(3*n+1024) {
		mode = config.EventsOff
		b.Logf("bmc.events off: %d hosts with event streams need %d open files in the BMC process, the hard limit is %d", n, 3*n+1024, limit)
	}
	for i := range s.cfg.Hosts {
		s.cfg.Hosts[i].BMC.Events = mode
	}
	events := map[config.BMCEvents]float64{config.EventsOff: 0, config.EventsAuto: 1, config.EventsPush: 2}[mode]
	debug.FreeOSMemory()
	fleetRSS := float64(rssKiB()) / 1024
	s.run()
	idle := s.idle()
	b.Logf("idle: %.3f cores, RSS %.0f MiB (the simulated fleet alone: %.0f MiB); the BMC process apart: %.3f cores, RSS %.0f MiB",
		idle.cores, idle.rssMiB, fleetRSS, idle.bmcCores, idle.bmcRSSMiB)

	// Restarts: one host, then ten at once, recorded for the store's simulated day.
	s.rec.record(true)
	one := []string{s.names[n/2]}
	r1, r1cut := s.restart(ctx, one)
	cycle := s.rec.record(false)
	ten := make([]string, 0, 10)
	for i := range 10 {
		ten = append(ten, s.names[(n/4+i*n/40)%n])
	}
	r10, r10cut := s.restart(ctx, ten)
	b.Logf("restart of 1 host (20 VMs): %s from the verdict failed, %s from the power cut; of 10 hosts (200 VMs): %s, %s",
		r1.Round(time.Millisecond), r1cut.Round(time.Millisecond), r10.Round(time.Millisecond), r10cut.Round(time.Millisecond))

	s.rec.record(true)
	s.d.Audit(ctx, api.AuditRecord{Identity: api.Identity{Name: "alice", Role: api.RoleOperator, Method: api.AuthToken, Remote: "10.0.0.5"},
		Role: "operator", Method: "POST", Path: "/v1/hosts/" + s.names[1] + "/drain", Status: 200})
	audits := s.rec.record(false)

	lat := s.detect(ctx, rng, append(one, ten...))
	p50, p99 := quantile(lat, 0.5), quantile(lat, 0.99)
	b.Logf("detection of %d power losses: median %s, p99 %s, max %s", len(lat), p50.Round(time.Millisecond), p99.Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
	s.stop()

	before, after := s.storeDay(ctx, cycle, audits)
	b.Logf("store: %.1f MiB after the run, %.1f MiB after 24 simulated hours (%d writes per lost host replayed hourly)",
		float64(before)/(1<<20), float64(after)/(1<<20), len(cycle))

	b.ReportMetric(idle.cores, "idle-cores")
	b.ReportMetric(idle.rssMiB, "rss-MiB")
	b.ReportMetric(fleetRSS, "fleet-rss-MiB")
	b.ReportMetric(idle.bmcCores, "bmc-proc-cores")
	b.ReportMetric(idle.bmcRSSMiB, "bmc-proc-rss-MiB")
	b.ReportMetric(p50.Seconds(), "detect-p50-s")
	b.ReportMetric(p99.Seconds(), "detect-p99-s")
	b.ReportMetric(r1.Seconds(), "restart-1host-s")
	b.ReportMetric(r10.Seconds(), "restart-10hosts-s")
	b.ReportMetric(r10cut.Seconds(), "restart-10hosts-cut-s")
	b.ReportMetric(float64(before)/(1<<20), "store-MiB")
	b.ReportMetric(float64(after)/(1<<20), "store-24h-MiB")
	b.ReportMetric(events, "bmc-events")
	b.ReportMetric(0, "ns/op")
}
