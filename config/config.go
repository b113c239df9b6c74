// Package config is lifeboat's daemon configuration: defaults, then a YAML file, then flags,
// then Validate, whose errors name the field at fault.
package config

import "strings"

// Config is the whole daemon configuration.
type Config struct {
	// Cluster names the cluster in logs, metrics and notifications.
	Cluster string `yaml:"cluster"`
	// Hosts are the hypervisor hosts lifeboat watches.
	Hosts []Host `yaml:"hosts"`
	// Protection chooses which VMs lifeboat keeps running.
	Protection Protection `yaml:"protection"`
	// LeaseDir is the shared disk-lease lockspace (libvirt lockd file_lockspace_dir), mounted on
	// the management node too; it serves as a witness of which hosts still run guests.
	LeaseDir string `yaml:"lease_dir,omitempty"`
	// Timings tune detection and recovery.
	Timings Timings `yaml:"timings"`
	// Migration tunes live migrations.
	Migration Migration `yaml:"migration"`
	// Placement tunes where VMs go.
	Placement Placement `yaml:"placement"`
	// Recovery tunes fencing and restarts after a host failure.
	Recovery Recovery `yaml:"recovery"`
	// Health tunes how health signals make a host degraded.
	Health Health `yaml:"health"`
	// Failback tunes the return of VMs to their home hosts.
	Failback Failback `yaml:"failback"`
	// Approval chooses which plans wait for a person.
	Approval Approval `yaml:"approval"`
	// Alerts are external health sources (Alertmanager).
	Alerts Alerts `yaml:"alerts,omitempty"`
	// Notify sends every failover, fence, stuck VM and freeze to a webhook.
	Notify Notify `yaml:"notify,omitempty"`
	// Store is where durable state lives.
	Store Store `yaml:"store"`
	// API is the daemon's HTTP API.
	API API `yaml:"api"`
}

// Role is a host's part in the cluster.
type Role string

// Host roles.
const (
	// RoleActive hosts run VMs.
	RoleActive Role = "active"
	// RoleStandby hosts stay empty, reserved for restarts after a failure.
	RoleStandby Role = "standby"
)

// Host is one hypervisor host.
type Host struct {
	Name string `yaml:"name"`
	// URI is the libvirt connection URI, e.g. qemu+tcp://10.0.0.11/system.
	URI   string `yaml:"uri"`
	Role  Role   `yaml:"role"`
	Group string `yaml:"group,omitempty"`
	// BMC is the host's BMC: its power state and health, and, unless Fence is set, its only
	// fence method.
	BMC BMC `yaml:"bmc"`
	// Fence, when set, is the fence ladder: methods tried in order until one verifies the power
	// off (as Pacemaker's fencing topology levels).
	Fence []BMC `yaml:"fence,omitempty"`
}

// FenceLadder is the host's fence methods in order: Fence when set, else its BMC entry as a
// one-rung ladder (none when the BMC has no type).
func (h Host) FenceLadder() []BMC {
	if len(h.Fence) > 0 {
		return h.Fence
	}
	if h.BMC.Type == "" || h.BMC.Type == BMCNone {
		return nil
	}
	return []BMC{h.BMC}
}

// BMCType names a fencing and health channel.
type BMCType string

// BMC types.
const (
	BMCRedfish BMCType = "redfish"
	BMCIPMI    BMCType = "ipmi"
	BMCExec    BMCType = "exec"
	BMCNone    BMCType = "none"
)

