package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// lost reports hosts that are down as far as recovery is concerned: failed, unreachable, or
// fenced and not back.
func lost(h HostView) bool {
	switch h.Verdict.State {
	case Failed, Unreachable, Fenced:
		return true
	case Healthy, Suspect, Degraded, Recovering, Maintenance, Unknown, Partitioned:
	}
	return false
}

// cutOff reports a host that the controller reaches neither through libvirt nor through its
// BMC: what every host looks like when it is the controller that is cut off.
func cutOff(h HostView) bool {
	return h.Verdict.State == Unreachable && h.Libvirt == ProbeTimeout && h.BMCConfigured && !h.BMCReachable && h.BMCSilent
}

// massFailure applies the mass-failure rule and the controller-isolation rule, and returns the
// freeze that holds now, with a Freeze or Thaw action when it changed.
//
// Mass failure means "at once": only hosts that went bad within the mass-failure window count,
// as a share of the hosts that were up when the window began. Hosts fenced earlier and left off
// count in neither, so a later, independent failure is recovered. At least two hosts must have
// gone bad: a single failure never freezes (one active host and one spare fail over).
//
// Controller isolation: when more than half of the hosts (and at least two) are unreachable
// (libvirt timing out for unreachable_after) and their BMCs give no answer at all either, the likeliest cause is the controller's own network, so
// nothing is fenced.
//
// A freeze latches: it lasts while at least two of the hosts behind it are still lost, however
// long that takes, and ends when they come back.
func massFailure(s Snapshot, now time.Time) (Freeze, []Action) {
	cfg := s.Config
	start := now.Add(-cfg.MassFailureWindow)
	var recent, cut []string
	old := 0
	for _, h := range s.Hosts {
		if cutOff(h) {
			cut = append(cut, h.Name)
		}
		if !lost(h) {
			continue
		}
		fr := s.Guards.Fence(h.Name)
		if (fr.Outcome.Off() && fr.At.Before(start)) || (!h.BadSince.IsZero() && h.BadSince.Before(start)) {
			old++ // down before the window began: not part of this failure
			continue
		}
		recent = append(recent, h.Name)
	}
	upAtStart := len(s.Hosts) - old
	prev := s.Guards.Freeze
	next := prev
	switch {
	case len(cut) >= 2 && 2*len(cut) > len(s.Hosts):
		next = Freeze{Frozen: true, Reason: ReasonControllerCut, Since: since(prev, now), Hosts: union(prev.Hosts, cut),
			Message: fmt.Sprintf("controller isolated: %d of %d hosts answer neither libvirt nor their BMC (%s); the fault is likely this controller's network, so nothing is fenced or restarted",
				len(cut), len(s.Hosts), strings.Join(cut, ", "))}
	case len(recent) >= 2 && float64(len(recent)) > cfg.MassFailureFraction*float64(upAtStart):
		next = Freeze{Frozen: true, Reason: ReasonMassFailure, Since: since(prev, now), Hosts: union(prev.Hosts, recent),
			Message: fmt.Sprintf("mass failure: %d of %d hosts went bad within %s (%s), more than recovery.mass_failure_fraction %.2f; automatic recovery frozen until they come back or an operator confirms them off",
				len(recent), upAtStart, cfg.MassFailureWindow, strings.Join(recent, ", "), cfg.MassFailureFraction)}
	case prev.Frozen:
		// Latched: still frozen while two of its hosts are lost.
		var still []string
		for _, name := range prev.Hosts {
			if h, ok := s.Host(name); ok && (lost(h) || cutOff(h)) {
				still = append(still, name)
			}
		}
		if len(still) < 2 {
			next = Freeze{}
		}
	}
	var out []Action
	switch {
	case next.Frozen && (!prev.Frozen || !slices.Equal(prev.Hosts, next.Hosts) || prev.Reason != next.Reason):
		out = append(out, Action{Kind: ActFreeze, Hosts: next.Hosts, Reason: next.Reason, Message: next.Message})
	case !next.Frozen && prev.Frozen:
		out = append(out, Action{Kind: ActThaw, Hosts: prev.Hosts, Reason: ReasonRecovered,
			Message: fmt.Sprintf("automatic recovery resumed: of %s, at most one is still lost", strings.Join(prev.Hosts, ", "))})
	}
	return next, out
}

func since(prev Freeze, now time.Time) time.Time {
	if prev.Frozen {
		return prev.Since
	}
	return now
}

// union is a ∪ b, sorted.
func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	slices.Sort(out)
	return out
}
