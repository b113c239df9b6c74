package policy

import (
	"fmt"
	"time"
)

// DetectorConfig tunes the failure detector.
type DetectorConfig struct {
	// SuspectAfter: libvirt failing this long makes a host suspect.
	SuspectAfter time.Duration
	// UnreachableAfter: libvirt failing this long makes a host unreachable (or unknown, when the
	// host itself still answers).
	UnreachableAfter time.Duration
	// StableFor: after a bad state, libvirt must answer this long before the host is healthy again.
	StableFor time.Duration
	// FlapWindow and FlapThreshold damp flapping: each bad spell within the window beyond the
	// threshold doubles the stable period, up to MaxStableFor.
	FlapWindow    time.Duration
	FlapThreshold int
	MaxStableFor  time.Duration
	// BMCStaleAfter: a BMC reading older than this is not trusted as proof of anything.
	BMCStaleAfter time.Duration
	// PartitionPolicy says what a host whose libvirt timed out becomes while its guests still
	// answer on their own network: partitioned (wait-for-guests, the default) or unreachable and
	// fenced (fence).
	PartitionPolicy PartitionPolicy
	// GuestStaleAfter: a guest-liveness reading older than this proves nothing. While no fresh
	// reading exists yet, a host whose guests are watched stays suspect for at most this long
	// past UnreachableAfter.
	GuestStaleAfter time.Duration
}

// PartitionPolicy is what the detector makes of a host cut off from management whose guests
// still answer.
type PartitionPolicy string

// Partition policies.
const (
	// PartitionWaitForGuests: while guests of the host answer on their own network, the host is
	// partitioned, never fenced; unreachable as soon as none answers.
	PartitionWaitForGuests PartitionPolicy = "wait-for-guests"
	// PartitionFence: guest liveness is ignored; a host whose libvirt timed out is unreachable
	// and fenced.
	PartitionFence PartitionPolicy = "fence"
)

// DefaultDetectorConfig are the detector's defaults.
func DefaultDetectorConfig() DetectorConfig {
	return DetectorConfig{
		SuspectAfter:     time.Second,
		UnreachableAfter: 3 * time.Second,
		StableFor:        30 * time.Second,
		FlapWindow:       10 * time.Minute,
		FlapThreshold:    2,
		MaxStableFor:     10 * time.Minute,
		BMCStaleAfter:    10 * time.Second,
		PartitionPolicy:  PartitionWaitForGuests,
		GuestStaleAfter:  3 * time.Second,
	}
}

// Track is the detector's memory of one host between decisions. The caller keeps it; Decide
// returns the next one.
type Track struct {
	State  HostState
	Reason Reason
	Since  time.Time
	// BadSpells are the times the host entered a bad or degraded state (a bad spell), within the
	// flap window: the one measure of flapping, for the detector and for failback alike.
	BadSpells []time.Time
}

// Verdict is the detector's answer for one host, with its reason.
type Verdict struct {
	Host  string
	State HostState
	// Reason is a machine-readable code; Message a sentence for people; Rule the rule that fired.
	Reason  Reason
	Message string
	Rule    string
	Since   time.Time
	// Changed is set when State or Reason differ from the previous verdict.
	Changed bool
}

// isBad reports states after which a host must prove itself stable before it is healthy again.
func isBad(s HostState) bool {
	switch s {
	case Unreachable, Failed, Fenced, Unknown, Recovering, Partitioned:
		return true
	case Healthy, Suspect, Degraded, Maintenance:
		return false
	}
	return false
}

// Decide gives the verdict on one host from its signals at time now. It is pure: the same
// inputs always give the same verdict.
func Decide(cfg DetectorConfig, prev Track, s Signals, now time.Time) (Verdict, Track) {
	v := decide(cfg, prev, s, now)
	v.Host = s.Host
	next := prev
	next.BadSpells = pruneSpells(prev.BadSpells, now, cfg.FlapWindow)
	if v.State != prev.State || v.Reason != prev.Reason {
		v.Changed = true
	}
	if v.State != prev.State {
		next.Since = now
		if inSpell(v.State) && !inSpell(prev.State) && v.State != Recovering && v.Reason != ReasonNoObservation {
			next.BadSpells = append(next.BadSpells, now)
		}
	}
	if next.Since.IsZero() {
		next.Since = now
	}
	next.State, next.Reason = v.State, v.Reason
	v.Since = next.Since
	return v, next
}

