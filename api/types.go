package api

import (
	"encoding/json"
	"time"
)

// HostView is one host and its verdict; `lifeboat hosts -o json` prints a list of these.
type HostView struct {
	// Name is the host's name from the configuration.
	Name string `json:"name"`
	// State is the verdict state in lower case: healthy, suspect, unreachable, degraded, failed,
	// fenced, recovering, maintenance or unknown.
	State string `json:"state"`
	// Reason is the machine-readable code of the verdict.
	Reason string `json:"reason"`
	// Message explains the verdict in a sentence.
	Message string `json:"message"`
	// Since is when the host entered State.
	Since time.Time `json:"since"`
	// VMs names the VMs running on the host; never null.
	VMs []string `json:"vms"`
	// Role is active or standby.
	Role string `json:"role"`
	// Group is the host's failure group, if any.
	Group string `json:"group,omitempty"`
	// Stuck lists the VMs that cannot leave the host while it is drained or evacuated, and why.
	Stuck []StuckVM `json:"stuck,omitempty"`
}

// StuckVM is a VM that a drain or an evacuation cannot move off its host, and why.
type StuckVM struct {
	// VM is the VM's name.
	VM string `json:"vm"`
	// Reason says why it cannot leave, as a sentence: no host can take it, it does not run, or
	// its migrations keep failing.
	Reason string `json:"reason"`
	// Failures counts its failed migrations in a row (0: it has no target at all).
	Failures int `json:"failures,omitempty"`
	// RetryAt is when the daemon tries its migration again (zero: when a host can take it).
	RetryAt time.Time `json:"retry_at,omitzero"`
	// Hopeless is true when waiting is unlikely to help: no host can take it, or its migration
	// has failed several times in a row. The daemon still retries it.
	Hopeless bool `json:"hopeless"`
}

// VMView is one VM; `lifeboat vms -o json` prints a list of these.
type VMView struct {
	// Name is the libvirt domain name.
	Name string `json:"name"`
	// UUID is the libvirt domain UUID.
	UUID string `json:"uuid"`
	// Host is where the VM runs now (empty when it runs nowhere).
	Host string `json:"host"`
	// HomeHost is where the VM belongs, where it goes back to after a recovery.
	HomeHost string `json:"home_host"`
	// State is the VM's state, e.g. running, shutoff, migrating.
	State string `json:"state"`
	// Protected says whether lifeboat keeps the VM running.
	Protected bool `json:"protected"`
	// Priority orders recoveries: higher recovers first.
	Priority int `json:"priority"`
}

// Event is one journal entry.
type Event struct {
	// Seq is the entry's sequence number, increasing by one per entry.
	Seq uint64 `json:"seq"`
	// At is when it happened.
	At time.Time `json:"at"`
	// Kind is what happened, e.g. verdict, migration, fence, restart.
	Kind string `json:"kind"`
	// Host is the host concerned, if any.
	Host string `json:"host,omitempty"`
	// VM is the VM concerned, if any.
	VM string `json:"vm,omitempty"`
	// Reason is the machine-readable code, if any.
	Reason string `json:"reason,omitempty"`
	// Message says what happened in a sentence.
	Message string `json:"message"`
	// Data holds kind-specific details.
	Data json.RawMessage `json:"data,omitempty"`
}

// SignalView is one input signal behind a verdict.
type SignalView struct {
	// Name is the signal: libvirt, tcp, bmc_power, bmc_health, bmc_events, lease_witness, operator, ...
	Name string `json:"name"`
	// Value is the signal's last value, e.g. ok, timeout, on, off, critical.
	Value string `json:"value"`
	// At is when the value was observed; omitted when never.
	At time.Time `json:"at,omitzero"`
	// Detail is more about the value, if anything.
	Detail string `json:"detail,omitempty"`
}

// Explanation says why a host has its verdict.
type Explanation struct {
	// Host is the host's name.
	Host string `json:"host"`
	// State is the verdict state in lower case.
	State string `json:"state"`
	// Reason is the verdict's machine-readable code.
	Reason string `json:"reason"`
	// Message explains the verdict in a sentence.
	Message string `json:"message"`
	// Since is when the host entered State.
	Since time.Time `json:"since"`
	// Rule is the rule that produced the verdict, in words.
	Rule string `json:"rule"`
	// Signals are the inputs the rule looked at; never null.
	Signals []SignalView `json:"signals"`
	// History holds recent verdict events for the host, oldest first.
	History []Event `json:"history,omitempty"`
}

// StatusView is the daemon and cluster at a glance.
type StatusView struct {
	// Cluster is the cluster's name from the configuration.
	Cluster string `json:"cluster"`
	// Version is the daemon's version.
	Version string `json:"version"`
	// StartedAt is when the daemon started.
	StartedAt time.Time `json:"started_at"`
	// Leader says whether this daemon is the one acting on the cluster (Controller.Acting).
	Leader bool `json:"leader"`
	// Controller says which daemon acts, and why (nil from a daemon that does not know).
	Controller *ControllerView `json:"controller,omitempty"`
	// Hosts is the number of hosts.
	Hosts int `json:"hosts"`
	// HostStates counts the hosts by state.
	HostStates map[string]int `json:"host_states"`
	// VMs is the number of VMs.
	VMs int `json:"vms"`
	// ProtectedVMs is the number of protected VMs.
	ProtectedVMs int `json:"protected_vms"`
	// Store describes the durable state store, e.g. its path.
	Store string `json:"store"`
	// LastEvent is the Seq of the newest journal entry (0 when there is none).
	LastEvent uint64 `json:"last_event"`
	// StoreError says why the store could not be read for this answer (etcd without quorum, say);
	// the rest of the status is the daemon's own view, which goes on without the store.
	StoreError string `json:"store_error,omitempty"`
	// Disarm says whether an admin has stopped all automatic action ('lifeboat disarm').
	Disarm DisarmView `json:"disarm"`
}
