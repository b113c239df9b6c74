package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// BenchmarkLabDrain measures, side by side on one lab, the wall time to empty a host of 6 idle
// guests with `lifeboat drain` (budgets of 6 out and 6 in) against a sequential loop of
// `virsh migrate --live --p2p` moving them back, and reports the ratio and the longest ping gap
// of any guest during the drain.
func BenchmarkLabDrain(b *testing.B) {
	l := testenv.StartForTest(b, testenv.Options{Hosts: 1, Standby: 1, VMs: 6, GuestMemoryMiB: 96})
	cfg := labConfig(b, l)
	cfg.Store.Path = b.TempDir() + "/drain.db"
	cfg.Migration.PerHostOut, cfg.Migration.PerHostIn, cfg.Migration.Cluster = 6, 6, 8
	d, ctx := runBenchDaemon(b, cfg)
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	for i := 0; i < b.N; i++ {
		deadline := time.Now().Add(30 * time.Second)
		for {
			vms, _ := d.VMs(ctx)
			hs, _ := d.Hosts(ctx)
			if len(vms) == 6 && hs[1].State == "healthy" {
				break
			}
			if time.Now().After(deadline) {
				b.Fatal("daemon not ready")
			}
			time.Sleep(100 * time.Millisecond)
		}
		var pingers []*testenv.Pinger
		for _, g := range l.Guests() {
			p, err := testenv.StartPinger(ctx, g.IP, 10*time.Millisecond)
			if err != nil {
				b.Fatal(err)
			}
			pingers = append(pingers, p)
		}
		time.Sleep(time.Second)
		start := time.Now()
		if _, err := d.Drain(ctx, "h1", false); err != nil {
			b.Fatal(err)
		}
		for {
			on, _ := l.Running()
			left := 0
			for _, p := range on {
				if p.Host == "h1" {
					left++
				}
			}
			ms, _ := d.Migrations(ctx)
			busy := false
			for _, m := range ms {
				busy = busy || !m.Done()
			}
			if left == 0 && !busy {
				break
			}
			if time.Since(start) > 5*time.Minute {
				b.Fatal("drain did not finish")
			}
			time.Sleep(50 * time.Millisecond)
		}
		drain := time.Since(start)
		var gap time.Duration
		for _, p := range pingers {
			gap = max(gap, p.MaxGap())
			p.Stop()
		}
		failed := 0
		ms, _ := d.Migrations(ctx)
		for _, m := range ms {
			if m.State != "succeeded" {
				failed++
			}
		}
		if err := d.Undrain(ctx, "h1"); err != nil {
			b.Fatal(err)
		}
		time.Sleep(2 * time.Second)

		// Baseline: the loop administrators write today, moving the 6 guests back one by one.
		start = time.Now()
		virshLoop(ctx, b, l.Guests(), h2, h1)
		loop := time.Since(start)
		b.ReportMetric(drain.Seconds(), "drain-s")
		b.ReportMetric(loop.Seconds(), "virsh-loop-s")
		b.ReportMetric(loop.Seconds()/drain.Seconds(), "x-faster")
		b.ReportMetric(float64(gap.Milliseconds()), "max-ping-gap-ms")
		b.Logf("drain of 6 guests: %s (%d not succeeded); sequential virsh loop: %s; ratio %.2f; longest ping gap %s",
			drain.Round(10*time.Millisecond), failed, loop.Round(10*time.Millisecond), loop.Seconds()/drain.Seconds(), gap)
	}
}

// virshLoop is the baseline administrators write today: the guests moved one by one with
// `virsh migrate --live --p2p`, each within 2 minutes (a hung migration fails the run).
func virshLoop(ctx context.Context, b *testing.B, gs []testenv.Guest, from, to testenv.Host) {
	for _, g := range gs {
		vctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		_, err := testenv.Exec(vctx, "virsh", "-c", from.LibvirtURI, "migrate", "--live", "--p2p", "--persistent",
			"--undefinesource", g.Name, to.LibvirtURI)
		cancel()
		if err != nil {
			b.Fatalf("baseline: %v", err)
		}
	}
}

// runBenchDaemon runs a daemon in-process for a benchmark until it ends; ctx is the daemon's.
func runBenchDaemon(b *testing.B, cfg config.Config) (*Daemon, context.Context) {
	d, err := New(context.Background(), cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	b.Cleanup(func() { cancel(); <-done })
	return d, ctx
}
