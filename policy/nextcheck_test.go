package policy

import (
	"math/rand/v2"
	"testing"
	"time"
)

// grid is a random instant near the detector's thresholds: whole and half seconds, a few
// nanoseconds either side of them, and the odd minute (flap windows, stale readings).
func grid(r *rand.Rand) time.Duration {
	d := time.Duration(r.IntN(40)) * 500 * time.Millisecond
	if r.IntN(5) == 0 {
		d = time.Duration(r.IntN(12)) * time.Minute
	}
	return d + time.Duration(r.IntN(3)-1)
}

// randomCase is a host at a random moment: a random previous verdict and flap history, and
// random libvirt, BMC, guest, lease, health, fence and operator signals.
func randomCase(r *rand.Rand) (DetectorConfig, Track, Signals, time.Time) {
	cfg := testCfg()
	cfg.FlapWindow = time.Duration(1+r.IntN(10)) * time.Minute
	cfg.FlapThreshold = r.IntN(3)
	if r.IntN(2) == 0 {
		cfg.PartitionPolicy = PartitionFence
	}
	now := at(10*time.Minute + grid(r))
	back := func() time.Time { return now.Add(-grid(r)) }
	states := []HostState{"", Healthy, Suspect, Unreachable, Degraded, Failed, Fenced, Recovering, Maintenance, Unknown, Partitioned}
	prev := Track{State: states[r.IntN(len(states))], Since: back()}
	prev.Reason = []Reason{ReasonLibvirtOK, ReasonLibvirtLost, ReasonNoObservation, ReasonUnreachable, ReasonPowerOff}[r.IntN(5)]
	for i := r.IntN(6); i > 0; i-- {
		prev.BadSpells = append(prev.BadSpells, back())
	}
	var s Signals
	s.Host = "h1"
	switch r.IntN(4) {
	case 0:
	case 1:
		s.Libvirt = LibvirtSignal{Result: ProbeOK, OKSince: back(), RTT: time.Millisecond}
		if r.IntN(4) == 0 {
			s.Libvirt.OKSince = time.Time{}
		}
	default:
		s.Libvirt = LibvirtSignal{Result: []ProbeResult{ProbeTimeout, ProbeRefused, ProbeError}[r.IntN(3)], FailingSince: back()}
	}
	if r.IntN(3) > 0 {
		s.BMC = BMCSignal{Configured: true, Reachable: r.IntN(4) > 0, At: back(), Power: []Power{PowerOn, PowerOff, PowerUnknown}[r.IntN(3)]}
	}
	if r.IntN(2) == 0 {
		s.Guests = GuestSignal{Configured: true, Known: r.IntN(3)}
		if r.IntN(3) > 0 {
			s.Guests.At, s.Guests.Answering = back(), r.IntN(s.Guests.Known+1)
		}
	}
	if r.IntN(3) == 0 {
		s.Lease = LeaseSignal{Configured: true, Known: 2, Held: r.IntN(3)}
	}
	if r.IntN(5) == 0 {
		s.Health = HealthVerdict{Degraded: true, Clearing: r.IntN(2) == 0, Top: Observation{Source: SourceBMC, Severity: SeverityCritical}}
	}
	if r.IntN(6) == 0 {
		s.FencedAt, s.ConfirmedOff = back(), r.IntN(2) == 0
	}
	s.Operator.Maintenance = r.IntN(10) == 0
	return cfg, prev, s, now
}

