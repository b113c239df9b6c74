package policy

import (
	"slices"
	"time"
)

// FenceOutcome is where a host's latest fence stands.
type FenceOutcome string

// Fence outcomes.
const (
	// FenceNone: no fence counts now (never fenced, or the host came back after one).
	FenceNone FenceOutcome = ""
	// FenceInFlight: a fence was started; without a live worker it was interrupted.
	FenceInFlight FenceOutcome = "in_flight"
	// FenceVerified: the fence ladder powered the host off and verified it.
	FenceVerified FenceOutcome = "verified"
	// FenceFailed: every method of the ladder failed (a timeout is a failure).
	FenceFailed FenceOutcome = "failed"
	// FenceConfirmedOff: an operator confirmed the host is off. Not a verified fence, but it
	// lets the host's VMs restart.
	FenceConfirmedOff FenceOutcome = "operator_confirmed_off"
)

// Off reports whether the outcome lets the host's VMs restart elsewhere.
func (o FenceOutcome) Off() bool { return o == FenceVerified || o == FenceConfirmedOff }

// FenceRecord is the durable memory of a host's fences: the latest attempt (one per fence
// window) and its outcome.
type FenceRecord struct {
	Host string `json:"host"`
	// Attempted is when the latest fence started (zero: never).
	Attempted time.Time    `json:"attempted,omitzero"`
	Outcome   FenceOutcome `json:"outcome,omitempty"`
	// At is when the outcome was reached; By the method (or the operator) that reached it;
	// Detail why it failed.
	At     time.Time `json:"at,omitzero"`
	By     string    `json:"by,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Freeze is the durable state of a freeze of automatic recovery.
type Freeze struct {
	Frozen bool         `json:"frozen"`
	Reason ActionReason `json:"reason,omitempty"`
	Since  time.Time    `json:"since,omitzero"`
	// Hosts are the hosts that went bad together; the freeze lasts while at least two of them
	// are still lost.
	Hosts   []string `json:"hosts,omitempty"`
	Message string   `json:"message,omitempty"`
}

// RestartStage is where one VM of a fenced host stands in its recovery.
type RestartStage string

// Restart stages.
const (
	RestartQueued     RestartStage = "queued"
	RestartRestarting RestartStage = "restarting"
	RestartRunning    RestartStage = "running"
	RestartStuck      RestartStage = "stuck"
)

// RestartRecord is the durable state of one VM's restart after its host was fenced.
type RestartRecord struct {
	VM    string       `json:"vm"`
	UUID  string       `json:"uuid"`
	From  string       `json:"from"`
	To    string       `json:"to,omitempty"`
	Stage RestartStage `json:"stage"`
	// Reason says why the VM is at this stage; Since when it got there.
	Reason string    `json:"reason,omitempty"`
	Since  time.Time `json:"since"`
}

// Guards is the reconciler's durable state: it survives a controller restart or SIGKILL, so a
// crash-looping controller still fences a host at most once per window.
type Guards struct {
	Fences   map[string]FenceRecord   `json:"fences,omitempty"`
	Freeze   Freeze                   `json:"freeze"`
	Restarts map[string]RestartRecord `json:"restarts,omitempty"`
	// Resets are the VMs' in-place restarts after their guest crashed, by UUID.
	Resets map[string]GuestReset `json:"resets,omitempty"`
}

// Fence returns a host's fence record (empty when it has none).
func (g Guards) Fence(host string) FenceRecord {
	if r, ok := g.Fences[host]; ok {
		return r
	}
	return FenceRecord{Host: host}
}

// Clone returns a deep copy (the reconciler never changes its snapshot; simulators apply
// actions to a copy).
func (g Guards) Clone() Guards {
	out := Guards{Freeze: g.Freeze, Fences: make(map[string]FenceRecord, len(g.Fences)), Restarts: make(map[string]RestartRecord, len(g.Restarts))}
	out.Freeze.Hosts = slices.Clone(g.Freeze.Hosts)
	for k, v := range g.Fences {
		out.Fences[k] = v
	}
	for k, v := range g.Restarts {
		out.Restarts[k] = v
	}
	if g.Resets != nil {
		out.Resets = make(map[string]GuestReset, len(g.Resets))
	}
	for k, v := range g.Resets {
		v.Times = slices.Clone(v.Times)
		out.Resets[k] = v
	}
	return out
}