// BMC is how lifeboat reaches a host's baseboard management controller.
type BMC struct {
	Type BMCType `yaml:"type"`
	// Endpoint is the BMC's URL (redfish), address (ipmi) or the fence agent's path (exec).
	Endpoint string `yaml:"endpoint,omitempty"`
	// SystemID picks the Redfish system; empty means the first member of /redfish/v1/Systems.
	SystemID string `yaml:"system_id,omitempty"`
	// CredentialsFile holds username= and password= lines; credentials never sit in this file.
	CredentialsFile string `yaml:"credentials_file,omitempty"`
	// Insecure accepts any TLS certificate (labs only; the daemon warns at every start).
	Insecure bool `yaml:"insecure,omitempty"`
	// CAFile holds PEM CAs the BMC's certificate must chain to, instead of the system's (redfish).
	CAFile string `yaml:"ca_file,omitempty"`
	// PinnedSHA256 is the SHA-256 fingerprint of a self-signed BMC's certificate (redfish): that
	// certificate and no other is accepted.
	PinnedSHA256 string `yaml:"pinned_sha256,omitempty"`
	// AllowHTTP accepts an http:// redfish endpoint (labs only; the daemon warns at every start).
	AllowHTTP bool `yaml:"allow_http,omitempty"`
	// Agent is an exec method's fence agent: a name found in FenceAgentDir (fence_apc_snmp) or
	// an absolute path. Endpoint may give the path instead.
	Agent string `yaml:"agent,omitempty"`
	// Options are extra key=value options passed to an exec fence agent on its standard input.
	Options map[string]string `yaml:"options,omitempty"`
	// Events says whether the daemon subscribes to a redfish BMC's events (Redfish
	// EventService): auto (the default) subscribes for pushed events when api.bmc_event_url is
	// set and the BMC takes subscriptions (no connection held), else opens the Server-Sent
	// Events stream when the BMC offers one; sse and push insist on one way (a BMC without it
	// is logged as an error); off only polls.
	Events BMCEvents `yaml:"events,omitempty"`
	// Port is an ipmi BMC's UDP port (ipmitool -p); zero means the IPMI default, 623.
	Port int `yaml:"port,omitempty"`
	// CipherSuite is the RMCP+ cipher suite an ipmi method asks for (ipmitool -C, 1 to 17);
	// zero lets ipmitool choose, which on a BMC that cannot list its cipher suites costs a
	// timeout on every call.
	CipherSuite int `yaml:"cipher_suite,omitempty"`
}

// BMCEvents chooses how a redfish BMC's events are used.
type BMCEvents string

// The values of bmc.events.
const (
	// EventsAuto holds a push subscription when api.bmc_event_url is set and the BMC takes
	// one, else follows the BMC's event stream when it offers one, and polls only otherwise.
	EventsAuto BMCEvents = "auto"
	// EventsSSE subscribes to the stream and reports a BMC without one as an error.
	EventsSSE BMCEvents = "sse"
	// EventsPush creates a push subscription (the BMC POSTs events to api.bmc_event_url) and
	// reports a BMC without subscriptions as an error.
	EventsPush BMCEvents = "push"
	// EventsOff never subscribes: the BMC is only polled.
	EventsOff BMCEvents = "off"
)

// EventMode is b.Events with the default filled in: auto for a redfish BMC, off for the others.
func (b BMC) EventMode() BMCEvents {
	switch {
	case b.Type != BMCRedfish:
		return EventsOff
	case b.Events == "":
		return EventsAuto
	}
	return b.Events
}

// FenceAgentDir is where the ClusterLabs fence agents are installed (Debian's fence-agents).
const FenceAgentDir = "/usr/sbin"

// AgentPath is an exec method's fence agent path: Agent (in FenceAgentDir when it is a bare
// name), else Endpoint.
func (b BMC) AgentPath() string {
	switch {
	case b.Agent == "":
		return b.Endpoint
	case !strings.Contains(b.Agent, "/"):
		return FenceAgentDir + "/" + b.Agent
	}
	return b.Agent
}

// Protection chooses the protected VMs.
type Protection struct {
	// Default is "all" (every VM is protected unless listed as not) or "none".
	Default string `yaml:"default"`
	// VMs are per-VM choices by name.
	VMs []VMRule `yaml:"vms,omitempty"`
	// Metadata protects VMs whose libvirt metadata element in this namespace URI says so.
	MetadataNamespace string `yaml:"metadata_namespace,omitempty"`
	// DefaultPriority applies to VMs without a rule; higher recovers first.
	DefaultPriority int `yaml:"default_priority"`
}

