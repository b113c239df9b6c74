package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// maxGap starts a pinger per guest and returns a function that stops them and gives the longest
// gap any guest showed.
func maxGap(b *testing.B, ctx context.Context, gs []testenv.Guest) func() time.Duration {
	var ps []*testenv.Pinger
	for _, g := range gs {
		p, err := testenv.StartPinger(ctx, g.IP, 10*time.Millisecond)
		if err != nil {
			b.Fatal(err)
		}
		ps = append(ps, p)
	}
	return func() time.Duration {
		var gap time.Duration
		for _, p := range ps {
			gap = max(gap, p.MaxGap())
			p.Stop()
		}
		return gap
	}
}

// BenchmarkLabEvacuate measures the time from a degrade signal (the BMC of h1 turns Critical)
// to h1 being empty, with 4 guests, and the longest ping gap any guest saw. Side by side on the
// same lab, the baseline is the sequential `virsh migrate --live` loop an administrator runs by
// hand once they notice (their noticing not counted), moving the guests back.
func BenchmarkLabEvacuate(b *testing.B) {
	l := testenv.StartForTest(b, testenv.Options{Hosts: 1, Standby: 1, VMs: 4, GuestMemoryMiB: 96})
	cfg := labConfig(b, l)
	cfg.Migration.PerHostOut, cfg.Migration.PerHostIn, cfg.Migration.Cluster = 4, 4, 8
	cfg.Failback.Enabled = false
	d, ctx := runBenchDaemon(b, cfg)
	h1, _ := l.Host("h1")
	h2, _ := l.Host("h2")
	onH1 := func() int {
		procs, _ := l.Running()
		n := 0
		for _, p := range procs {
			if p.Host == "h1" {
				n++
			}
		}
		return n
	}
	for i := 0; i < b.N; i++ {
		deadline := time.Now().Add(30 * time.Second)
		for {
			vms, _ := d.VMs(ctx)
			hs, _ := d.Hosts(ctx)
			if len(vms) == 4 && hs[0].State == "healthy" && hs[1].State == "healthy" && onH1() == 4 {
				break
			}
			if time.Now().After(deadline) {
				hs, _ := d.Hosts(ctx)
				b.Fatalf("daemon not ready: %d guests on h1, hosts %+v", onH1(), hs)
			}
			time.Sleep(100 * time.Millisecond)
		}
		stopPing := maxGap(b, ctx, l.Guests())
		time.Sleep(time.Second)
		start := time.Now()
		if err := l.Degrade("h1", bmc.HealthCritical, "benchmark: PSU lost"); err != nil {
			b.Fatal(err)
		}
		for onH1() > 0 {
			if time.Since(start) > 3*time.Minute {
				b.Fatal("evacuation did not finish")
			}
			time.Sleep(20 * time.Millisecond)
		}
		evac := time.Since(start)
		gap := stopPing()
		if err := l.Repair("h1"); err != nil {
			b.Fatal(err)
		}
		for {
			hs, _ := d.Hosts(ctx)
			if hs[0].State == "healthy" {
				break
			}
			if time.Since(start) > 3*time.Minute {
				b.Fatalf("h1 not healthy after the repair: %+v", hs[0])
			}
			time.Sleep(100 * time.Millisecond)
		}

		stopPing = maxGap(b, ctx, l.Guests())
		start = time.Now()
		virshLoop(ctx, b, l.Guests(), h2, h1)
		loop := time.Since(start)
		loopGap := stopPing()
		b.ReportMetric(evac.Seconds(), "signal-to-empty-s")
		b.ReportMetric(loop.Seconds(), "virsh-loop-s")
		b.ReportMetric(loop.Seconds()/evac.Seconds(), "x-faster")
		b.ReportMetric(float64(gap.Milliseconds()), "max-ping-gap-ms")
		b.ReportMetric(float64(loopGap.Milliseconds()), "virsh-max-ping-gap-ms")
		b.Logf("degrade signal to h1 empty (4 guests): %s, longest ping gap %s; sequential virsh loop: %s, longest gap %s; ratio %.2f",
			evac.Round(10*time.Millisecond), gap, loop.Round(10*time.Millisecond), loopGap, loop.Seconds()/evac.Seconds())
	}
}
