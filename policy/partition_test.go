package policy

import (
	"strings"
	"testing"
	"time"
)

func guestsAt(known, answering int, when time.Duration) GuestSignal {
	return GuestSignal{Configured: true, At: at(when), Known: known, Answering: answering}
}

// The partition rule: a host cut off from management whose guests answer is partitioned, never
// unreachable (and so never fenced); without that proof it is unreachable as before.
func TestDecidePartitionScenarios(t *testing.T) {
	lost := lostLibvirt(ProbeTimeout, 0)
	on := func(d time.Duration) BMCSignal { return bmcAt(PowerOn, HealthOK, d) }
	cases := []struct {
		name   string
		policy PartitionPolicy
		prev   HostState
		s      Signals
		now    time.Duration
		want   HostState
		reason Reason
		cites  []string
	}{
		{"guests answer: partitioned", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lost, BMC: on(3 * time.Second), Guests: guestsAt(2, 2, 3*time.Second)}, 3500 * time.Millisecond,
			Partitioned, ReasonGuestsAlive, []string{"2 of 2", "nothing is fenced or restarted", "power on"}},
		{"one of two answers is enough", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lost, BMC: on(3 * time.Second), Guests: guestsAt(2, 1, 3*time.Second)}, 3500 * time.Millisecond,
			Partitioned, ReasonGuestsAlive, []string{"1 of 2"}},
		{"leases are cited too", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lost, BMC: on(3 * time.Second), Guests: guestsAt(1, 1, 3*time.Second), Lease: LeaseSignal{Configured: true, Known: 1, Held: 1}}, 3500 * time.Millisecond,
			Partitioned, ReasonGuestsAlive, []string{"1 of 1 disk leases"}},
		{"partitioned even with the BMC unreachable", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lost, BMC: BMCSignal{Configured: true, Err: "timeout"}, Guests: guestsAt(1, 1, 3*time.Second)}, 3500 * time.Millisecond,
			Partitioned, ReasonGuestsAlive, []string{"BMC unreachable"}},
		{"guests stop answering: unreachable", PartitionWaitForGuests, Partitioned,
			Signals{Libvirt: lost, BMC: on(9 * time.Second), Guests: guestsAt(2, 0, 9*time.Second)}, 9500 * time.Millisecond,
			Unreachable, ReasonUnreachable, []string{"none of its 2 probed guests answers"}},
		{"hung host (frozen guests answer nothing): unreachable", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lost, BMC: on(3 * time.Second), Guests: GuestSignal{Configured: true, At: at(3 * time.Second), Known: 2, Err: "10.0.0.5: no echo reply within 1s"}}, 3500 * time.Millisecond,
			Unreachable, ReasonUnreachable, []string{"none of its 2", "no echo reply"}},
		{"no guest has a probe address: unreachable", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lost, BMC: on(3 * time.Second), Guests: guestsAt(0, 0, 3*time.Second)}, 3500 * time.Millisecond,
			Unreachable, ReasonUnreachable, []string{"none of its guests has a probe address"}},
		{"policy fence ignores answering guests", PartitionFence, Suspect,
			Signals{Libvirt: lost, BMC: on(3 * time.Second), Guests: guestsAt(2, 2, 3*time.Second)}, 3500 * time.Millisecond,
			Unreachable, ReasonUnreachable, nil},
		{"guest witness not configured: unreachable", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lost, BMC: on(3 * time.Second)}, 3500 * time.Millisecond,
			Unreachable, ReasonUnreachable, nil},
		{"BMC power off wins over answering guests", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lost, BMC: bmcAt(PowerOff, HealthOK, 3*time.Second), Guests: guestsAt(1, 1, 3*time.Second)}, 3500 * time.Millisecond,
			Failed, ReasonPowerOff, nil},
		{"a verified fence wins", PartitionWaitForGuests, Partitioned,
			Signals{Libvirt: lost, FencedAt: at(4 * time.Second), Guests: guestsAt(1, 1, 4*time.Second)}, 4500 * time.Millisecond,
			Fenced, ReasonFenceVerified, nil},
		{"libvirtd down is unknown, guests or not", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lostLibvirt(ProbeRefused, 0), BMC: on(3 * time.Second), Guests: guestsAt(1, 1, 3*time.Second)}, 3500 * time.Millisecond,
			Unknown, ReasonLibvirtdDown, nil},
		{"stale reading proves nothing", PartitionWaitForGuests, Partitioned,
			Signals{Libvirt: lost, BMC: on(20 * time.Second), Guests: guestsAt(2, 2, 10*time.Second)}, 20 * time.Second,
			Unreachable, ReasonUnreachable, []string{"no fresh reading"}},
		{"a reading from before this failure proves nothing", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lostLibvirt(ProbeTimeout, 2*time.Second), BMC: on(5 * time.Second), Guests: guestsAt(2, 2, time.Second)}, 5500 * time.Millisecond,
			Suspect, ReasonAwaitingGuests, []string{"waiting for the first probe"}},
		{"no reading yet: suspect a while longer", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lost, BMC: on(3 * time.Second), Guests: GuestSignal{Configured: true}}, 3500 * time.Millisecond,
			Suspect, ReasonAwaitingGuests, nil},
		{"no reading within the grace: unreachable", PartitionWaitForGuests, Suspect,
			Signals{Libvirt: lost, BMC: on(6 * time.Second), Guests: GuestSignal{Configured: true}}, 6 * time.Second,
			Unreachable, ReasonUnreachable, []string{"no fresh reading"}},
		{"not yet unreachable_after: suspect", PartitionWaitForGuests, Healthy,
			Signals{Libvirt: lost, BMC: on(2 * time.Second), Guests: guestsAt(2, 2, 2*time.Second)}, 2 * time.Second,
			Suspect, ReasonLibvirtLost, nil},
		{"back: recovering, not healthy at once", PartitionWaitForGuests, Partitioned,
			Signals{Libvirt: okLibvirt(10 * time.Second), BMC: on(10 * time.Second)}, 11 * time.Second,
			Recovering, ReasonStabilising, nil},
		{"back and stable: healthy", PartitionWaitForGuests, Recovering,
			Signals{Libvirt: okLibvirt(10 * time.Second), BMC: on(16 * time.Second)}, 16 * time.Second,
			Healthy, ReasonLibvirtOK, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := testCfg()
			cfg.PartitionPolicy = c.policy
			v, _ := Decide(cfg, Track{State: c.prev, Reason: ReasonLibvirtLost}, c.s, at(c.now))
			if v.State != c.want || v.Reason != c.reason {
				t.Fatalf("got %s/%s (%s), want %s/%s", v.State, v.Reason, v.Message, c.want, c.reason)
			}
			if v.Rule != ruleFor(v.State) {
				t.Errorf("rule %q is not the rule of %s", v.Rule, v.State)
			}
			for _, want := range c.cites {
				if !strings.Contains(v.Message, want) {
					t.Errorf("message %q does not cite %q", v.Message, want)
				}
			}
		})
	}
}

