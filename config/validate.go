package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/lifeboat-ha/lifeboat/witness"
)

// FieldError is a validation error that names the field at fault, e.g. hosts[1].bmc.endpoint.
type FieldError struct {
	Field string
	Msg   string
}

// Error implements error.
func (e *FieldError) Error() string { return e.Field + ": " + e.Msg }

// FieldErrors lists the field errors inside err (as joined by Validate), in order.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	switch e := err.(type) {
	case nil:
	case *FieldError:
		out = append(out, e)
	case interface{ Unwrap() []error }:
		for _, inner := range e.Unwrap() {
			out = append(out, FieldErrors(inner)...)
		}
	case interface{ Unwrap() error }:
		out = FieldErrors(e.Unwrap())
	}
	return out
}

func fieldErr(field, format string, args ...any) error {
	return &FieldError{Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Validate checks the whole configuration and returns every problem found.
func (c *Config) Validate() error {
	var errs []error
	if len(c.Hosts) == 0 {
		errs = append(errs, fieldErr("hosts", "at least one host is required"))
	}
	seen := map[string]int{}
	for i, h := range c.Hosts {
		p := fmt.Sprintf("hosts[%d]", i)
		if h.Name == "" {
			errs = append(errs, fieldErr(p+".name", "required"))
		} else if j, dup := seen[h.Name]; dup {
			errs = append(errs, fieldErr(p+".name", "%q already used by hosts[%d]", h.Name, j))
		} else {
			seen[h.Name] = i
		}
		if h.URI == "" {
			errs = append(errs, fieldErr(p+".uri", "required (a libvirt URI such as qemu+tcp://HOST/system)"))
		} else if u, err := url.Parse(h.URI); err != nil || !strings.HasPrefix(u.Scheme, "qemu") {
			errs = append(errs, fieldErr(p+".uri", "%q is not a qemu libvirt URI", h.URI))
		}
		switch h.Role {
		case RoleActive, RoleStandby:
		case "":
			errs = append(errs, fieldErr(p+".role", "required: active or standby"))
		default:
			errs = append(errs, fieldErr(p+".role", "%q: want active or standby", h.Role))
		}
		errs = append(errs, h.BMC.validate(p+".bmc")...)
		if h.BMC.Events == EventsPush && c.API.BMCEventURL == "" {
			errs = append(errs, fieldErr(p+".bmc.events", "push needs api.bmc_event_url (the URL at which the BMCs reach this daemon's API)"))
		}
		for j, f := range h.Fence {
			fp := fmt.Sprintf("%s.fence[%d]", p, j)
			if f.Type == "" || f.Type == BMCNone {
				errs = append(errs, fieldErr(fp+".type", "required: redfish, ipmi or exec"))
				continue
			}
			errs = append(errs, f.validate(fp)...)
			if f.Events != "" {
				errs = append(errs, fieldErr(fp+".events", "events are read from the host's bmc entry (hosts[].bmc.events), not from a fence method"))
			}
		}
	}
	switch c.Protection.Default {
	case "all", "none":
	default:
		errs = append(errs, fieldErr("protection.default", "%q: want all or none", c.Protection.Default))
	}
	vmSeen := map[string]bool{}
	for i, r := range c.Protection.VMs {
		p := fmt.Sprintf("protection.vms[%d]", i)
		if r.Name == "" {
			errs = append(errs, fieldErr(p+".name", "required"))
		} else if vmSeen[r.Name] {
			errs = append(errs, fieldErr(p+".name", "%q listed twice", r.Name))
		}
		vmSeen[r.Name] = true
		if r.Probe != "" {
			if _, err := witness.ParseTarget(r.Probe); err != nil {
				errs = append(errs, fieldErr(p+".probe", "%v", err))
			}
		}
	}
	t := c.Timings
	for _, d := range []struct {
		name string
		v    any
		ok   bool
	}{
		{"timings.probe_interval", t.ProbeInterval, t.ProbeInterval > 0},
		{"timings.probe_timeout", t.ProbeTimeout, t.ProbeTimeout > 0},
		{"timings.suspect_after", t.SuspectAfter, t.SuspectAfter > 0},
		{"timings.unreachable_after", t.UnreachableAfter, t.UnreachableAfter >= t.SuspectAfter},
		{"timings.stable_for", t.StableFor, t.StableFor >= 0},
		{"timings.bmc_interval", t.BMCInterval, t.BMCInterval > 0},
		{"timings.bmc_timeout", t.BMCTimeout, t.BMCTimeout > 0},
		{"timings.inventory_interval", t.InventoryInterval, t.InventoryInterval > 0},
	} {
		if !d.ok {
			errs = append(errs, fieldErr(d.name, "%v is out of range", d.v))
		}
	}
	if t.BMCHealthInterval <= 0 || t.BMCHealthInterval < t.BMCInterval {
		errs = append(errs, fieldErr("timings.bmc_health_interval", "%v is out of range: want at least timings.bmc_interval (%v)", t.BMCHealthInterval, t.BMCInterval))
	}
	m := c.Migration
	if m.PerHostOut < 1 {
		errs = append(errs, fieldErr("migration.per_host_out", "%d: want at least 1", m.PerHostOut))
	}
	if m.PerHostIn < 1 {
		errs = append(errs, fieldErr("migration.per_host_in", "%d: want at least 1", m.PerHostIn))
	}
	if m.Cluster < 1 {
		errs = append(errs, fieldErr("migration.cluster", "%d: want at least 1", m.Cluster))
	}
	if len(m.Downtimes) == 0 {
		errs = append(errs, fieldErr("migration.downtimes", "at least one step is required"))
	}
	for i, d := range m.Downtimes {
		if d <= 0 || (i > 0 && d <= m.Downtimes[i-1]) {
			errs = append(errs, fieldErr(fmt.Sprintf("migration.downtimes[%d]", i), "%s: steps must be positive and rising", d))
		}
	}
	if m.StallSamples < 1 {
		errs = append(errs, fieldErr("migration.stall_samples", "%d: want at least 1", m.StallSamples))
	}
	if m.MaxDuration <= 0 {
		errs = append(errs, fieldErr("migration.max_duration", "%s: must be positive", m.MaxDuration))
	}
	for i, o := range m.Overrides {
		p := fmt.Sprintf("migration.overrides[%d]", i)
		if len(o.VMs) == 0 && o.Group == "" {
			errs = append(errs, fieldErr(p, "needs vms or group to say which VMs it applies to"))
		}
		for j, d := range o.Downtimes {
			if d <= 0 || (j > 0 && d <= o.Downtimes[j-1]) {
				errs = append(errs, fieldErr(fmt.Sprintf("%s.downtimes[%d]", p, j), "%s: steps must be positive and rising", d))
			}
		}
	}
	if c.Placement.MemoryOvercommit <= 0 {
		errs = append(errs, fieldErr("placement.memory_overcommit", "%v: must be positive", c.Placement.MemoryOvercommit))
	}
	if c.Placement.CPUOvercommit <= 0 {
		errs = append(errs, fieldErr("placement.cpu_overcommit", "%v: must be positive", c.Placement.CPUOvercommit))
	}
	ruleNames := map[string]bool{}
	for i, r := range c.Placement.Rules {
		p := fmt.Sprintf("placement.rules[%d]", i)
		if r.Name == "" || ruleNames[r.Name] {
			errs = append(errs, fieldErr(p+".name", "%q: required and unique", r.Name))
		}
		ruleNames[r.Name] = true
		if len(r.VMs) < 2 {
			errs = append(errs, fieldErr(p+".vms", "a rule needs at least two VMs"))
		}
	}
	rc := c.Recovery
	if rc.MassFailureFraction <= 0 || rc.MassFailureFraction > 1 {
		errs = append(errs, fieldErr("recovery.mass_failure_fraction", "%v: want more than 0 and at most 1", rc.MassFailureFraction))
	}
	if rc.MassFailureWindow <= 0 {
		errs = append(errs, fieldErr("recovery.mass_failure_window", "%s: must be positive", rc.MassFailureWindow))
	}
	if rc.FenceWindow < 0 {
		errs = append(errs, fieldErr("recovery.fence_window", "%s: must not be negative", rc.FenceWindow))
	}
	if rc.FenceTimeout <= 0 {
		errs = append(errs, fieldErr("recovery.fence_timeout", "%s: must be positive", rc.FenceTimeout))
	}
	if rc.RestartConcurrency < 1 {
		errs = append(errs, fieldErr("recovery.restart_concurrency", "%d: want at least 1", rc.RestartConcurrency))
	}
	if gm := rc.GuestMonitoring; gm.Enabled {
		if gm.MaxResets < 1 {
			errs = append(errs, fieldErr("recovery.guest_monitoring.max_resets", "%d: want at least 1 (or enabled: false)", gm.MaxResets))
		}
		if gm.ResetWindow <= 0 {
			errs = append(errs, fieldErr("recovery.guest_monitoring.reset_window", "%s: must be positive", gm.ResetWindow))
		}
	}
	switch rc.PartitionPolicy {
	case PartitionWaitForGuests, PartitionFence:
	default:
		errs = append(errs, fieldErr("recovery.partition_policy", "%q: want %s or %s", rc.PartitionPolicy, PartitionWaitForGuests, PartitionFence))
	}
	if c.Notify.WebhookURL != "" {
		if u, err := url.Parse(c.Notify.WebhookURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fieldErr("notify.webhook_url", "%q: want an http(s) URL", c.Notify.WebhookURL))
		}
	}
	errs = append(errs, c.validateDegradation()...)
	errs = append(errs, c.Store.validate()...)
	if c.API.Advertise != "" {
		if u, err := url.Parse(c.API.Advertise); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fieldErr("api.advertise", "%q: want an http(s) URL such as http://10.0.0.5:7400", c.API.Advertise))
		}
	}
	errs = append(errs, c.API.validate())
	if _, _, err := net.SplitHostPort(c.API.Listen); err != nil {
		errs = append(errs, fieldErr("api.listen", "%q: want HOST:PORT", c.API.Listen))
	}
	return errors.Join(errs...)
}

