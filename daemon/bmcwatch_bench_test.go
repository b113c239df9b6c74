package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/redfish"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// baselineSource reads a BMC the way the daemon did before sessions (bmc.BaselineRead).
type baselineSource struct {
	endpoint, system, user, password string
}

// Status implements bmcSource.
func (b baselineSource) Status(ctx context.Context) (redfish.Status, error) {
	p, err := bmc.BaselineRead(ctx, b.endpoint, b.system, b.user, b.password, 2*time.Second)
	return redfish.Status{Power: p}, err
}

// bmcCostScale shrinks time for BenchmarkBMCWatch: one simulated minute lasts 6 s.
const bmcCostScale = 10

// BenchmarkBMCWatch watches a fleet of simulated hosts (testenv/fleet), each with its own
// Redfish BMC emulator on a real HTTPS socket, through the real daemon loops, and counts what
// the watching costs each BMC per minute of steady state (every host healthy): HTTP requests
// and TLS handshakes. The baseline is the old watcher: a read every bmc_interval (1 s), each with
// a new TLS connection and basic auth. The new watcher reads every bmc_health_interval (30 s,
// ±10%) over one kept-alive connection and one session. Time runs bmcCostScale times faster
// (both intervals are divided by it) so a run takes seconds; the counts are per simulated
// minute.
func BenchmarkBMCWatch(b *testing.B) {
	const hosts = 5
	const minutes = 2
	run := func(b *testing.B, baseline bool) (reqs, hands float64) {
		cfg := fleetConfig(b.TempDir(), hosts)
		cfg.Recovery.Automatic = false
		t := config.Default().Timings
		cfg.Timings.BMCInterval = config.Duration(t.BMCInterval.D() / bmcCostScale)
		cfg.Timings.BMCHealthInterval = config.Duration(t.BMCHealthInterval.D() / bmcCostScale)
		if baseline {
			cfg.Timings.BMCHealthInterval = cfg.Timings.BMCInterval // the old loop read every bmc_interval
		}
		var srvs []*bmc.Server
		for i := range cfg.Hosts {
			s, _, entry := emulatedBMC(b, cfg.Hosts[i].Name)
			cfg.Hosts[i].BMC = entry
			srvs = append(srvs, s)
		}
		d, err := New(context.Background(), cfg, Options{Dial: fleet.New(1).Dial})
		if err != nil {
			b.Fatal(err)
		}
		if baseline {
			for i, w := range d.hosts {
				w.bmc = baselineSource{srvs[i].URL(), w.cfg.Name, "watch", "pw-" + w.cfg.Name}
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- d.Run(ctx) }()
		// Steady state: past the first read and login of every BMC.
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
			read := 0
			for _, s := range srvs {
				if s.Stats().Requests > 0 {
					read++
				}
			}
			if read == len(srvs) {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d BMCs read within a minute", read, len(srvs))
			}
		}
		time.Sleep(100 * time.Millisecond)
		var r0, h0 uint64
		for _, s := range srvs {
			st := s.Stats()
			r0, h0 = r0+st.Requests, h0+st.Handshakes
		}
		time.Sleep(minutes * time.Minute / bmcCostScale)
		var r1, h1 uint64
		for _, s := range srvs {
			st := s.Stats()
			r1, h1 = r1+st.Requests, h1+st.Handshakes
		}
		cancel()
		<-done
		per := float64(hosts * minutes)
		return float64(r1-r0) / per, float64(h1-h0) / per
	}
	for range b.N {
		oldReqs, oldHands := run(b, true)
		newReqs, newHands := run(b, false)
		b.ReportMetric(oldReqs, "baseline-requests/host/min")
		b.ReportMetric(oldHands, "baseline-handshakes/host/min")
		b.ReportMetric(newReqs, "requests/host/min")
		b.ReportMetric(newHands, "handshakes/host/min")
		b.ReportMetric(oldReqs/max(newReqs, 0.01), "requests-ratio")
		b.Logf("per host per minute of steady state: baseline %.1f requests, %.1f TLS handshakes; sessions and slow health polling %.2f requests, %.2f TLS handshakes",
			oldReqs, oldHands, newReqs, newHands)
	}
}