// VMRule is one VM's protection, priority and probe address.
type VMRule struct {
	Name      string `yaml:"name"`
	Protected *bool  `yaml:"protected,omitempty"`
	Priority  int    `yaml:"priority,omitempty"`
	// Probe is where the VM answers on its own network, probed while its host's libvirt does not
	// answer (recovery.partition_policy wait-for-guests): "10.0.0.5" for an ICMP echo,
	// "10.0.0.5:22" for a TCP connect. Without it, lifeboat uses the address libvirt reported
	// for the VM while its host was reachable, if any.
	Probe string `yaml:"probe,omitempty"`
}

// Timings tune detection and recovery.
type Timings struct {
	// ProbeInterval is how often each host is probed.
	ProbeInterval Duration `yaml:"probe_interval"`
	// ProbeTimeout bounds one probe.
	ProbeTimeout Duration `yaml:"probe_timeout"`
	// SuspectAfter is how long probes must fail before a host is suspect.
	SuspectAfter Duration `yaml:"suspect_after"`
	// UnreachableAfter is how long probes must fail before a host is unreachable.
	UnreachableAfter Duration `yaml:"unreachable_after"`
	// StableFor is how long a host must stay healthy before it counts as recovered (flap damping).
	StableFor Duration `yaml:"stable_for"`
	// BMCInterval is how often a BMC is asked for the power state while its host's libvirt
	// probe fails (the first read is at once); it bounds how late the proof of death comes.
	BMCInterval Duration `yaml:"bmc_interval"`
	// BMCHealthInterval is how often a BMC is read (power and health) while its host answers,
	// with ±10% jitter so that the reads of a fleet spread out.
	BMCHealthInterval Duration `yaml:"bmc_health_interval"`
	// BMCTimeout bounds one BMC request; a BMC that does not answer in time is unreachable.
	BMCTimeout Duration `yaml:"bmc_timeout"`
	// InventoryInterval is how often each host's domain list is refreshed (events refresh it too).
	InventoryInterval Duration `yaml:"inventory_interval"`
}

// Store is the durable state backend: the embedded bbolt file (one daemon, role single) or
// etcd (several daemons, one elected leader acts).
type Store struct {
	// Backend is bbolt (the default) or etcd.
	Backend StoreBackend `yaml:"backend,omitempty"`
	// Path is the embedded store's file (backend bbolt).
	Path string `yaml:"path,omitempty"`
	// Etcd is the etcd cluster (backend etcd).
	Etcd Etcd `yaml:"etcd,omitempty"`
	// JournalMaxEntries bounds the journal on either backend: each append deletes the oldest
	// entries beyond the newest JournalMaxEntries, in the same transaction. Zero means
	// DefaultJournalMaxEntries.
	JournalMaxEntries int `yaml:"journal_max_entries,omitempty"`
}

// API is the HTTP API.
type API struct {
	// Listen is the address to serve on. Anything but a loopback address needs TLS and a
	// credential (token_file, users_file or tls.client_ca_file).
	Listen string `yaml:"listen"`
	// TokenFile holds a bearer token that is an admin credential named "token".
	TokenFile string `yaml:"token_file,omitempty"`
	// Advertise is the URL other daemons and clients reach this daemon's API at (sent to
	// clients of a follower as the leader's address); default http://LISTEN (https with tls).
	Advertise string `yaml:"advertise,omitempty"`
	// UsersFile holds named tokens, stored hashed, each with a role (viewer, operator, admin);
	// 'lifeboat token create' adds them.
	UsersFile string `yaml:"users_file,omitempty"`
	// MetricsAuth makes /metrics need a viewer credential.
	MetricsAuth bool `yaml:"metrics_auth,omitempty"`
	// TLS serves the API over HTTPS.
	TLS TLS `yaml:"tls,omitempty"`
	// BMCEventURL is the base URL at which the hosts' BMCs reach this daemon's API, e.g.
	// https://10.0.0.5:8443: BMCs with bmc.events push (or auto without an SSE stream) POST
	// their events to BMCEventURL/v1/bmc-events/HOST. Each daemon needs its own.
	BMCEventURL string `yaml:"bmc_event_url,omitempty"`
}

