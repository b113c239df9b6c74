package policy

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// GuestFaultKind is what went wrong inside a VM whose host is fine.
type GuestFaultKind string

// Guest fault kinds.
const (
	// GuestPanicked: the guest kernel panicked and told QEMU through its pvpanic device (QMP
	// run state guest-panicked; libvirt state crashed/panicked with on_crash preserve).
	GuestPanicked GuestFaultKind = "guest_panicked"
	// GuestInternalError: QEMU stopped the guest on an emulation error it cannot go on from (QMP
	// run state internal-error; libvirt shows the domain paused for an unknown reason).
	GuestInternalError GuestFaultKind = "guest_internal_error"
	// GuestCrashedOff: libvirt shut the domain off because its guest crashed (on_crash destroy).
	GuestCrashedOff GuestFaultKind = "guest_crashed_off"
)

// Words is the fault in a few words for a sentence.
func (k GuestFaultKind) Words() string {
	switch k {
	case GuestPanicked:
		return "panicked"
	case GuestInternalError:
		return "stopped on an internal error"
	case GuestCrashedOff:
		return "crashed and was shut off"
	}
	return string(k)
}

// Reason is the action reason of an in-place restart for this fault (the same code).
func (k GuestFaultKind) Reason() ActionReason { return ActionReason(k) }

// GuestFault is one VM seen in a fault state on a host, with what proved it.
type GuestFault struct {
	VM, UUID, Host string
	Kind           GuestFaultKind
	// Seen is when the fault was observed (the inventory that showed it); Detail is the
	// evidence, e.g. "libvirt crashed/panicked, QMP status guest-panicked".
	Seen   time.Time
	Detail string
}

// GuestResetConfig tunes VM-level monitoring: a protected VM whose guest crashed on a healthy
// host is restarted in place, at most MaxResets times in Window (vSphere HA's "maximum per-VM
// resets" and "maximum resets time window").
type GuestResetConfig struct {
	Enabled   bool
	MaxResets int
	Window    time.Duration
}

// ResetOutcome is where a VM's latest in-place restart stands.
type ResetOutcome string

// Reset outcomes.
const (
	ResetInFlight ResetOutcome = "in_flight"
	ResetDone     ResetOutcome = "done"
	ResetFailed   ResetOutcome = "failed"
)

// GuestReset is the durable memory of a VM's in-place restarts: it keeps the rate limit across
// controller restarts.
type GuestReset struct {
	VM   string `json:"vm"`
	UUID string `json:"uuid"`
	Host string `json:"host"`
	// Times are the restarts within the window, oldest first (older ones are dropped when the
	// record is written).
	Times []time.Time `json:"times"`
	// Kind is the fault behind the latest restart; Outcome how it ended, At when, Detail why
	// it failed.
	Kind    GuestFaultKind `json:"kind"`
	Outcome ResetOutcome   `json:"outcome"`
	At      time.Time      `json:"at"`
	Detail  string         `json:"detail,omitempty"`
}

// Last is when the latest restart began (zero: none).
func (r GuestReset) Last() time.Time {
	if len(r.Times) == 0 {
		return time.Time{}
	}
	return r.Times[len(r.Times)-1]
}

// Within counts the restarts in the window that ends now.
func (r GuestReset) Within(window time.Duration, now time.Time) int {
	n := 0
	for _, t := range r.Times {
		if now.Sub(t) < window {
			n++
		}
	}
	return n
}

// Record returns the record after one more restart that begins now: older restarts than the
// window are dropped.
func (r GuestReset) Record(f GuestFault, window time.Duration, now time.Time) GuestReset {
	out := GuestReset{VM: f.VM, UUID: f.UUID, Host: f.Host, Kind: f.Kind, Outcome: ResetInFlight, At: now}
	for _, t := range r.Times {
		if now.Sub(t) < window {
			out.Times = append(out.Times, t)
		}
	}
	out.Times = append(out.Times, now)
	return out
}

