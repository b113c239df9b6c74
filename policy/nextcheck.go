package policy

import "time"

// NextCheck says when, with no new signal, the detector's verdict on a host could change by time
// alone: the earliest threshold after now of the clocks the rule in force reads. Those clocks are
// suspect_after, unreachable_after and the wait for the first guest reading (all counted from
// the start of libvirt's failure), the BMC and guest readings going stale, the stable period of a
// recovering host, and its bad spells ageing out of the flap window (which can shorten that
// period). t is the track Decide returned at now; s the signals it decided on. The zero time
// means never: only a new signal can change the verdict. It may answer earlier than the verdict
// actually changes (the caller then decides again and asks again), never later: Decide gives the
// verdict of now at every instant before NextCheck. The health score has its own clock
// (HealthNextCheck); a change of the health verdict is a change of signal for the detector.
func NextCheck(cfg DetectorConfig, t Track, s Signals, now time.Time) time.Time {
	lv := s.Libvirt
	n := deadline{now: now}
	switch {
	case s.Operator.Maintenance:
		return n.at
	case !s.FencedAt.IsZero() && lv.Result != ProbeOK:
		return n.at
	case lv.Result == ProbeNone:
		return n.at
	case lv.Result == ProbeOK:
		if s.Health.Degraded || !isBad(t.State) || t.Reason == ReasonNoObservation || lv.OKSince.IsZero() {
			return n.at
		}
		// Recovering: healthy once libvirt has answered for the stable period, which shrinks as
		// bad spells leave the flap window.
		spells := pruneSpells(t.BadSpells, now, cfg.FlapWindow)
		n.consider(lv.OKSince.Add(stableFor(cfg, len(spells))))
		for _, sp := range spells {
			n.consider(sp.Add(cfg.FlapWindow + 1))
		}
		return n.at
	}
	// Libvirt fails: the verdict climbs with the failure's age, and proof of death (a fresh BMC
	// power-off) or life (fresh guest answers) counts only while it is fresh.
	fs := lv.FailingSince
	n.consider(fs.Add(cfg.SuspectAfter))
	n.consider(fs.Add(cfg.UnreachableAfter))
	if cfg.PartitionPolicy == PartitionWaitForGuests && s.Guests.Configured && lv.Result == ProbeTimeout {
		n.consider(fs.Add(cfg.UnreachableAfter + cfg.GuestStaleAfter))
	}
	if s.BMC.Configured && s.BMC.Reachable && now.Sub(s.BMC.At) <= cfg.BMCStaleAfter {
		n.consider(s.BMC.At.Add(cfg.BMCStaleAfter + 1))
	}
	if guestReadingFresh(cfg, s.Guests, lv, now) {
		n.consider(s.Guests.At.Add(cfg.GuestStaleAfter + 1))
	}
	return n.at
}

// HealthNextCheck says when, with no new observation, the health verdict ScoreHealth gave at now
// could change by time alone: an observation expiring, or a clearing host's hysteresis ending.
// t is the track ScoreHealth returned at now; obs the observations it scored. The zero time means
// never.
func HealthNextCheck(cfg HealthConfig, t HealthTrack, obs []Observation, now time.Time) time.Time {
	n := deadline{now: now}
	for _, o := range obs {
		if !o.Expires.IsZero() {
			n.consider(o.Expires)
		}
	}
	if t.Degraded && !t.BelowSince.IsZero() {
		n.consider(t.BelowSince.Add(cfg.ClearAfter))
	}
	return n.at
}

// EarliestCheck is the earlier of two next checks, where the zero time means never.
func EarliestCheck(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

// deadline keeps the earliest of the times considered that lies after now (zero: none).
type deadline struct {
	now time.Time
	at  time.Time
}

func (d *deadline) consider(t time.Time) {
	if t.After(d.now) {
		d.at = EarliestCheck(d.at, t)
	}
}
