package policy

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func okLibvirt(since time.Duration) LibvirtSignal {
	return LibvirtSignal{Result: ProbeOK, At: at(since), LastOK: at(since), OKSince: at(since), RTT: time.Millisecond}
}

func lostLibvirt(r ProbeResult, since time.Duration) LibvirtSignal {
	return LibvirtSignal{Result: r, FailingSince: at(since), LastOK: at(since)}
}

func bmcAt(p Power, h Health, when time.Duration) BMCSignal {
	return BMCSignal{Configured: true, Reachable: true, Power: p, Health: h, At: at(when)}
}

func testCfg() DetectorConfig {
	c := DefaultDetectorConfig()
	c.StableFor = 5 * time.Second
	return c
}

func TestDecideScenarios(t *testing.T) {
	cases := []struct {
		name   string
		prev   HostState
		s      Signals
		now    time.Duration
		want   HostState
		reason Reason
		cites  []string
	}{
		{"first probe ok", "", Signals{Libvirt: okLibvirt(0)}, time.Second, Healthy, ReasonLibvirtOK, nil},
		{"nothing yet", "", Signals{}, 0, Unknown, ReasonNoObservation, nil},
		{"first probe after start is healthy at once", Unknown, Signals{Libvirt: okLibvirt(0)}, 100 * time.Millisecond, Healthy, ReasonLibvirtOK, nil},
		{"one failed probe keeps healthy", Healthy, Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: bmcAt(PowerOn, HealthOK, 0)}, 500 * time.Millisecond, Healthy, ReasonLibvirtOK, nil},
		{"suspect after a second", Healthy, Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: bmcAt(PowerOn, HealthOK, 0)}, 1500 * time.Millisecond, Suspect, ReasonLibvirtLost, nil},
		{"power off is failed at once", Healthy, Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: bmcAt(PowerOff, HealthOK, 200*time.Millisecond)}, 300 * time.Millisecond, Failed, ReasonPowerOff, []string{"power off", "libvirt lost"}},
		{"stale BMC off is no proof", Healthy, Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: bmcAt(PowerOff, HealthOK, -time.Minute)}, 4 * time.Second, Unreachable, ReasonUnreachable, []string{"stale"}},
		{"partition with leases held", Suspect, Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: bmcAt(PowerOn, HealthOK, 3*time.Second), Lease: LeaseSignal{Configured: true, Known: 2, Held: 2}}, 4 * time.Second, Unreachable, ReasonUnreachableLeases, []string{"2 of 2"}},
		{"partition, BMC dead too", Suspect, Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: BMCSignal{Configured: true, Err: "timeout"}}, 4 * time.Second, Unreachable, ReasonUnreachable, []string{"BMC unreachable"}},
		{"libvirtd crash is unknown, not failed", Suspect, Signals{Libvirt: lostLibvirt(ProbeRefused, 0), BMC: bmcAt(PowerOn, HealthOK, 3*time.Second), Lease: LeaseSignal{Configured: true, Known: 1, Held: 1}}, 4 * time.Second, Unknown, ReasonLibvirtdDown, []string{"host answers", "1 of 1"}},
		{"degraded by BMC health", Healthy, Signals{Libvirt: okLibvirt(0), BMC: BMCSignal{Configured: true, Reachable: true, Power: PowerOn, Health: HealthCritical, Reason: "PSU 2 lost", At: at(time.Second)},
			Health: HealthVerdict{Degraded: true, Score: 100, Top: Observation{Source: SourceBMC, Severity: SeverityCritical, Reason: "PSU 2 lost"}, Message: "health score 100: bmc critical: PSU 2 lost"}}, 2 * time.Second, Degraded, ReasonHealthCritical, []string{"PSU 2 lost"}},
		{"maintenance wins", Failed, Signals{Operator: OperatorSignal{Maintenance: true}}, 0, Maintenance, ReasonMaintenance, nil},
		{"fenced", Failed, Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), FencedAt: at(time.Second)}, 2 * time.Second, Fenced, ReasonFenceVerified, nil},
		{"back but not yet stable", Failed, Signals{Libvirt: okLibvirt(10 * time.Second)}, 12 * time.Second, Recovering, ReasonStabilising, nil},
		{"failed host powered on, libvirt not yet up, stays failed", Failed, Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: bmcAt(PowerOn, HealthOK, 1500*time.Millisecond)}, 2 * time.Second, Failed, ReasonLibvirtOK, []string{"still fails"}},
		{"back and stable", Recovering, Signals{Libvirt: okLibvirt(10 * time.Second)}, 16 * time.Second, Healthy, ReasonLibvirtOK, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			prev := Track{State: c.prev, Reason: ReasonLibvirtOK}
			if c.prev == Unknown {
				prev.Reason = ReasonNoObservation
			}
			if c.prev == "" {
				prev = Track{}
			}
			v, _ := Decide(testCfg(), prev, c.s, at(c.now))
			if v.State != c.want || v.Reason != c.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s", v.State, v.Reason, v.Message, c.want, c.reason)
			}
			if v.Message == "" || v.Rule == "" {
				t.Errorf("verdict without message or rule: %+v", v)
			}
			for _, want := range c.cites {
				if !strings.Contains(v.Message, want) {
					t.Errorf("message %q does not cite %q", v.Message, want)
				}
			}
		})
	}
}

