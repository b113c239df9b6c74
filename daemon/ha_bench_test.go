package daemon

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// benchHADaemon is a daemon of BenchmarkHAFailover, reaching etcd through its own proxy so
// that the benchmark can silence it at once, as a SIGKILL or a pulled cable would: its lease
// is not revoked and expires on the server after the session TTL.
type benchHADaemon struct {
	d     *Daemon
	proxy *testenv.Proxy
	stop  func()
}

func startBenchHADaemon(b *testing.B, cfg config.Config, f *fleet.Fleet, etcdURL, name string) *benchHADaemon {
	b.Helper()
	p, err := testenv.StartCutProxy(strings.TrimPrefix(etcdURL, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	cfg.Store.Etcd.Endpoints = []string{"http://" + p.Addr()}
	cfg.Store.Path = filepath.Join(b.TempDir(), "unused.db")
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	d, err := New(context.Background(), cfg, Options{Dial: f.Dial, Name: name, Logger: logger})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	h := &benchHADaemon{d: d, proxy: p}
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			b.Errorf("daemon %s did not stop within 15 s", name)
		}
		_ = p.Close()
	}
	b.Cleanup(h.stop)
	return h
}

// etcdCounter reads one counter from an etcd member's /metrics.
func etcdCounter(b *testing.B, url, name string) float64 {
	b.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				b.Fatalf("etcd metric %s: %v", name, err)
			}
			return f
		}
	}
	b.Fatalf("etcd has no metric %s", name)
	return 0
}

// waitUntil polls cond every 5 ms until it holds, or fails after limit.
func waitUntil(b *testing.B, limit time.Duration, what string, cond func() bool) {
	b.Helper()
	for end := time.Now().Add(limit); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			b.Fatalf("%s: not within %s", what, limit)
		}
	}
}

// BenchmarkHAFailover measures controller failover on a real etcd member with a 2 s session
// TTL and a simulated fleet of 50 hosts (2 VMs each). First the steady state: a leader and a
// follower watch the fleet for 20 s, and the etcd writes (revisions, and raft proposals, which
// also count lease grants and the like) are reported per host per minute. Then b.N failovers:
// the leader goes silent at once (its etcd connections dropped, its lease not revoked, as with
// kill -9), and the time until the follower acts is measured; a fresh follower joins before the
// next run. Reported: failover-ms-median and failover-ms-max over the runs.
//
//	go test -run '^$' -bench BenchmarkHAFailover -benchtime 10x ./daemon/
func BenchmarkHAFailover(b *testing.B) {
	const hosts, ttl, steady = 50, 2 * time.Second, 20 * time.Second
	m := etcdtest.StartForTest(b)
	f := fleet.New(2)
	cfg := fleetConfig(b.TempDir(), hosts)
	cfg.Store = config.Store{Backend: config.StoreEtcd,
		Etcd: config.Etcd{Prefix: "/lifeboat/bench/", DialTimeout: config.Duration(2 * time.Second), SessionTTL: config.Duration(ttl)}}
	leader := startBenchHADaemon(b, cfg, f, m.ClientURL, "d0")
	waitUntil(b, 30*time.Second, "d0 leads", leader.d.leading)
	follower := startBenchHADaemon(b, cfg, f, m.ClientURL, "d1")
	waitUntil(b, 30*time.Second, "d1 follows d0", func() bool { return follower.d.ha.ctl.Status().Leader == "d0" })
	// Let the first records (hosts, VMs) settle before the steady window.
	time.Sleep(5 * time.Second)

	rev0 := etcdCounter(b, m.ClientURL, "etcd_debugging_mvcc_current_revision")
	prop0 := etcdCounter(b, m.ClientURL, "etcd_server_proposals_committed_total")
	time.Sleep(steady)
	revs := etcdCounter(b, m.ClientURL, "etcd_debugging_mvcc_current_revision") - rev0
	props := etcdCounter(b, m.ClientURL, "etcd_server_proposals_committed_total") - prop0
	perHostMin := func(n float64) float64 { return n / hosts / steady.Minutes() }
	b.ReportMetric(perHostMin(revs), "etcd-writes/host/min")
	b.ReportMetric(perHostMin(props), "etcd-proposals/host/min")
	b.Logf("steady state, %d hosts, leader and follower, %s: %.0f etcd revisions, %.0f raft proposals", hosts, steady, revs, props)

	var took []time.Duration
	b.ResetTimer()
	for i := range b.N {
		t0 := time.Now()
		leader.proxy.Cut()
		waitUntil(b, 30*time.Second, fmt.Sprintf("run %d: the follower acts", i), follower.d.leading)
		took = append(took, time.Since(t0))
		b.StopTimer()
		b.Logf("run %d: failover %s", i, took[len(took)-1].Round(time.Millisecond))
		if leader.d.leading() {
			b.Fatalf("run %d: two daemons act", i)
		}
		t1 := time.Now()
		leader.stop()
		b.Logf("run %d: old leader stopped in %s", i, time.Since(t1).Round(time.Millisecond))
		leader, follower = follower, startBenchHADaemon(b, cfg, f, m.ClientURL, fmt.Sprintf("d%d", i+2))
		name := leader.d.ha.ctl.Status().Name
		waitUntil(b, 30*time.Second, "a new follower", func() bool { return follower.d.ha.ctl.Status().Leader == name })
		b.StartTimer()
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Milliseconds()), "failover-ms-median")
	b.ReportMetric(float64(took[len(took)-1].Milliseconds()), "failover-ms-max")
	b.ReportMetric(0, "ns/op")
	b.Logf("failover with a %s session TTL over %d runs: %v", ttl, len(took), took)
}