// canResetOn reports whether a host is in a state where its VMs' own faults are handled in
// place: its libvirt answers, and it is not on its way to being fenced.
func canResetOn(h HostView) bool {
	if h.Libvirt != ProbeOK {
		return false
	}
	switch h.Verdict.State {
	case Healthy, Degraded, Maintenance, Recovering:
		return true
	}
	return false
}

// guestResets decides what happens to VMs whose guest crashed on a host that is fine: restart
// in place, or hold and say why. It also forgets reset records whose window has passed.
func guestResets(s Snapshot, now time.Time) []Action {
	cfg := s.Config.GuestResets
	vms := make(map[string]VMView, len(s.GuestFaults)) // the crashed ones: a fleet has 100,000 VMs
	if len(s.GuestFaults) > 0 {
		want := make(map[string]bool, len(s.GuestFaults))
		for _, f := range s.GuestFaults {
			want[f.UUID] = true
		}
		for _, vm := range s.VMs {
			if want[vm.UUID] {
				vms[vm.UUID] = vm
			}
		}
	}
	faults := slices.Clone(s.GuestFaults)
	sort.Slice(faults, func(i, j int) bool { return faults[i].VM < faults[j].VM })
	var out []Action
	faulted := map[string]bool{}
	for _, f := range faults {
		faulted[f.UUID] = true
		vm, ok := vms[f.UUID]
		h, hok := s.Host(f.Host)
		if !ok || !hok || !canResetOn(h) || s.Migrating[f.UUID] || s.Resetting[f.UUID] {
			continue // unknown, or the host's own recovery owns it, or already in hand
		}
		rec := s.Guards.Resets[f.UUID]
		if !rec.Last().IsZero() && !f.Seen.After(rec.Last()) {
			continue // seen before the latest restart: wait for a fresh look
		}
		what := fmt.Sprintf("%s %s on %s (%s)", f.VM, f.Kind.Words(), f.Host, f.Detail)
		hold := func(r ActionReason, why string) {
			out = append(out, Action{Kind: ActHold, Host: f.Host, VM: f.VM, UUID: f.UUID, Reason: r, Message: what + ": " + why})
		}
		switch {
		case !vm.Protected:
			hold(ReasonNotProtected, "it is not protected, so lifeboat leaves it to you")
		case !cfg.Enabled:
			hold(ReasonGuestMonitoringOff, "recovery.guest_monitoring.enabled is false, so lifeboat leaves it to you")
		case s.Disarmed:
			hold(ReasonDisarmed, "lifeboat is disarmed; restart it yourself or arm lifeboat")
		case !s.Config.Automatic:
			hold(ReasonManual, "recovery is manual (recovery.automatic false)")
		case rec.Within(cfg.Window, now) >= cfg.MaxResets:
			hold(ReasonResetLimit, fmt.Sprintf("it was restarted %d times in the last %s (max_resets %d): lifeboat leaves it as it is for you to look at",
				rec.Within(cfg.Window, now), cfg.Window, cfg.MaxResets))
		default:
			n := rec.Within(cfg.Window, now) + 1
			out = append(out, Action{Kind: ActResetGuest, Host: f.Host, VM: f.VM, UUID: f.UUID, To: f.Host, Reason: f.Kind.Reason(),
				Message: fmt.Sprintf("%s: restart it in place (restart %d of at most %d in %s)", what, n, cfg.MaxResets, cfg.Window)})
		}
	}
	var forgets []Action
	for uuid, rec := range s.Guards.Resets {
		if faulted[uuid] || s.Resetting[uuid] || rec.Within(cfg.Window, now) > 0 {
			continue
		}
		forgets = append(forgets, Action{Kind: ActForgetReset, Host: rec.Host, VM: rec.VM, UUID: uuid, Reason: ReasonResetWindowOver,
			Message: fmt.Sprintf("%s has not been restarted in place for %s: its count starts again", rec.VM, cfg.Window)})
	}
	sort.Slice(forgets, func(i, j int) bool { return forgets[i].VM < forgets[j].VM })
	return append(out, forgets...)
}