// BMCEventPath is the API route prefix of pushed BMC events: the receiver of host H is
// BMCEventPath + H.
const BMCEventPath = "/v1/bmc-events/"

// BMCEventDestination is the URL a BMC pushes host's events to ("" without api.bmc_event_url).
func (a API) BMCEventDestination(host string) string {
	if a.BMCEventURL == "" {
		return ""
	}
	return strings.TrimRight(a.BMCEventURL, "/") + BMCEventPath + host
}

// TLS is the API's HTTPS setup.
type TLS struct {
	// CertFile and KeyFile are the server's certificate (chain) and private key, PEM. The key
	// file must be readable by its owner only.
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
	// ClientCAFile enables optional client certificates (mTLS) signed by these CAs; a client
	// certificate's common name names its holder.
	ClientCAFile string `yaml:"client_ca_file,omitempty"`
}

// Enabled reports whether the API serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" || t.KeyFile != "" }

// Migration tunes live migrations: concurrency budgets, bandwidth and the escalation ladder.
type Migration struct {
	// PerHostOut, PerHostIn and Cluster bound concurrent migrations.
	PerHostOut int `yaml:"per_host_out"`
	PerHostIn  int `yaml:"per_host_in"`
	Cluster    int `yaml:"cluster"`
	// BandwidthMiBs caps each migration (0: unlimited).
	BandwidthMiBs uint64 `yaml:"bandwidth_mibs,omitempty"`
	// Downtimes are the max-downtime steps of the escalation ladder.
	Downtimes []Duration `yaml:"downtimes"`
	// StallSamples progress samples without progress make a stall (samples are 500 ms apart).
	StallSamples int `yaml:"stall_samples"`
	// PostCopy allows switching a stalled migration to post-copy (opt-in: a failure during
	// post-copy loses the VM).
	PostCopy bool `yaml:"post_copy,omitempty"`
	// MaxDuration aborts a migration that runs longer.
	MaxDuration Duration `yaml:"max_duration"`
	// CopyStorage copies the VMs' disks along (for clusters without shared storage); by default
	// disks are shared and only memory moves.
	CopyStorage bool `yaml:"copy_storage,omitempty"`
	// TLS encrypts the migration stream with QEMU's TLS (VIR_MIGRATE_TLS): each host needs
	// certificates in its qemu.conf migrate_tls_x509_cert_dir (default /etc/pki/qemu).
	TLS bool `yaml:"tls,omitempty"`
	// Overrides change the ladder and bandwidth for some VMs, chosen by name or by the group of
	// the host they run on. The first matching override wins.
	Overrides []MigrationOverride `yaml:"overrides,omitempty"`
}

// MigrationOverride is a ladder for some VMs. Unset fields keep the global value.
type MigrationOverride struct {
	VMs           []string   `yaml:"vms,omitempty"`
	Group         string     `yaml:"group,omitempty"`
	Downtimes     []Duration `yaml:"downtimes,omitempty"`
	PostCopy      *bool      `yaml:"post_copy,omitempty"`
	BandwidthMiBs *uint64    `yaml:"bandwidth_mibs,omitempty"`
}

// Placement tunes where VMs go.
type Placement struct {
	// MemoryOvercommit and CPUOvercommit scale a host's capacity (1.0: none).
	MemoryOvercommit float64 `yaml:"memory_overcommit"`
	CPUOvercommit    float64 `yaml:"cpu_overcommit"`
	// Rules are hard affinity (same host) and anti-affinity (different hosts) rules.
	Rules []AffinityRule `yaml:"rules,omitempty"`
}

