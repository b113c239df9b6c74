package policy

import "time"

// HostState is a host's verdict state. The values are the lower-case names users see.
type HostState string

// Host states (see DESIGN.md): Healthy → Suspect → (Unreachable | Degraded | Failed) → Fenced →
// Recovering → Healthy, plus Maintenance (operator drain), Unknown (cannot tell, e.g. libvirtd
// down but guests alive) and Partitioned (libvirt cut off, but the guests answer on their own
// network: nothing is fenced or restarted).
const (
	Healthy     HostState = "healthy"
	Suspect     HostState = "suspect"
	Unreachable HostState = "unreachable"
	Degraded    HostState = "degraded"
	Failed      HostState = "failed"
	Fenced      HostState = "fenced"
	Recovering  HostState = "recovering"
	Maintenance HostState = "maintenance"
	Unknown     HostState = "unknown"
	// Partitioned: libvirt is cut off, but the host's guests answer on their own network, so
	// the host is alive: nothing is fenced or restarted.
	Partitioned HostState = "partitioned"
)

// ProbeResult is the outcome of one probe of a host's libvirt endpoint.
type ProbeResult string

// Probe results.
const (
	// ProbeNone means no probe has finished yet.
	ProbeNone ProbeResult = ""
	// ProbeOK: libvirt answered an RPC.
	ProbeOK ProbeResult = "ok"
	// ProbeRefused: the TCP connection was refused (the host is up, libvirtd is not listening).
	ProbeRefused ProbeResult = "refused"
	// ProbeTimeout: no answer in time (host dark, hung, or cut off).
	ProbeTimeout ProbeResult = "timeout"
	// ProbeError: libvirt answered with an error.
	ProbeError ProbeResult = "error"
)

// Power is a host's power state as its BMC reports it.
type Power string

// Power states.
const (
	PowerUnknown Power = ""
	PowerOn      Power = "on"
	PowerOff     Power = "off"
)

// Health is a host's hardware health.
type Health string

// Health values.
const (
	HealthUnknown  Health = ""
	HealthOK       Health = "ok"
	HealthWarning  Health = "warning"
	HealthCritical Health = "critical"
)

// LibvirtSignal is what the controller last learned from the host's libvirt endpoint.
type LibvirtSignal struct {
	// Result of the latest probe, at At.
	Result ProbeResult
	At     time.Time
	RTT    time.Duration
	// Err is the latest probe error text, for explanations.
	Err string
	// LastOK is when a probe last succeeded (zero: never).
	LastOK time.Time
	// FailingSince is when the current run of failed probes began (zero: the latest probe was OK).
	FailingSince time.Time
	// OKSince is when the current run of successful probes began (zero: the latest probe failed).
	OKSince time.Time
}

// BMCSignal is what the controller last learned from the host's BMC.
type BMCSignal struct {
	// Configured is false when the host has no BMC (type none).
	Configured bool
	// Reachable is false when the latest BMC query failed; Err says why. Silent is set when it
	// got no answer at all (a timeout, no route): a BMC that answers with an error (a refused
	// login, a page that is not Redfish, a refused connection) is reachable on the network.
	Reachable bool
	Silent    bool
	Err       string
	At        time.Time
	Power     Power
	Health    Health
	// Reason is the BMC's health message (Redfish Status.Conditions).
	Reason string
}

// LeaseSignal is the disk-lease witness: of the leases of the guests last seen on the host, how
// many are still held in the shared lockspace.
type LeaseSignal struct {
	// Configured is false when there is no lockspace to watch.
	Configured bool
	At         time.Time
	// Known is how many of the host's guests have a lease to look at; Held how many are locked.
	Known int
	Held  int
}

// GuestSignal is the guest-liveness witness: of the protected VMs last seen running on the host
// that have a probe address, how many answered on their own network (ICMP echo or a TCP connect)
// in the probe round that ended at At. It is read only while the host's libvirt does not answer.
type GuestSignal struct {
	// Configured is false when guest liveness is not looked at (recovery.partition_policy fence).
	Configured bool
	At         time.Time
	// Known is how many of the host's guests have a probe address; Answering how many answered.
	Known     int
	Answering int
	// Err is the latest probe error, for explanations.
	Err string
}

// OperatorSignal is what people told the controller about the host.
type OperatorSignal struct {
	Maintenance bool
	// Degraded is an operator's or alert's health verdict, with its reason.
	Degraded       bool
	DegradedReason string
}

// Signals are all the independent signals about one host at one moment.
type Signals struct {
	Host     string
	Libvirt  LibvirtSignal
	BMC      BMCSignal
	Lease    LeaseSignal
	Guests   GuestSignal
	Operator OperatorSignal
	// Health is the scored health observations (BMC health, libvirt, alerts, operator marks);
	// Health.Degraded makes a reachable host degraded.
	Health HealthVerdict
	// FencedAt is when a fence of this host was verified, or an operator confirmed it off
	// (ConfirmedOff); zero: not fenced.
	FencedAt     time.Time
	ConfirmedOff bool
}
