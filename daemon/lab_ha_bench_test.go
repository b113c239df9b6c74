package daemon

import (
	"slices"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// BenchmarkLabHARecoveryLeaderKilled measures, side by side on the same lab, the time from a
// host's power loss to its guests running elsewhere: with one controller (single mode, its own
// store), and with two controllers on the lab's etcd whose leader is killed (SIGKILL) at the
// moment of the power loss, so the follower must take over before it recovers the host. Each run
// powers off the host that runs h1's guests, waits for them elsewhere, and powers it on again.
func BenchmarkLabHARecoveryLeaderKilled(b *testing.B) {
	l := testenv.StartForTest(b, testenv.Options{Hosts: 2, Standby: 1, VMs: 4, GuestKind: testenv.GuestBIOS, Etcd: 3})
	bin := buildLifeboat(b)
	gs := guestsOf(l, "h1")
	ctx := b.Context()
	// Recovery of the host that runs h1's guests now (they move with each run), under whatever
	// daemons run now; kill, when set, is called at the power loss.
	victim := "h1"
	recoverOnce := func(kill func()) time.Duration {
		on, _ := l.RunningOn(gs[0].Name)
		if len(on) != 1 {
			b.Fatalf("%s runs on %v", gs[0].Name, on)
		}
		victim = on[0]
		t0 := time.Now()
		if err := l.PowerOff(ctx, victim); err != nil {
			b.Fatal(err)
		}
		if kill != nil {
			kill()
		}
		waitElsewhere(b, l, gs, victim, 2*time.Minute)
		took := time.Since(t0)
		if err := l.PowerOn(ctx, victim); err != nil {
			b.Fatal(err)
		}
		return took
	}
	var single, ha []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// One controller, on its own embedded store (a fresh one each time: a fence window per run).
		cfg := labConfig(b, l)
		cfg.Recovery.FenceWindow = config.Duration(time.Second)
		one := startLabHADaemon(b, bin, withBbolt(cfg), "single")
		for deadline := time.Now().Add(time.Minute); one.controller() == nil; time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				b.Fatal("the single daemon does not answer")
			}
		}
		waitHostsAndVMs(b, l, one.client)
		single = append(single, recoverOnce(nil))
		waitState(b, one.client, victim, "healthy", 2*time.Minute)
		one.kill(b)

		// Two controllers on etcd; the leader dies with the host.
		base := labHABase(b, l)
		base.Recovery.FenceWindow = config.Duration(time.Second)
		ds := []*labHADaemon{startLabHADaemon(b, bin, base, "a"), startLabHADaemon(b, bin, base, "b")}
		leader, followers := oneLeader(b, ds, time.Minute)
		waitHostsAndVMs(b, l, leader.client)
		ha = append(ha, recoverOnce(func() { leader.kill(b) }))
		waitState(b, followers[0].client, victim, "healthy", 2*time.Minute)
		for _, d := range ds {
			d.kill(b)
		}
	}
	b.StopTimer()
	med := func(ds []time.Duration) time.Duration {
		s := slices.Clone(ds)
		slices.Sort(s)
		return s[len(s)/2]
	}
	b.ReportMetric(med(single).Seconds(), "rto-single-median-s")
	b.ReportMetric(med(ha).Seconds(), "rto-leader-killed-median-s")
	b.ReportMetric(med(ha).Seconds()/med(single).Seconds(), "leader-killed/single")
}

// withBbolt is cfg on an embedded store (single mode) instead of the lab's etcd.
func withBbolt(cfg config.Config) config.Config {
	cfg.Store.Backend = config.StoreBbolt
	return cfg
}
