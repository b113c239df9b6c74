package policy

import (
	"slices"
	"time"
)

// RecoveryConfig tunes the recovery reconciler.
type RecoveryConfig struct {
	// Automatic enables fencing and restarts without a person.
	Automatic bool
	// MassFailureFraction and MassFailureWindow define a mass failure: at least two hosts that
	// went bad within the window, and more than this share of the hosts that were up when the
	// window began. A single failure never freezes.
	MassFailureFraction float64
	MassFailureWindow   time.Duration
	// FenceWindow: a host is fenced at most once per window (no fence storms), across
	// controller restarts.
	FenceWindow time.Duration
	// RestartConcurrency bounds restarts in flight.
	RestartConcurrency int
	// Placement places the restarts (PreferStandby is set by the reconciler).
	Placement PlacementConfig
	// GuestResets is VM-level monitoring: crashed guests on fine hosts restart in place.
	GuestResets GuestResetConfig
}

// HostView is one host as the reconciler sees it.
type HostView struct {
	Name  string
	Role  string // "active" or "standby"
	Group string
	// Verdict is the failure detector's current verdict on the host.
	Verdict Verdict
	// Libvirt is the latest probe result; BadSince is when the host's libvirt began to fail
	// (zero while it answers).
	Libvirt  ProbeResult
	BadSince time.Time
	// Draining is an operator's drain (maintenance): the host is emptied by live migration.
	Draining bool
	// BMCConfigured, BMCReachable and BMCSilent describe the host's BMC (for the
	// controller-isolation rule: a controller cut off from the network hears from neither the
	// hosts nor their BMCs).
	BMCConfigured, BMCReachable, BMCSilent bool
	// Heard is set once the host has been probed and its BMC (if any) asked at least once.
	Heard bool
	// MemoryMiB and VCPUs are the host's capacity (zero: not known yet).
	MemoryMiB, VCPUs int
	// RecoveryMode is the approval mode for a recovery of this host (approval.kinds.recovery
	// and approval.groups resolved for the host's group).
	RecoveryMode ApprovalMode
}

// VMView is one VM as the reconciler sees it.
type VMView struct {
	Name, UUID string
	// Protected VMs are restarted elsewhere after their host is fenced; Restartable when their
	// stored definition can be started.
	Protected, Restartable bool
	Priority               int
	MemoryMiB, VCPUs       int
	// Current is where the VM was last seen running ("" if nowhere); Home where it belongs.
	Current, Home string
	// State is its last seen libvirt state.
	State string
}

// Snapshot is everything the reconciler decides from: the cluster as observed, the durable
// guard state, the open plans, and the controller's own condition. It holds no I/O and no
// clock; time comes in as a value.
type Snapshot struct {
	Config RecoveryConfig
	Hosts  []HostView
	VMs    []VMView
	// Guards is the durable guard state (fences, freeze, restart queue).
	Guards Guards
	// Plans are the recovery plans (approval mode), newest per host last.
	Plans []PlanRef
	// Fencing and Restarting are the fences and restarts this controller runs right now (by
	// host and by VM UUID): an in-flight record without a live worker was interrupted.
	Fencing    map[string]bool
	Restarting map[string]bool
	// Migrating are the VMs (by UUID) with a live migration under way.
	Migrating map[string]bool
	// Disarmed stops every automatic action (an operator's `lifeboat disarm`).
	Disarmed bool
	// GuestFaults are the VMs seen crashed on their host (VM-level monitoring), and Resetting
	// the VMs (by UUID) this controller restarts in place right now.
	GuestFaults []GuestFault
	Resetting   map[string]bool
}

// Host returns the named host's view.
func (s *Snapshot) Host(name string) (HostView, bool) {
	i := slices.IndexFunc(s.Hosts, func(h HostView) bool { return h.Name == name })
	if i < 0 {
		return HostView{}, false
	}
	return s.Hosts[i], true
}

// fullPicture reports whether every host has been heard from.
func (s *Snapshot) fullPicture() bool {
	for _, h := range s.Hosts {
		if !h.Heard {
			return false
		}
	}
	return true
}

// Reconcile decides what recovery does now: which hosts to fence, which VMs to restart where,
// whether to freeze, which crashed guests to restart in place, and why anything is held back. It is pure: the same snapshot and time
// always give the same actions, in the same order. The caller executes the actions, recording
// each one before it runs, and feeds the result back through the next snapshot.
func Reconcile(s Snapshot, now time.Time) []Action {
	var out []Action
	out = append(out, clearFences(s)...)
	fz, freezeActs := massFailure(s, now)
	out = append(out, freezeActs...)
	out = append(out, fences(s, fz, now)...)
	out = append(out, queue(s, now)...)
	out = append(out, restarts(s, fz, now)...)
	out = append(out, guestResets(s, now)...)
	return out
}