// validate checks one BMC entry (p is its field path, e.g. hosts[0].bmc) against what the fence
// and health code needs to build it, and returns every problem found.
func (b BMC) validate(p string) []error {
	var errs []error
	switch b.Type {
	case BMCNone, "":
		return nil
	case BMCRedfish:
		u, err := url.Parse(b.Endpoint)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			errs = append(errs, fieldErr(p+".endpoint", "%q: want an http(s) URL of the BMC", b.Endpoint))
		} else {
			errs = append(errs, b.validateTrust(p, u.Scheme)...)
		}
	case BMCIPMI:
		switch {
		case b.Endpoint == "":
			errs = append(errs, fieldErr(p+".endpoint", "required: the BMC's address"))
		case strings.HasPrefix(b.Endpoint, "-") || strings.ContainsAny(b.Endpoint, " \t\r\n"):
			errs = append(errs, fieldErr(p+".endpoint", "%q: want a host name or IP address (a port goes in port)", b.Endpoint))
		}
		if b.Port < 0 || b.Port > 65535 {
			errs = append(errs, fieldErr(p+".port", "%d: want a UDP port from 1 to 65535 (or none for 623)", b.Port))
		}
		if b.CipherSuite < 0 || b.CipherSuite > 17 {
			errs = append(errs, fieldErr(p+".cipher_suite", "%d: want an RMCP+ cipher suite from 1 to 17 (or none)", b.CipherSuite))
		}
	case BMCExec:
		switch {
		case b.Agent != "" && !filepath.IsAbs(b.AgentPath()):
			errs = append(errs, fieldErr(p+".agent", "%q: want a fence agent's name (found in %s) or its absolute path", b.Agent, FenceAgentDir))
		case b.Agent == "" && b.Endpoint == "":
			errs = append(errs, fieldErr(p+".agent", "required: the fence agent, e.g. fence_ipmilan"))
		case b.Agent == "" && !filepath.IsAbs(b.Endpoint):
			errs = append(errs, fieldErr(p+".endpoint", "%q: want the fence agent's absolute path, e.g. /usr/sbin/fence_ipmilan (or its name in agent)", b.Endpoint))
		}
		keys := make([]string, 0, len(b.Options))
		for k := range b.Options {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v := b.Options[k]
			switch {
			case slices.Contains(ExecReservedOptions, k):
				errs = append(errs, fieldErr(p+".options."+k, "set by lifeboat (the action, and credentials from credentials_file)"))
			case k == "" || strings.ContainsAny(k, "=\r\n") || strings.ContainsAny(v, "\r\n"):
				errs = append(errs, fieldErr(p+".options."+k, "want a key without '=' and a value without newlines"))
			}
		}
	default:
		return []error{fieldErr(p+".type", "%q: want redfish, ipmi, exec or none", b.Type)}
	}
	switch b.Events {
	case "", EventsAuto, EventsOff:
	case EventsSSE, EventsPush:
		if b.Type != BMCRedfish {
			errs = append(errs, fieldErr(p+".events", "%s: only a redfish BMC has events (want auto or off for %s)", b.Events, b.Type))
		}
	default:
		errs = append(errs, fieldErr(p+".events", "%q: want auto, sse, push or off", b.Events))
	}
	if b.Type != BMCRedfish && (b.CAFile != "" || b.PinnedSHA256 != "" || b.AllowHTTP) {
		errs = append(errs, fieldErr(p+".type", "%s: ca_file, pinned_sha256 and allow_http are for redfish BMCs", b.Type))
	}
	if b.Type != BMCIPMI && (b.Port != 0 || b.CipherSuite != 0) {
		errs = append(errs, fieldErr(p+".type", "%s: port and cipher_suite are for ipmi methods", b.Type))
	}
	if b.Agent != "" && b.Type != BMCExec {
		errs = append(errs, fieldErr(p+".agent", "only an exec method runs a fence agent"))
	}
	if b.CredentialsFile == "" {
		errs = append(errs, fieldErr(p+".credentials_file", "required for %s (a file with username= and password= lines)", b.Type))
	}
	return errs
}

// ExecReservedOptions are the fence agent options lifeboat sets itself; a configuration must not.
var ExecReservedOptions = []string{"action", "username", "login", "password", "passwd"}
