package hypervisor

import (
	"context"
	"time"
)

// Host is the narrow view of one hypervisor host that the daemon works through.
type Host interface {
	// Name is the host's name in lifeboat's configuration.
	Name() string
	// Probe checks the host's libvirt endpoint once: a TCP connect and, when connected, a cheap
	// RPC. It never blocks longer than ctx allows.
	Probe(ctx context.Context) Probe
	// Domains lists the host's domains (running or defined).
	Domains(ctx context.Context) ([]Domain, error)
	// DomainXML returns a domain's inactive (persistent) definition, or its live one if it has none.
	DomainXML(ctx context.Context, uuid string) (string, error)
	// Info reports the host's capacity.
	Info(ctx context.Context) (HostInfo, error)
	// StartDomain defines a domain from its XML and starts it (a restart after a failure).
	StartDomain(ctx context.Context, def string) error
	// Connected reports whether the long-lived libvirt connection is up.
	Connected() bool
	// Events delivers domain and connection events until Close.
	Events() <-chan Event
	// Close ends the connection and its goroutines.
	Close() error
}

// Dialer opens a Host; Dial is the real one, a simulated fleet provides another.
type Dialer func(ctx context.Context, name, uri string, opts Options) (Host, error)

// DialHost is Dial as a Dialer.
func DialHost(ctx context.Context, name, uri string, opts Options) (Host, error) {
	return Dial(ctx, name, uri, opts)
}

// ProbeOutcome is how a probe ended.
type ProbeOutcome string

// Probe outcomes.
const (
	ProbeOK      ProbeOutcome = "ok"
	ProbeRefused ProbeOutcome = "refused"
	ProbeTimeout ProbeOutcome = "timeout"
	ProbeError   ProbeOutcome = "error"
)

// Probe is the result of one probe.
type Probe struct {
	Outcome ProbeOutcome
	// TCP is the outcome of the raw TCP connect to the libvirt port (ok, refused or timeout).
	TCP ProbeOutcome
	// RTT is the round trip of the RPC (or of the TCP connect when not connected).
	RTT time.Duration
	// Connected tells whether the long-lived libvirt connection is up.
	Connected bool
	Err       error
	At        time.Time
}

// DomainState is a domain's libvirt state, in lower case.
type DomainState string

// Domain states.
const (
	StateRunning     DomainState = "running"
	StateBlocked     DomainState = "blocked"
	StatePaused      DomainState = "paused"
	StateShutdown    DomainState = "shutdown"
	StateShutoff     DomainState = "shutoff"
	StateCrashed     DomainState = "crashed"
	StatePMSuspended DomainState = "pmsuspended"
	StateNoState     DomainState = "nostate"
)

// Active reports whether a domain in this state has a QEMU process.
func (s DomainState) Active() bool {
	switch s {
	case StateRunning, StateBlocked, StatePaused, StateShutdown, StatePMSuspended:
		return true
	case StateShutoff, StateCrashed, StateNoState:
		return false
	}
	return false
}

// Domain is one domain on a host.
type Domain struct {
	UUID       string
	Name       string
	State      DomainState
	Persistent bool
	MemoryKiB  uint64
	VCPUs      uint
}

// HostInfo is a host's capacity.
type HostInfo struct {
	Hostname  string
	CPUs      uint
	MemoryKiB uint64
	// LibvirtVersion is libvirtd's version, e.g. 9000000 for 9.0.0.
	LibvirtVersion uint32
}

// EventKind names an event.
type EventKind string

// Event kinds.
const (
	EventLifecycle    EventKind = "lifecycle"
	EventIOError      EventKind = "io_error"
	EventJobCompleted EventKind = "job_completed"
	EventMigrationIt  EventKind = "migration_iteration"
	EventConnected    EventKind = "connected"
	EventDisconnected EventKind = "disconnected"
)

// Event is something the host told the controller.
type Event struct {
	Host   string
	Kind   EventKind
	At     time.Time
	UUID   string
	Domain string
	// Detail is the event's specifics, e.g. "stopped/destroyed" or "vda: enospc".
	Detail string
}