// TestNextCheckHoldsTheVerdict is the property the daemon relies on to decide a host only when
// its signals change or its next check comes: for random hosts, Decide at any instant strictly
// before NextCheck gives the verdict (state and reason) it gave at now, on the track it returned.
// And the next check is not wasted: at it, or at the latest just after the next threshold, the
// verdict changes in a good share of the cases.
func TestNextCheckHoldsTheVerdict(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 2))
	const hosts = 20000
	changedAtCheck, timed := 0, 0
	for i := 0; i < hosts; i++ {
		cfg, prev, s, now := randomCase(r)
		v, tr := Decide(cfg, prev, s, now)
		next := NextCheck(cfg, tr, s, now)
		if !next.IsZero() && !next.After(now) {
			t.Fatalf("case %d: next check %s is not after now %s", i, next, now)
		}
		end := next
		if end.IsZero() {
			end = now.Add(30 * time.Minute) // never: no change within a long while
		}
		probe := []time.Time{now, end.Add(-1), now.Add(end.Sub(now) / 2)}
		for k := 0; k < 8; k++ {
			probe = append(probe, now.Add(time.Duration(r.Int64N(int64(end.Sub(now))))))
		}
		for _, when := range probe {
			if !when.Before(end) {
				continue
			}
			w, _ := Decide(cfg, tr, s, when)
			if w.State != v.State || w.Reason != v.Reason {
				t.Fatalf("case %d: %s/%s at now (%s), but %s/%s at %s, before the next check %s\ncfg %+v\ntrack %+v\nsignals %+v",
					i, v.State, v.Reason, now, w.State, w.Reason, when, next, cfg, tr, s)
			}
		}
		if !next.IsZero() {
			timed++
			if w, _ := Decide(cfg, tr, s, next); w.State != v.State || w.Reason != v.Reason {
				changedAtCheck++
			}
		}
	}
	if timed == 0 || changedAtCheck == 0 {
		t.Fatalf("of %d random hosts, %d had a next check and %d changed at it", hosts, timed, changedAtCheck)
	}
	t.Logf("of %d random hosts, %d had a next check; at it, the verdict changed for %d", hosts, timed, changedAtCheck)
}

// TestNextCheckTimesTheChange names the time-driven changes that matter, and checks that the
// next check falls exactly when the verdict changes.
func TestNextCheckTimesTheChange(t *testing.T) {
	cfg := testCfg() // suspect 1 s, unreachable 3 s, stable 5 s, BMC stale 10 s, guests stale 3 s
	cases := []struct {
		name   string
		prev   Track
		s      Signals
		now    time.Duration
		next   time.Duration // from t0; 0: never
		before HostState
		after  HostState
	}{
		{"a failing probe makes a healthy host suspect after suspect_after", Track{State: Healthy, Reason: ReasonLibvirtOK},
			Signals{Libvirt: lostLibvirt(ProbeTimeout, 0)}, 200 * time.Millisecond, time.Second, Healthy, Suspect},
		{"a suspect host is unreachable after unreachable_after", Track{State: Suspect, Reason: ReasonLibvirtLost},
			Signals{Libvirt: lostLibvirt(ProbeTimeout, 0)}, 1500 * time.Millisecond, 3 * time.Second, Suspect, Unreachable},
		{"waiting for the first guest reading ends after guest_stale_after", Track{State: Suspect, Reason: ReasonAwaitingGuests},
			Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), Guests: GuestSignal{Configured: true}}, 3500 * time.Millisecond, 6 * time.Second, Suspect, Unreachable},
		{"a partitioned host whose guest reading goes stale", Track{State: Partitioned, Reason: ReasonGuestsAlive},
			Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), Guests: GuestSignal{Configured: true, At: at(6 * time.Second), Known: 2, Answering: 1}},
			7 * time.Second, 9*time.Second + 1, Partitioned, Unreachable},
		{"a BMC power-off proves death only while fresh", Track{State: Failed, Reason: ReasonPowerOff},
			Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: bmcAt(PowerOff, HealthOK, 4*time.Second)},
			5 * time.Second, 14*time.Second + 1, Failed, Unreachable},
		{"a recovering host is healthy after stable_for", Track{State: Recovering, Reason: ReasonStabilising},
			Signals{Libvirt: okLibvirt(10 * time.Second)}, 11 * time.Second, 15 * time.Second, Recovering, Healthy},
		{"a flapping host needs a longer stable period", Track{State: Recovering, Reason: ReasonStabilising, BadSpells: []time.Time{at(-time.Minute), at(-30 * time.Second), at(0)}},
			Signals{Libvirt: okLibvirt(10 * time.Second)}, 11 * time.Second, 20 * time.Second, Recovering, Healthy},
		{"a spell leaving the flap window shortens the stable period", Track{State: Recovering, Reason: ReasonStabilising, BadSpells: []time.Time{at(-10*time.Minute + 17*time.Second), at(-30 * time.Second), at(0)}},
			Signals{Libvirt: okLibvirt(10 * time.Second)}, 16 * time.Second, 17*time.Second + 1, Recovering, Healthy},
		{"a healthy host stays healthy", Track{State: Healthy, Reason: ReasonLibvirtOK}, Signals{Libvirt: okLibvirt(0)}, time.Hour, 0, Healthy, Healthy},
		{"a fenced host stays fenced", Track{State: Fenced, Reason: ReasonFenceVerified},
			Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), FencedAt: at(5 * time.Second)}, 6 * time.Second, 0, Fenced, Fenced},
		{"an unreachable host stays unreachable", Track{State: Unreachable, Reason: ReasonUnreachable},
			Signals{Libvirt: lostLibvirt(ProbeTimeout, 0), BMC: BMCSignal{Configured: true, Err: "timeout"}}, 4 * time.Second, 0, Unreachable, Unreachable},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.s.Host = "h1"
			v, tr := Decide(cfg, c.prev, c.s, at(c.now))
			if v.State != c.before {
				t.Fatalf("verdict at now %s, want %s", v.State, c.before)
			}
			next := NextCheck(cfg, tr, c.s, at(c.now))
			if c.next == 0 {
				if !next.IsZero() {
					t.Fatalf("next check %s, want never", next.Sub(t0))
				}
				return
			}
			if !next.Equal(at(c.next)) {
				t.Fatalf("next check at %s, want %s", next.Sub(t0), c.next)
			}
			if w, _ := Decide(cfg, tr, c.s, next.Add(-1)); w.State != c.before {
				t.Fatalf("just before the next check %s, want %s", w.State, c.before)
			}
			if w, _ := Decide(cfg, tr, c.s, next); w.State != c.after {
				t.Fatalf("at the next check %s, want %s", w.State, c.after)
			}
		})
	}
}

