package config

import (
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// Health tunes how health signals add up to a degraded verdict. Each active observation scores
// by its severity (warning 50, critical 100); the scores of a host's observations add up.
type Health struct {
	// DegradeScore: a host whose score reaches this is degraded.
	DegradeScore int `yaml:"degrade_score"`
	// ClearScore and ClearAfter are the hysteresis: a degraded host is healthy again only after
	// its score has stayed below ClearScore for ClearAfter.
	ClearScore int      `yaml:"clear_score"`
	ClearAfter Duration `yaml:"clear_after"`
	// EventTTL is how long a one-off event (a guest I/O error) counts after it happened.
	EventTTL Duration `yaml:"event_ttl"`
	// RPCLatency: a median libvirt round trip above this (over the last 10 probes) is a warning;
	// 0 disables the signal. It must be below timings.probe_timeout.
	RPCLatency Duration `yaml:"rpc_latency"`
	// MemoryAvailable: available host memory below this share of the total is a warning;
	// 0 disables the signal.
	MemoryAvailable float64 `yaml:"memory_available"`
}

// Failback tunes the return of VMs to their home hosts once those are healthy again.
type Failback struct {
	// Enabled turns failback on (default true).
	Enabled bool `yaml:"enabled"`
	// StableFor: the home host must have been healthy this long, without degrading or failing,
	// before any VM returns to it.
	StableFor Duration `yaml:"stable_for"`
	// WaveSize VMs return per wave, WaveInterval apart.
	WaveSize     int      `yaml:"wave_size"`
	WaveInterval Duration `yaml:"wave_interval"`
	// NoFailbackVMs stay where they landed; so do the VMs whose home host is in a group listed
	// in NoFailbackGroups.
	NoFailbackVMs    []string `yaml:"nofailback_vms,omitempty"`
	NoFailbackGroups []string `yaml:"nofailback_groups,omitempty"`
}

// ApprovalMode says whether a plan runs by itself, waits for a person, or is only announced. It
// is policy.ApprovalMode: the reconciler reads the same values.
type ApprovalMode = policy.ApprovalMode

// Approval modes.
const (
	// ApprovalAutomatic plans run at once (and are notified).
	ApprovalAutomatic = policy.ApprovalAutomatic
	// ApprovalApprove plans wait for `lifeboat approve` (or expire).
	ApprovalApprove = policy.ApprovalApprove
	// ApprovalNotifyOnly plans are announced and never run by lifeboat.
	ApprovalNotifyOnly = policy.ApprovalNotifyOnly
)

// PlanKinds are the kinds of plan the approval mode applies to.
var PlanKinds = []string{"evacuation", "failback", "switchover", "recovery"}

// Approval chooses, per cluster, host group or plan kind, whether plans need a person. The
// most specific setting wins: groups, then kinds, then mode.
type Approval struct {
	// Mode is the cluster's default.
	Mode ApprovalMode `yaml:"mode"`
	// Kinds override Mode per plan kind (evacuation, failback, switchover, recovery).
	Kinds map[string]ApprovalMode `yaml:"kinds,omitempty"`
	// Groups override both for plans about hosts of a group (the host a plan empties or fills).
	Groups map[string]ApprovalMode `yaml:"groups,omitempty"`
	// TTL is how long a plan waits for a decision before it expires (and nothing moves).
	TTL Duration `yaml:"ttl"`
	// RecoveryDeadline lets a hard-failure recovery proceed without approval once it has waited
	// this long (0: never; the journal and the notification say when it happens).
	RecoveryDeadline Duration `yaml:"recovery_deadline"`
}

// Alerts are external health sources.
type Alerts struct {
	// Alertmanager receives Prometheus Alertmanager webhooks at /v1/alerts/alertmanager.
	Alertmanager Alertmanager `yaml:"alertmanager,omitempty"`
}

// Alertmanager maps Alertmanager alerts to hosts.
type Alertmanager struct {
	// TokenFile holds the bearer token Alertmanager must send (http_config.authorization);
	// empty disables the receiver.
	TokenFile string `yaml:"token_file,omitempty"`
	// HostLabel is the alert label naming the host (default "instance"; a ":port" suffix is
	// ignored).
	HostLabel string `yaml:"host_label,omitempty"`
	// Hosts maps label values to host names, for hosts whose label value is not their name.
	Hosts map[string]string `yaml:"hosts,omitempty"`
	// SeverityLabel is the label giving warning or critical (default "severity"; other values
	// count as warning).
	SeverityLabel string `yaml:"severity_label,omitempty"`
	// ExpireAfter is how long a firing alert counts after its latest notification: an alert
	// that Alertmanager stops repeating (a lost resolve, a removed rule) stops counting then.
	// Keep it above Alertmanager's repeat_interval (default 4h); the default is 12h.
	ExpireAfter Duration `yaml:"expire_after,omitempty"`
}

// DefaultAlertExpireAfter is alerts.alertmanager.expire_after's default: three times
// Alertmanager's default repeat_interval (4h).
const DefaultAlertExpireAfter = 12 * time.Hour

// MinAlertExpireAfter is the shortest alerts.alertmanager.expire_after: Alertmanager repeats a
// firing alert no more often than its group_interval (default 5m), so anything shorter would
// drop alerts that are still firing.
const MinAlertExpireAfter = 5 * time.Minute

// ModeFor is the approval mode of a plan of the given kind about a host of the given group.
func (a Approval) ModeFor(kind, group string) ApprovalMode {
	if m, ok := a.Groups[group]; ok && group != "" {
		return m
	}
	if m, ok := a.Kinds[kind]; ok {
		return m
	}
	if a.Mode == "" {
		return ApprovalAutomatic
	}
	return a.Mode
}

func validMode(m ApprovalMode) bool {
	switch m {
	case ApprovalAutomatic, ApprovalApprove, ApprovalNotifyOnly:
		return true
	}
	return false
}

// validateDegradation checks the health, failback, approval and alerts sections.
func (c *Config) validateDegradation() []error {
	var errs []error
	h := c.Health
	if h.DegradeScore < 1 {
		errs = append(errs, fieldErr("health.degrade_score", "%d: want at least 1", h.DegradeScore))
	}
	if h.ClearScore < 1 || h.ClearScore > h.DegradeScore {
		errs = append(errs, fieldErr("health.clear_score", "%d: want from 1 to health.degrade_score (%d): a host clears once its score is below it", h.ClearScore, h.DegradeScore))
	}
	if h.ClearAfter < 0 {
		errs = append(errs, fieldErr("health.clear_after", "%s: must not be negative", h.ClearAfter))
	}
	if h.EventTTL <= 0 {
		errs = append(errs, fieldErr("health.event_ttl", "%s: must be positive", h.EventTTL))
	}
	if h.RPCLatency < 0 {
		errs = append(errs, fieldErr("health.rpc_latency", "%s: must not be negative (0 disables)", h.RPCLatency))
	} else if h.RPCLatency > 0 && h.RPCLatency >= c.Timings.ProbeTimeout {
		errs = append(errs, fieldErr("health.rpc_latency", "%s: must be below timings.probe_timeout (%s), or no answered probe could ever be that slow", h.RPCLatency, c.Timings.ProbeTimeout))
	}
	if h.MemoryAvailable < 0 || h.MemoryAvailable >= 1 {
		errs = append(errs, fieldErr("health.memory_available", "%v: want a share from 0 (off) to below 1", h.MemoryAvailable))
	}
	f := c.Failback
	if f.StableFor < 0 {
		errs = append(errs, fieldErr("failback.stable_for", "%s: must not be negative", f.StableFor))
	}
	if f.WaveSize < 1 {
		errs = append(errs, fieldErr("failback.wave_size", "%d: want at least 1", f.WaveSize))
	}
	if f.WaveInterval < 0 {
		errs = append(errs, fieldErr("failback.wave_interval", "%s: must not be negative", f.WaveInterval))
	}
	a := c.Approval
	if !validMode(a.Mode) {
		errs = append(errs, fieldErr("approval.mode", "%q: want automatic, approve or notify-only", a.Mode))
	}
	for k, m := range a.Kinds {
		known := false
		for _, pk := range PlanKinds {
			known = known || pk == k
		}
		if !known {
			errs = append(errs, fieldErr("approval.kinds."+k, "unknown plan kind: want evacuation, failback, switchover or recovery"))
		} else if !validMode(m) {
			errs = append(errs, fieldErr("approval.kinds."+k, "%q: want automatic, approve or notify-only", m))
		}
	}
	groups := map[string]bool{}
	for _, h := range c.Hosts {
		groups[h.Group] = true
	}
	for g, m := range a.Groups {
		if !groups[g] || g == "" {
			errs = append(errs, fieldErr("approval.groups."+g, "no host is in group %q", g))
		} else if !validMode(m) {
			errs = append(errs, fieldErr("approval.groups."+g, "%q: want automatic, approve or notify-only", m))
		}
	}
	if a.TTL <= 0 {
		errs = append(errs, fieldErr("approval.ttl", "%s: must be positive", a.TTL))
	}
	if a.RecoveryDeadline < 0 {
		errs = append(errs, fieldErr("approval.recovery_deadline", "%s: must not be negative (0: never)", a.RecoveryDeadline))
	}
	names := map[string]bool{}
	for _, h := range c.Hosts {
		names[h.Name] = true
	}
	if ea := c.Alerts.Alertmanager.ExpireAfter; ea.D() < MinAlertExpireAfter {
		errs = append(errs, fieldErr("alerts.alertmanager.expire_after", "%s: want at least %s, and more than Alertmanager's repeat_interval (default 4h), or alerts still firing stop counting", ea, Duration(MinAlertExpireAfter)))
	}
	for v, host := range c.Alerts.Alertmanager.Hosts {
		if !names[host] {
			errs = append(errs, fieldErr("alerts.alertmanager.hosts."+v, "%q is not a configured host", host))
		}
	}
	return errs
}