// A 5 s management blip with the guests answering all along: the host goes suspect, then
// partitioned, never unreachable; once libvirt answers it recovers and is healthy after the stable
// period. The same timeline under policy fence is unreachable at unreachable_after.
func TestManagementBlipTimeline(t *testing.T) {
	for _, pol := range []PartitionPolicy{PartitionWaitForGuests, PartitionFence} {
		t.Run(string(pol), func(t *testing.T) {
			cfg := testCfg()
			cfg.PartitionPolicy = pol
			tr := Track{State: Healthy, Reason: ReasonLibvirtOK}
			seen := map[HostState]bool{}
			step := 250 * time.Millisecond
			cut, heal := time.Second, 6*time.Second
			for d := time.Duration(0); d < 20*time.Second; d += step {
				s := Signals{Libvirt: okLibvirt(0), BMC: bmcAt(PowerOn, HealthOK, d)}
				if d >= cut && d < heal {
					s.Libvirt = lostLibvirt(ProbeTimeout, cut)
					// The guest prober starts at the first failed probe and reads every 500 ms.
					if d >= cut+500*time.Millisecond {
						last := cut + (d-cut)/(500*time.Millisecond)*500*time.Millisecond
						s.Guests = guestsAt(2, 2, last)
					} else {
						s.Guests = GuestSignal{Configured: true}
					}
				} else if d >= heal {
					s.Libvirt = okLibvirt(heal)
				}
				var v Verdict
				v, tr = Decide(cfg, tr, s, at(d))
				seen[v.State] = true
			}
			if pol == PartitionWaitForGuests {
				if !seen[Partitioned] || seen[Unreachable] {
					t.Fatalf("states seen %v: want partitioned and never unreachable", seen)
				}
			} else if !seen[Unreachable] || seen[Partitioned] {
				t.Fatalf("states seen %v: want unreachable and never partitioned under policy fence", seen)
			}
			if !seen[Recovering] || tr.State != Healthy {
				t.Fatalf("after the blip the host is %s (states seen %v), want recovering then healthy", tr.State, seen)
			}
		})
	}
}

// A full partition: the guests stop answering while the management link is cut. The host is
// partitioned while they answered and unreachable from the first reading in which none does.
func TestGuestsStopAnsweringTimeline(t *testing.T) {
	cfg := testCfg()
	tr := Track{State: Suspect, Reason: ReasonLibvirtLost}
	lost := lostLibvirt(ProbeTimeout, 0)
	v, tr := Decide(cfg, tr, Signals{Libvirt: lost, Guests: guestsAt(2, 2, 3*time.Second)}, at(3200*time.Millisecond))
	if v.State != Partitioned {
		t.Fatalf("with both guests answering the host is %s: %s", v.State, v.Message)
	}
	v, _ = Decide(cfg, tr, Signals{Libvirt: lost, Guests: guestsAt(2, 0, 8*time.Second)}, at(8100*time.Millisecond))
	if v.State != Unreachable || !v.Changed {
		t.Fatalf("with no guest answering the host is %s (changed %v): %s", v.State, v.Changed, v.Message)
	}
}

// Partitioned is a bad state: it counts as a bad spell for flap damping, so a flapping
// management link earns longer stable periods.
func TestPartitionIsABadSpell(t *testing.T) {
	cfg := testCfg()
	_, tr := Decide(cfg, Track{State: Suspect, Reason: ReasonLibvirtLost}, Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), Guests: guestsAt(1, 1, 3*time.Second)}, at(3200*time.Millisecond))
	if tr.State != Partitioned || len(tr.BadSpells) != 1 {
		t.Fatalf("track %+v: want partitioned with one bad spell", tr)
	}
}