// TestHealthNextCheckHoldsTheScore: for random observations and tracks, ScoreHealth at any
// instant strictly before HealthNextCheck gives the health verdict of now as the detector reads
// it (degraded, clearing, score, the top observation's source and severity).
func TestHealthNextCheckHoldsTheScore(t *testing.T) {
	r := rand.New(rand.NewPCG(14, 3))
	cfg := HealthConfig{DegradeScore: 100, ClearScore: 50, ClearAfter: 10 * time.Second}
	changed := 0
	for i := 0; i < 20000; i++ {
		now := at(time.Hour + grid(r))
		var obs []Observation
		for k := r.IntN(4); k > 0; k-- {
			o := Observation{Source: []string{SourceBMC, SourceLibvirt, SourceAlertmanager}[r.IntN(3)], Key: string(rune('a' + r.IntN(5))),
				Severity: []Severity{SeverityWarning, SeverityCritical}[r.IntN(2)]}
			if r.IntN(3) > 0 {
				o.Expires = now.Add(grid(r) - 5*time.Second)
			}
			obs = append(obs, o)
		}
		prev := HealthTrack{Degraded: r.IntN(2) == 0}
		if prev.Degraded {
			prev.Since = now.Add(-time.Minute)
			if r.IntN(2) == 0 {
				prev.BelowSince = now.Add(-grid(r) / 4)
			}
		}
		v, tr := ScoreHealth(cfg, prev, obs, now)
		next := HealthNextCheck(cfg, tr, obs, now)
		end := next
		if end.IsZero() {
			end = now.Add(time.Hour)
		}
		for _, when := range []time.Time{now, end.Add(-1), now.Add(time.Duration(r.Int64N(int64(end.Sub(now)))))} {
			if !when.Before(end) {
				continue
			}
			w, _ := ScoreHealth(cfg, tr, obs, when)
			if w.Degraded != v.Degraded || w.Clearing != v.Clearing || w.Score != v.Score || w.Top.Source != v.Top.Source || w.Top.Severity != v.Top.Severity {
				t.Fatalf("case %d: health %+v at now, but %+v at %s, before the next check %s", i, v, w, when.Sub(now), next.Sub(now))
			}
		}
		if !next.IsZero() {
			if w, _ := ScoreHealth(cfg, tr, obs, next); w.Degraded != v.Degraded || w.Score != v.Score || w.Clearing != v.Clearing {
				changed++
			}
		}
	}
	if changed == 0 {
		t.Fatal("no health verdict changed at its next check")
	}
}
