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
	// NodeMemory reports the host's memory use now (all NUMA cells together).
	NodeMemory(ctx context.Context) (NodeMemory, error)
	// GuestAddresses lists the IP addresses libvirt knows for a running domain's interfaces
	// (DHCP leases of its networks, the host's ARP table); empty when it knows none.
	GuestAddresses(ctx context.Context, uuid string) ([]string, error)
	// StartDomain defines a domain from its XML and starts it (a restart after a failure).
	StartDomain(ctx context.Context, def string) error
	// GuestStatus asks QEMU for a running domain's run state (QMP query-status), to tell a
	// guest that panicked or stopped on an internal error from one paused on purpose.
	GuestStatus(ctx context.Context, uuid string) (RunState, error)
	// ResetDomain restarts a domain in place: it stops its QEMU process if it has one, then
	// starts it again from its definition on the same host (VM-level monitoring).
	ResetDomain(ctx context.Context, uuid string) error
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

// Active reports whether a domain in this state has a QEMU process. libvirt reports "crashed"
// only for a domain it keeps after a guest crash (on_crash preserve): its QEMU process is
// still there, stopped; a crashed domain it shut off is "shutoff" with the reason "crashed".
func (s DomainState) Active() bool {
	switch s {
	case StateRunning, StateBlocked, StatePaused, StateShutdown, StatePMSuspended, StateCrashed:
		return true
	case StateShutoff, StateNoState:
		return false
	}
	return false
}

// Domain is one domain on a host.
type Domain struct {
	UUID  string
	Name  string
	State DomainState
	// StateReason is why the domain is in its state, as libvirt's reason in lower case with
	// underscores: for a paused domain "ioerror", "user", "migration", "watchdog", "crashed",
	// "postcopy_failed", ...; for a running one "booted", "migrated", "unpaused", ...; for a
	// shut-off one "destroyed", "shutdown", "crashed", ... Empty when libvirt gave no reason.
	StateReason string
	Persistent  bool
	MemoryKiB   uint64
	VCPUs       uint
}

// ReasonIOError is the StateReason of a domain that libvirt paused on a disk I/O error.
const ReasonIOError = "ioerror"

// PausedOnError reports whether the domain is paused because one of its disks failed (its disk
// error policy is "stop" or "enospace" and the host's storage returned an error).
func (d Domain) PausedOnError() bool {
	return d.State == StatePaused && d.StateReason == ReasonIOError
}

// HostInfo is a host's capacity.
type HostInfo struct {
	Hostname  string
	CPUs      uint
	MemoryKiB uint64
	// LibvirtVersion is libvirtd's version, e.g. 9000000 for 9.0.0.
	LibvirtVersion uint32
}

// NodeMemory is a host's memory use, in KiB, as the host's kernel counts it.
type NodeMemory struct {
	TotalKiB, FreeKiB, BuffersKiB, CachedKiB uint64
}

// AvailableShare is the share of the host's memory that is free or reclaimable page cache,
// (free+buffers+cached)/total, between 0 and 1; 0 when the total is unknown.
func (m NodeMemory) AvailableShare() float64 {
	if m.TotalKiB == 0 {
		return 0
	}
	return min(float64(m.FreeKiB+m.BuffersKiB+m.CachedKiB)/float64(m.TotalKiB), 1)
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
	// Detail is the event's specifics for people, e.g. "stopped/destroyed" or
	// "vda (/dev/loop3): enospc, guest paused".
	Detail string
	// Reason is the machine-readable cause, for io_error events only: libvirt's reason, which is
	// "enospc" when the storage ran out of space and empty for any other error (libvirt 9 reports
	// no finer cause).
	Reason string
}