// AffinityRule keeps VMs together (anti: false) or apart (anti: true).
type AffinityRule struct {
	Name string   `yaml:"name"`
	VMs  []string `yaml:"vms"`
	Anti bool     `yaml:"anti,omitempty"`
}

// Recovery tunes what happens after a host fails: fence, then restart its VMs elsewhere.
type Recovery struct {
	// Automatic enables fencing and restarts without a person (default true).
	Automatic bool `yaml:"automatic"`
	// MassFailureFraction and MassFailureWindow define a mass failure, which freezes automatic
	// recovery: at least two hosts that went bad within the window, and more than this share of
	// the hosts that were up when it began (defaults 0.34 and 10s). A single failure never
	// freezes, and hosts fenced earlier and left off do not count.
	MassFailureFraction float64  `yaml:"mass_failure_fraction"`
	MassFailureWindow   Duration `yaml:"mass_failure_window"`
	// FenceWindow: a host is fenced at most once per window (no fence storms).
	FenceWindow Duration `yaml:"fence_window"`
	// FenceTimeout bounds each fence method; a timeout is a failure.
	FenceTimeout Duration `yaml:"fence_timeout"`
	// RestartConcurrency bounds restarts in flight.
	RestartConcurrency int `yaml:"restart_concurrency"`
	// PartitionPolicy is what happens to a host whose libvirt times out while its guests still
	// answer on their own network: wait-for-guests (default: the host is partitioned, nothing is
	// fenced or restarted while they answer) or fence (it is unreachable and fenced at once).
	PartitionPolicy PartitionPolicy `yaml:"partition_policy"`
	// GuestMonitoring restarts in place a protected VM whose guest crashed while its host is
	// fine (VM-level monitoring).
	GuestMonitoring GuestMonitoring `yaml:"guest_monitoring"`
}

// GuestMonitoring is VM-level monitoring: a protected VM whose guest panicked (QMP
// guest-panicked, through a pvpanic device), stopped on an internal error (QMP internal-error),
// or was shut off by libvirt because it crashed, is destroyed and started again on the same
// host, at most MaxResets times within ResetWindow; after that it is left as it is, for a
// person to look at.
type GuestMonitoring struct {
	// Enabled turns it on (default true).
	Enabled bool `yaml:"enabled"`
	// MaxResets bounds the in-place restarts of one VM within ResetWindow (default 3).
	MaxResets int `yaml:"max_resets"`
	// ResetWindow is the window of MaxResets (default 1h).
	ResetWindow Duration `yaml:"reset_window"`
}

// PartitionPolicy names a partition policy.
type PartitionPolicy string

// Partition policies.
const (
	// PartitionWaitForGuests: no fence while the host's guests are seen alive.
	PartitionWaitForGuests PartitionPolicy = "wait-for-guests"
	// PartitionFence: guest liveness is not looked at; a cut-off host is fenced.
	PartitionFence PartitionPolicy = "fence"
)

// Notify is the notification webhook.
type Notify struct {
	// WebhookURL receives a JSON POST per notification ("" disables).
	WebhookURL string `yaml:"webhook_url,omitempty"`
	// SecretFile holds the HMAC-SHA256 key (owner-only, not empty); each delivery carries the
	// Standard Webhooks headers webhook-id, webhook-timestamp and webhook-signature.
	SecretFile string `yaml:"secret_file,omitempty"`
}

// For says whether the named VM is protected and with which priority (metadata marks aside):
// Default, then the VM's own rule.
func (p Protection) For(name string) (protected bool, priority int) {
	protected, priority = p.Default == "all", p.DefaultPriority
	for _, r := range p.VMs {
		if r.Name != name {
			continue
		}
		if r.Protected != nil {
			protected = *r.Protected
		} else {
			protected = true
		}
		if r.Priority != 0 {
			priority = r.Priority
		}
	}
	return protected, priority
}