// A partition never becomes failed, however long it lasts, while the BMC says on.
func TestPartitionNeverFailed(t *testing.T) {
	tr := Track{State: Healthy}
	for d := time.Duration(0); d < 10*time.Minute; d += 500 * time.Millisecond {
		s := Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: bmcAt(PowerOn, HealthOK, d), Lease: LeaseSignal{Configured: true, Known: 1, Held: 1}}
		var v Verdict
		v, tr = Decide(testCfg(), tr, s, at(d))
		if v.State == Failed || v.State == Fenced {
			t.Fatalf("at %s a partitioned host is %s", d, v.State)
		}
	}
	if tr.State != Unreachable {
		t.Fatalf("after 10 minutes of partition the host is %s, want unreachable", tr.State)
	}
}

// A flapping host must show longer and longer stable periods before it is healthy again.
func TestFlappingIsDamped(t *testing.T) {
	cfg := testCfg()
	tr := Track{State: Healthy}
	now := time.Duration(0)
	var needs []time.Duration
	for flap := 0; flap < 5; flap++ {
		// 5 s of partition, then back.
		down := now
		for ; now < down+5*time.Second; now += 500 * time.Millisecond {
			_, tr = Decide(cfg, tr, Signals{Libvirt: lostLibvirt(ProbeTimeout, down), BMC: bmcAt(PowerOn, HealthOK, now)}, at(now))
		}
		up := now
		for {
			var v Verdict
			v, tr = Decide(cfg, tr, Signals{Libvirt: okLibvirt(up), BMC: bmcAt(PowerOn, HealthOK, now)}, at(now))
			if v.State == Healthy {
				break
			}
			now += 500 * time.Millisecond
		}
		needs = append(needs, now-up)
	}
	if needs[len(needs)-1] <= needs[0] {
		t.Fatalf("stable periods did not grow with flapping: %v", needs)
	}
	t.Logf("stable periods per flap: %v", needs)
}

func TestDecideIsDeterministic(t *testing.T) {
	s := Signals{Host: "h1", Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: bmcAt(PowerOn, HealthOK, 3*time.Second)}
	a, _ := Decide(testCfg(), Track{State: Suspect}, s, at(4*time.Second))
	b, _ := Decide(testCfg(), Track{State: Suspect}, s, at(4*time.Second))
	if a != b {
		t.Fatalf("same inputs, different verdicts: %+v vs %+v", a, b)
	}
}
