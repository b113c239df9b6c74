package daemon

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// fleetConfig is a configuration for n simulated hosts.
func fleetConfig(dir string, n int) config.Config {
	cfg := config.Default()
	cfg.Store.Path = filepath.Join(dir, "fleet.db")
	for i := 0; i < n; i++ {
		cfg.Hosts = append(cfg.Hosts, config.Host{Name: fmt.Sprintf("sim%05d", i),
			URI: fmt.Sprintf("qemu+tcp://sim%05d/system", i), Role: config.RoleActive, BMC: config.BMC{Type: config.BMCNone}})
	}
	return cfg
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rssKiB is this process's resident set size (0 if /proc cannot say).
func rssKiB() int64 {
	u, _ := fleet.ProcUsage(os.Getpid())
	return u.RSSKiB
}

// BenchmarkFleet watches a simulated fleet of 100 and 1,000 hosts (2 VMs each) behind the same
// hypervisor.Host interface as real hosts, and reports the daemon's CPU and memory per host
// watched, the time of one decide pass over every host, and the latency from a host's probes
// failing to its verdict changing. The 100-host run is the baseline for the 1,000-host one.
func BenchmarkFleet(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			f := fleet.New(2)
			cfg := fleetConfig(b.TempDir(), n)
			rss0 := rssKiB()
			d, err := New(context.Background(), cfg, Options{Dial: f.Dial})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- d.Run(ctx) }()
			defer func() { cancel(); <-done }()
			waitAll := func(state string) {
				deadline := time.Now().Add(2 * time.Minute)
				for {
					hs, _ := d.Hosts(ctx)
					ok := 0
					for _, h := range hs {
						if h.State == state {
							ok++
						}
					}
					if ok == n {
						return
					}
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d hosts %s", ok, n, state)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			waitAll("healthy")
			// Let the inventory of every host settle, then measure a steady window.
			time.Sleep(6 * time.Second)
			const window = 5 * time.Second
			cpu0 := cpuTime()
			time.Sleep(window)
			cpu := cpuTime() - cpu0
			rss := rssKiB() - rss0

			// Verdict latency: from a host's probes failing to its verdict leaving healthy.
			var worst, total time.Duration
			const samples = 5
			for i := 0; i < samples; i++ {
				h := f.Host(cfg.Hosts[i*(n/samples)].Name)
				start := time.Now()
				h.SetOutcome(hypervisor.ProbeTimeout)
				for {
					hs, _ := d.Hosts(ctx)
					if hs[i*(n/samples)].State != "healthy" {
						break
					}
					time.Sleep(time.Millisecond)
				}
				lat := time.Since(start) - cfg.Timings.SuspectAfter.D()
				total += lat
				worst = max(worst, lat)
				h.SetOutcome(hypervisor.ProbeOK)
			}

			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.decideAll(ctx)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpu.Microseconds())/float64(n)/window.Seconds()/1000, "cpu-ms/host/s")
			b.ReportMetric(float64(rss)/float64(n), "rss-KiB/host")
			b.ReportMetric(float64(total.Milliseconds())/samples, "verdict-latency-ms")
			b.ReportMetric(float64(worst.Milliseconds()), "verdict-latency-max-ms")
		})
	}
}