// Spells counts a host's bad spells within the flap window.
func Spells(cfg DetectorConfig, t Track, now time.Time) int {
	return len(pruneSpells(t.BadSpells, now, cfg.FlapWindow))
}

// inSpell reports the states of a bad spell, the one flap-damping measure: a spell begins when
// a host goes bad or degraded and ends when it is healthy again. The detector stretches the
// stable period of a host with many spells; failback waits longer for it.
func inSpell(s HostState) bool { return isBad(s) || s == Degraded }

func pruneSpells(spells []time.Time, now time.Time, window time.Duration) []time.Time {
	out := spells[:0:0]
	for _, t := range spells {
		if now.Sub(t) <= window {
			out = append(out, t)
		}
	}
	return out
}

// stableFor is the stable period a recovering host must show, longer for a flapping host.
func stableFor(cfg DetectorConfig, spells int) time.Duration {
	d := cfg.StableFor
	for i := cfg.FlapThreshold; i < spells && d < cfg.MaxStableFor; i++ {
		d *= 2
	}
	if cfg.MaxStableFor > 0 && d > cfg.MaxStableFor {
		d = cfg.MaxStableFor
	}
	return d
}

func decide(cfg DetectorConfig, prev Track, s Signals, now time.Time) Verdict {
	lv := s.Libvirt
	bmcFresh := s.BMC.Configured && s.BMC.Reachable && now.Sub(s.BMC.At) <= cfg.BMCStaleAfter
	if s.Operator.Maintenance {
		return verdict(Maintenance, ReasonMaintenance, "an operator put the host in maintenance", RuleMaintenance)
	}
	if !s.FencedAt.IsZero() && lv.Result != ProbeOK {
		if s.ConfirmedOff {
			return verdict(Fenced, ReasonConfirmedOff,
				fmt.Sprintf("an operator confirmed the host is off %s ago (not verified by a fence device)", roundAgo(now, s.FencedAt)), RuleConfirmedOff)
		}
		return verdict(Fenced, ReasonFenceVerified,
			fmt.Sprintf("the host was fenced (power-off verified) %s ago", roundAgo(now, s.FencedAt)), RuleFenced)
	}
	if lv.Result == ProbeOK {
		if h := s.Health; h.Degraded {
			reason := ReasonHealthWarning
			switch {
			case h.Clearing:
				reason = ReasonHealthClearing
			case h.Top.Source == SourceOperator:
				reason = ReasonOperatorDegraded
			case h.Top.Severity == SeverityCritical:
				reason = ReasonHealthCritical
			}
			return verdict(Degraded, reason, h.Message, RuleDegraded)
		}
		if isBad(prev.State) && prev.Reason != ReasonNoObservation {
			need := stableFor(cfg, len(pruneSpells(prev.BadSpells, now, cfg.FlapWindow)))
			okFor := now.Sub(lv.OKSince)
			if lv.OKSince.IsZero() || okFor < need {
				return verdict(Recovering, ReasonStabilising,
					fmt.Sprintf("libvirt answers again (for %s); healthy after %s of stable answers", okFor.Round(100*time.Millisecond), need), RuleRecovering)
			}
		}
		return verdict(Healthy, ReasonLibvirtOK, fmt.Sprintf("libvirt answers (round trip %s)", lv.RTT.Round(100*time.Microsecond)), RuleHealthy)
	}
	if lv.Result == ProbeNone {
		return verdict(Unknown, ReasonNoObservation, "no probe of libvirt has finished yet", RuleNoObservation)
	}
	failing := now.Sub(lv.FailingSince)
	lost := fmt.Sprintf("libvirt lost for %s (%s)", failing.Round(100*time.Millisecond), lv.Result)
	if bmcFresh && s.BMC.Power == PowerOff {
		return verdict(Failed, ReasonPowerOff, "the BMC reports power off and "+lost, RuleFailed)
	}
	if isBad(prev.State) && prev.Reason != ReasonNoObservation && failing < cfg.UnreachableAfter {
		// A host already in a bad state does not look better (suspect) because its failure
		// changed shape, e.g. its BMC says on again while libvirt is still not back.
		return verdict(prev.State, prev.Reason, "libvirt still fails: "+lost+"; "+bmcDescription(s.BMC, bmcFresh), ruleFor(prev.State))
	}
	if failing < cfg.SuspectAfter {
		if prev.State == Suspect {
			return verdict(prev.State, prev.Reason, "libvirt still fails: "+lost, ruleFor(prev.State))
		}
		// One failed probe proves nothing: keep the verdict until SuspectAfter.
		if prev.State == "" {
			return verdict(Suspect, ReasonLibvirtLost, lost, RuleSuspect)
		}
		return Verdict{State: prev.State, Reason: prev.Reason, Message: "a probe failed (" + lost + "); not yet suspect", Rule: ruleFor(prev.State)}
	}
	if failing < cfg.UnreachableAfter {
		return verdict(Suspect, ReasonLibvirtLost, lost, RuleSuspect)
	}
	watchGuests := cfg.PartitionPolicy == PartitionWaitForGuests && s.Guests.Configured && lv.Result == ProbeTimeout
	guestsFresh := guestReadingFresh(cfg, s.Guests, lv, now)
	if watchGuests && !guestsFresh && failing < cfg.UnreachableAfter+cfg.GuestStaleAfter {
		// "Not yet probed" is no proof that the guests are dead: wait (a bounded while) for the
		// guest probe before a verdict that fences.
		return verdict(Suspect, ReasonAwaitingGuests, lost+"; waiting for the first probe of its guests' own network", RuleSuspect)
	}
	leases := ""
	if s.Lease.Configured && s.Lease.Known > 0 {
		leases = fmt.Sprintf("; its guests hold %d of %d disk leases", s.Lease.Held, s.Lease.Known)
	}
	bmc := bmcDescription(s.BMC, bmcFresh)
	switch lv.Result {
	case ProbeRefused, ProbeError:
		// The host's kernel answers: it is up, only libvirtd is not. Its guests may well run.
		return verdict(Unknown, ReasonLibvirtdDown, lost+", but the host answers on the network"+leases+"; "+bmc, RuleUnknown)
	case ProbeTimeout:
		if watchGuests && guestsFresh && s.Guests.Answering > 0 {
			return verdict(Partitioned, ReasonGuestsAlive, fmt.Sprintf("%s, but %d of %d of its guests answer on their own network (probed %s ago)%s; %s: only its management link is cut, so nothing is fenced or restarted while they answer",
				lost, s.Guests.Answering, s.Guests.Known, roundAgo(now, s.Guests.At), leases, bmc), RulePartitioned)
		}
		leases += guestDescription(s.Guests, watchGuests, guestsFresh)
		reason := ReasonUnreachable
		if s.Lease.Configured && s.Lease.Held > 0 {
			reason = ReasonUnreachableLeases
		}
		return verdict(Unreachable, reason, lost+leases+"; "+bmc+"; no proof of death: not failed", RuleUnreachable)
	case ProbeNone, ProbeOK:
	}
	return verdict(Unknown, ReasonNoObservation, lost, RuleUnknown)
}

