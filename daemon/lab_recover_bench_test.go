package daemon

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// BenchmarkLabRecovery measures the recovery time objective over repeated power losses: from
// the power loss to every guest of the host answering again on another host, broken down (from
// the journal) into detection (power loss to the failed verdict), fence (to the verified fence)
// and restart (to the last guest started), with the guests' boot after that. Each run cuts the
// power of the host that runs the most guests, then powers it on again.
func BenchmarkLabRecovery(b *testing.B) {
	l := testenv.StartForTest(b, testenv.Options{Hosts: 2, Standby: 1, VMs: 4})
	cfg := labConfig(b, l)
	cfg.Recovery.FenceWindow = config.Duration(time.Second)
	d, err := New(context.Background(), cfg, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() { cancel(); <-done }()
	healthy := func() {
		deadline := time.Now().Add(60 * time.Second)
		for {
			hs, _ := d.Hosts(ctx)
			ok := 0
			for _, h := range hs {
				if h.State == "healthy" {
					ok++
				}
			}
			if ok == len(hs) {
				return
			}
			if time.Now().After(deadline) {
				b.Fatalf("hosts not healthy: %+v", hs)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	var totals, detects, fences, restarts []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for run := 0; run < 3; run++ {
			healthy()
			procs, _ := l.Running()
			count := map[string][]string{}
			for _, p := range procs {
				count[p.Host] = append(count[p.Host], p.Guest)
			}
			victim := ""
			for h, gs := range count {
				if victim == "" || len(gs) > len(count[victim]) || (len(gs) == len(count[victim]) && h < victim) {
					victim = h
				}
			}
			last, _ := d.db.LastSeq(ctx)
			t0 := time.Now()
			if err := l.PowerOff(ctx, victim); err != nil {
				b.Fatal(err)
			}
			for _, name := range count[victim] {
				var ip string
				for _, g := range l.Guests() {
					if g.Name == name {
						ip = g.IP
					}
				}
				wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
				err := testenv.WaitGuestUp(wctx, ip)
				wcancel()
				if err != nil {
					b.Fatalf("%s did not come back: %v", name, err)
				}
			}
			total := time.Since(t0)
			es, _ := d.db.Journal(ctx, last, 1000)
			var failedAt, fencedAt, restartedAt time.Time
			for _, e := range es {
				switch {
				case e.Kind == "verdict" && e.Host == victim && (e.Reason == "bmc_power_off_libvirt_lost" || e.Reason == "libvirt_timeout") && failedAt.IsZero():
					failedAt = e.At
				case e.Kind == "action" && e.Host == victim && e.Reason == "fenced":
					fencedAt = e.At
				case e.Kind == "recovery" && e.Reason == "restarted":
					restartedAt = e.At
				}
			}
			totals = append(totals, total)
			detects = append(detects, failedAt.Sub(t0))
			fences = append(fences, fencedAt.Sub(failedAt))
			restarts = append(restarts, restartedAt.Sub(fencedAt))
			b.Logf("run %d: %s lost %d guests; detect %s, fence %s, restart %s, all answering %s", run+1, victim, len(count[victim]),
				failedAt.Sub(t0).Round(10*time.Millisecond), fencedAt.Sub(failedAt).Round(10*time.Millisecond),
				restartedAt.Sub(fencedAt).Round(10*time.Millisecond), total.Round(10*time.Millisecond))
			if err := l.PowerOn(ctx, victim); err != nil {
				b.Fatal(err)
			}
		}
	}
	med := func(ds []time.Duration) time.Duration {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	worst := func(ds []time.Duration) time.Duration {
		m := ds[0]
		for _, d := range ds {
			m = max(m, d)
		}
		return m
	}
	b.ReportMetric(med(totals).Seconds(), "rto-median-s")
	b.ReportMetric(worst(totals).Seconds(), "rto-max-s")
	b.ReportMetric(med(detects).Seconds(), "detect-median-s")
	b.ReportMetric(med(fences).Seconds(), "fence-median-s")
	b.ReportMetric(med(restarts).Seconds(), "restart-median-s")
	b.ReportMetric(120/med(totals).Seconds(), "x-faster-than-proxmox-120s")
}
