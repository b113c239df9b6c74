package daemon

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// state is a host's verdict now, read without walking the fleet (as API's Hosts does), so that
// polling it does not hold d.mu.
func (d *Daemon) state(host string) policy.HostState {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byName[host].verdict.State
}

// BenchmarkDecide runs the daemon over a simulated fleet of 1,000 and 5,000 healthy hosts (2 VMs
// each, behind hypervisor.Host) and reports, for a steady window, the detector runs per second
// and the daemon's CPU per host: first as it runs (decisions on change and on each host's next
// check), then with the old decide loop's fleet-wide walk every 200 ms added on top, as the
// baseline. The ratios compare the two; the figures include the probe loops, which both
// runs share. It also reports the latency from a host's probes failing to its suspect verdict
// (past suspect_after). One op is one decision pass over the pending hosts.
func BenchmarkDecide(b *testing.B) {
	for _, n := range benchDecideSizes() {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			f := fleet.New(2)
			cfg := fleetConfig(b.TempDir(), n)
			quiet := slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelWarn}))
			d, err := New(context.Background(), cfg, Options{Dial: f.Dial, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			defer func() { cancel(); <-done }()
			healthy := func() int {
				hs, _ := d.Hosts(ctx)
				ok := 0
				for _, h := range hs {
					if h.State == "healthy" {
						ok++
					}
				}
				return ok
			}
			for deadline := time.Now().Add(3 * time.Minute); healthy() < n; time.Sleep(100 * time.Millisecond) {
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d hosts healthy", healthy(), n)
				}
			}
			time.Sleep(6 * time.Second) // every host's inventory settles
			decisions := func() float64 { return testutil.ToFloat64(d.m.decisions) }
			const window = 5 * time.Second
			measure := func() (perSec, cpuPerHost float64) {
				dec0, cpu0 := decisions(), cpuTime()
				time.Sleep(window)
				cpu := cpuTime() - cpu0
				return (decisions() - dec0) / window.Seconds(), float64(cpu.Microseconds()) / 1000 / float64(n) / window.Seconds()
			}
			// The first window after the start still pays for it (definitions, records): the
			// event-driven figures are those of a window after the baseline's.
			_, firstCPU := measure()

			// The baseline: the old loop's walk over every host every 200 ms, on top.
			wctx, stopWalk := context.WithCancel(ctx)
			walked := make(chan struct{})
			go func() {
				defer close(walked)
				t := time.NewTicker(leaseRecheck)
				defer t.Stop()
				for {
					select {
					case <-wctx.Done():
						return
					case <-t.C:
						d.decideAll(wctx)
					}
				}
			}()
			time.Sleep(time.Second)
			walkDec, walkCPU := measure()
			stopWalk()
			<-walked
			time.Sleep(time.Second)
			evDec, evCPU := measure()
			b.Logf("%d hosts: cpu-ms/host/s %.3f in the first window, %.3f with the walk, %.3f without it", n, firstCPU, walkCPU, evCPU)

			// Latency from a host's probes failing to its suspect verdict.
			var worst, total, probeLag, decideLag time.Duration
			const samples = 5
			for i := 0; i < samples; i++ {
				k := i * (n / samples)
				h := f.Host(cfg.Hosts[k].Name)
				start := time.Now()
				h.SetOutcome(hypervisor.ProbeTimeout)
				for d.state(cfg.Hosts[k].Name) == policy.Healthy {
					time.Sleep(time.Millisecond)
				}
				lat := time.Since(start) - cfg.Timings.SuspectAfter.D()
				total += lat
				worst = max(worst, lat)
				d.mu.Lock()
				w := d.byName[cfg.Hosts[k].Name]
				probeLag += w.sig.Libvirt.FailingSince.Sub(start)
				decideLag += w.verdict.Since.Sub(w.sig.Libvirt.FailingSince.Add(cfg.Timings.SuspectAfter.D()))
				d.mu.Unlock()
				h.SetOutcome(hypervisor.ProbeOK)
			}

			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.decidePending(ctx)
			}
			b.StopTimer()
			b.ReportMetric(evDec, "decisions/s")
			b.ReportMetric(walkDec, "walk-decisions/s")
			b.ReportMetric(evCPU, "cpu-ms/host/s")
			b.ReportMetric(walkCPU, "walk-cpu-ms/host/s")
			b.ReportMetric(walkCPU/evCPU, "walk/event-cpu")
			b.ReportMetric(float64(total.Milliseconds())/samples, "suspect-latency-ms")
			b.ReportMetric(float64(worst.Milliseconds()), "suspect-latency-max-ms")
			b.Logf("%d hosts: of the suspect latency, %s on average until the first failed probe, %s from suspect_after to the verdict", n, probeLag/samples, decideLag/samples)
		})
	}
}

// benchDecideSizes are the fleet sizes of BenchmarkDecide: 1,000 and 5,000 hosts, or the one
// LIFEBOAT_BENCH_HOSTS names.
func benchDecideSizes() []int {
	if n, err := strconv.Atoi(os.Getenv("LIFEBOAT_BENCH_HOSTS")); err == nil && n > 0 {
		return []int{n}
	}
	return []int{1000, 5000}
}