func bmcDescription(b BMCSignal, fresh bool) string {
	switch {
	case !b.Configured:
		return "no BMC configured"
	case !b.Reachable:
		return "BMC unreachable (" + orDash(b.Err) + ")"
	case !fresh:
		return "BMC reading is stale"
	}
	return fmt.Sprintf("BMC reports power %s, health %s", orDash(string(b.Power)), orDash(string(b.Health)))
}

// guestReadingFresh reports whether the guest reading was taken during the current failure of
// libvirt and recently enough to count.
func guestReadingFresh(cfg DetectorConfig, g GuestSignal, lv LibvirtSignal, now time.Time) bool {
	return g.Configured && !g.At.IsZero() && !g.At.Before(lv.FailingSince) && now.Sub(g.At) <= cfg.GuestStaleAfter
}

// guestDescription says what the guest witness saw, for an unreachable verdict.
func guestDescription(g GuestSignal, watched, fresh bool) string {
	switch {
	case !watched:
		return ""
	case !fresh:
		return "; no fresh reading of its guests' own network"
	case g.Known == 0:
		return "; none of its guests has a probe address"
	}
	msg := fmt.Sprintf("; none of its %d probed guests answers on its own network", g.Known)
	if g.Err != "" {
		msg += " (" + g.Err + ")"
	}
	return msg
}

func verdict(s HostState, r Reason, msg, rule string) Verdict {
	return Verdict{State: s, Reason: r, Message: msg, Rule: rule}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func roundAgo(now, t time.Time) time.Duration { return now.Sub(t).Round(100 * time.Millisecond) }
