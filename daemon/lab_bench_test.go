package daemon

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// BenchmarkLabDaemon runs the real lifeboat binary as a daemon against a 3-host lab and
// measures (1) its CPU and RSS while idle, watching the lab, and (2) the detection latency from a
// host's power loss to its `failed` verdict over repeated power cycles: median and maximum, and
// their ratio to vSphere HA's documented 15 s (the fastest of the anchors in ANCHORS.md).
func BenchmarkLabDaemon(b *testing.B) {
	testenv.RequireLab(b)
	bin := buildLifeboat(b)
	l := testenv.StartForTest(b, testenv.Options{Hosts: 3, VMs: 3, GuestKind: testenv.GuestBIOS})
	cfg, err := config.Load(l.ConfigPath())
	if err != nil {
		b.Fatal(err)
	}
	cfg.Timings.StableFor = config.Duration(time.Second)
	raw, _ := config.Marshal(cfg)
	cfgPath := filepath.Join(b.TempDir(), "lifeboat.yaml")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "daemon", "--config", cfgPath, "--store", filepath.Join(b.TempDir(), "bench.db"), "--log-level", "warn")
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	c, _ := api.NewClient(cfg.API.Listen, "")
	ctx := context.Background()
	state := func(host string) string {
		hs, err := c.Hosts(ctx)
		if err != nil {
			return "unreachable-api"
		}
		for _, h := range hs {
			if h.Name == host {
				return h.State
			}
		}
		return ""
	}
	waitFor := func(host, want string, within time.Duration) time.Duration {
		start := time.Now()
		for state(host) != want {
			if time.Since(start) > within {
				b.Fatalf("%s not %s after %s (is %s)", host, want, within, state(host))
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	for _, h := range l.Hosts() {
		waitFor(h.Name, "healthy", 20*time.Second)
	}

	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// Idle cost, watching 3 hosts and 3 guests.
		time.Sleep(2 * time.Second)
		u0, err := fleet.ProcUsage(cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		const window = 10 * time.Second
		time.Sleep(window)
		u, err := fleet.ProcUsage(cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		cpu, rss := u.CPU-u0.CPU, u.RSSKiB

		// Detection latency over repeated power losses of h1.
		var lat []time.Duration
		for r := 0; r < 5; r++ {
			if err := l.PowerOff(ctx, "h1"); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, waitFor("h1", "failed", 10*time.Second))
			if err := l.PowerOn(ctx, "h1"); err != nil {
				b.Fatal(err)
			}
			waitFor("h1", "healthy", 30*time.Second)
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		med, worst := lat[len(lat)/2], lat[len(lat)-1]
		b.ReportMetric(100*cpu.Seconds()/window.Seconds(), "idle-cpu-%")
		b.ReportMetric(float64(rss)/1024, "idle-rss-MiB")
		b.ReportMetric(float64(med.Milliseconds()), "detect-median-ms")
		b.ReportMetric(float64(worst.Milliseconds()), "detect-max-ms")
		b.ReportMetric(15/med.Seconds(), "x-faster-than-vsphere-15s")
		b.Logf("detection latencies: %v", lat)
	}
}
