package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Scenario is one scenario file: a cluster, settings, a script of timed events and, optionally,
// the expected action log.
type Scenario struct {
	Description string
	Cluster     Cluster
	Settings    Settings
	Events      []Event
	// Until is how long the simulation runs.
	Until time.Duration
	// Expect is the expected action log, one line per entry; HasExpect is false when the file has
	// no expect section.
	Expect    []string
	HasExpect bool
}

// Cluster is the simulated cluster.
type Cluster struct {
	Hosts []Host
	VMs   []VM
}

// Host is one simulated hypervisor host.
type Host struct {
	Name      string
	Role      string // active or standby
	Group     string
	MemoryMiB int
	VCPUs     int
	// BMC is false for a host without a fence device (bmc type none).
	BMC bool
}

// VM is one simulated VM, running on Host when the scenario starts.
type VM struct {
	Name      string
	Host      string
	Protected bool
	Priority  int
	MemoryMiB int
	VCPUs     int
}

// Settings are the controller's settings the scenario runs under.
type Settings struct {
	Recovery  RecoverySettings
	Timings   TimingSettings
	Approval  ApprovalSettings
	Placement PlacementSettings
}

// RecoverySettings mirror the recovery section of lifeboat.yaml.
type RecoverySettings struct {
	Automatic           bool
	MassFailureFraction float64
	MassFailureWindow   time.Duration
	FenceWindow         time.Duration
	FenceTimeout        time.Duration
	RestartConcurrency  int
	// PartitionPolicy is wait-for-guests or fence.
	PartitionPolicy string
	// GuestMonitoring mirrors recovery.guest_monitoring: crashed guests restart in place.
	GuestMonitoring GuestMonitoringSettings
}

// GuestMonitoringSettings mirror recovery.guest_monitoring.
type GuestMonitoringSettings struct {
	Enabled     bool
	MaxResets   int
	ResetWindow time.Duration
}

// TimingSettings are the detector's timings plus how long the simulated jobs take.
type TimingSettings struct {
	ProbeInterval    time.Duration
	SuspectAfter     time.Duration
	UnreachableAfter time.Duration
	StableFor        time.Duration
	// FenceDuration is how long a fence ladder takes to power a host off (or to fail with an
	// error); a fence device that hangs, or a BMC that does not answer, fails after
	// Recovery.FenceTimeout instead.
	FenceDuration time.Duration
	// RestartDuration is how long a VM takes to start on its new host.
	RestartDuration time.Duration
}

// ApprovalSettings choose the approval mode of recovery plans.
type ApprovalSettings struct {
	// Recovery is the mode for recovery plans (automatic, approve, notify-only); Groups
	// overrides it per host group.
	Recovery string
	Groups   map[string]string
	// TTL is how long a pending plan waits for a decision, and how long a declined plan holds
	// its situation back; RecoveryDeadline (when set) lets a pending recovery proceed.
	TTL              time.Duration
	RecoveryDeadline time.Duration
}

// PlacementSettings mirror the placement section of lifeboat.yaml.
type PlacementSettings struct {
	MemoryOvercommit float64
	CPUOvercommit    float64
	Rules            []Rule
}

// Rule is an affinity (Anti false) or anti-affinity rule.
type Rule struct {
	Name string
	VMs  []string
	Anti bool
}

// Event is one scripted event: at a time, a verb and its host or VM (if any).
type Event struct {
	At   time.Duration
	Verb Verb
	Host string
	VM   string
	// Field names the event in error messages ("events[3]").
	Field string
}

// DefaultSettings are lifeboat's defaults (config.Default) plus the simulator's job durations.
func DefaultSettings() Settings {
	return Settings{
		Recovery: RecoverySettings{Automatic: true, MassFailureFraction: 0.34, MassFailureWindow: 10 * time.Second,
			FenceWindow: 10 * time.Minute, FenceTimeout: 20 * time.Second, RestartConcurrency: 4, PartitionPolicy: "wait-for-guests",
			GuestMonitoring: GuestMonitoringSettings{Enabled: true, MaxResets: 3, ResetWindow: time.Hour}},
		Timings: TimingSettings{ProbeInterval: 500 * time.Millisecond, SuspectAfter: time.Second, UnreachableAfter: 3 * time.Second,
			StableFor: 30 * time.Second, FenceDuration: time.Second, RestartDuration: time.Second},
		Approval:  ApprovalSettings{Recovery: "automatic", TTL: 30 * time.Minute},
		Placement: PlacementSettings{MemoryOvercommit: 1, CPUOvercommit: 4},
	}
}

// The file's shape. Durations are read as text so that errors can name the field.
type fileScenario struct {
	Description string       `yaml:"description"`
	Cluster     fileCluster  `yaml:"cluster"`
	Settings    fileSettings `yaml:"settings"`
	Until       string       `yaml:"until"`
	Events      []fileEvent  `yaml:"events"`
	Expect      *string      `yaml:"expect"`
}

type fileCluster struct {
	Hosts []fileHost `yaml:"hosts"`
	VMs   []fileVM   `yaml:"vms"`
}

type fileHost struct {
	Name      string `yaml:"name"`
	Role      string `yaml:"role"`
	Group     string `yaml:"group"`
	MemoryMiB int    `yaml:"memory_mib"`
	VCPUs     int    `yaml:"vcpus"`
	BMC       *bool  `yaml:"bmc"`
}

type fileVM struct {
	Name      string `yaml:"name"`
	Host      string `yaml:"host"`
	Protected *bool  `yaml:"protected"`
	Priority  int    `yaml:"priority"`
	MemoryMiB int    `yaml:"memory_mib"`
	VCPUs     int    `yaml:"vcpus"`
}

type fileSettings struct {
	Recovery struct {
		Automatic           *bool    `yaml:"automatic"`
		MassFailureFraction *float64 `yaml:"mass_failure_fraction"`
		MassFailureWindow   string   `yaml:"mass_failure_window"`
		FenceWindow         string   `yaml:"fence_window"`
		FenceTimeout        string   `yaml:"fence_timeout"`
		RestartConcurrency  *int     `yaml:"restart_concurrency"`
		PartitionPolicy     string   `yaml:"partition_policy"`
		GuestMonitoring     struct {
			Enabled     *bool  `yaml:"enabled"`
			MaxResets   *int   `yaml:"max_resets"`
			ResetWindow string `yaml:"reset_window"`
		} `yaml:"guest_monitoring"`
	} `yaml:"recovery"`
	Timings struct {
		ProbeInterval    string `yaml:"probe_interval"`
		SuspectAfter     string `yaml:"suspect_after"`
		UnreachableAfter string `yaml:"unreachable_after"`
		StableFor        string `yaml:"stable_for"`
		FenceDuration    string `yaml:"fence_duration"`
		RestartDuration  string `yaml:"restart_duration"`
	} `yaml:"timings"`
	Approval struct {
		Recovery         string            `yaml:"recovery"`
		Groups           map[string]string `yaml:"groups"`
		TTL              string            `yaml:"ttl"`
		RecoveryDeadline string            `yaml:"recovery_deadline"`
	} `yaml:"approval"`
	Placement struct {
		MemoryOvercommit *float64 `yaml:"memory_overcommit"`
		CPUOvercommit    *float64 `yaml:"cpu_overcommit"`
		Rules            []struct {
			Name string   `yaml:"name"`
			VMs  []string `yaml:"vms"`
			Anti bool     `yaml:"anti"`
		} `yaml:"rules"`
	} `yaml:"placement"`
}

type fileEvent struct {
	At string `yaml:"at"`
	Do string `yaml:"do"`
}

// Load reads and checks a scenario file.
func Load(path string) (Scenario, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario: %w", err)
	}
	s, err := Parse(b)
	if err != nil {
		return Scenario{}, fmt.Errorf("scenario %s: %w", path, err)
	}
	return s, nil
}

// Parse decodes and checks a scenario; errors name the field at fault ("events[3].at").
func Parse(b []byte) (Scenario, error) {
	var f fileScenario
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return Scenario{}, fmt.Errorf("parse: %w", err)
	}
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	dur := func(field, text string, into *time.Duration, positive bool) {
		if text == "" {
			return
		}
		d, err := time.ParseDuration(text)
		switch {
		case err != nil:
			add(field, "%q is not a duration (such as 500ms or 3s)", text)
		case d < 0 || (positive && d == 0):
			add(field, "%s: want a positive duration", text)
		default:
			*into = d
		}
	}
	s := Scenario{Description: strings.TrimSpace(f.Description), Settings: DefaultSettings()}
	if s.Description == "" {
		add("description", "missing: say in a sentence what the scenario shows")
	}
	hosts := map[string]bool{}
	for i, h := range f.Cluster.Hosts {
		field := fmt.Sprintf("cluster.hosts[%d]", i)
		host := Host{Name: h.Name, Role: h.Role, Group: h.Group, MemoryMiB: h.MemoryMiB, VCPUs: h.VCPUs, BMC: h.BMC == nil || *h.BMC}
		if host.Role == "" {
			host.Role = "active"
		}
		switch {
		case h.Name == "":
			add(field+".name", "missing")
		case hosts[h.Name]:
			add(field+".name", "%q is used twice", h.Name)
		}
		hosts[h.Name] = true
		if host.Role != "active" && host.Role != "standby" {
			add(field+".role", "%q: want active or standby", h.Role)
		}
		if h.MemoryMiB <= 0 {
			add(field+".memory_mib", "%d: want a positive size", h.MemoryMiB)
		}
		if h.VCPUs <= 0 {
			add(field+".vcpus", "%d: want a positive count", h.VCPUs)
		}
		s.Cluster.Hosts = append(s.Cluster.Hosts, host)
	}
	if len(f.Cluster.Hosts) == 0 {
		add("cluster.hosts", "missing: a scenario needs at least one host")
	}
	vms := map[string]bool{}
	for i, v := range f.Cluster.VMs {
		field := fmt.Sprintf("cluster.vms[%d]", i)
		vm := VM{Name: v.Name, Host: v.Host, Protected: v.Protected == nil || *v.Protected, Priority: v.Priority, MemoryMiB: v.MemoryMiB, VCPUs: v.VCPUs}
		switch {
		case v.Name == "":
			add(field+".name", "missing")
		case vms[v.Name]:
			add(field+".name", "%q is used twice", v.Name)
		}
		vms[v.Name] = true
		if !hosts[v.Host] {
			add(field+".host", "%q is not a host of cluster.hosts", v.Host)
		}
		if v.MemoryMiB <= 0 {
			add(field+".memory_mib", "%d: want a positive size", v.MemoryMiB)
		}
		if v.VCPUs <= 0 {
			add(field+".vcpus", "%d: want a positive count", v.VCPUs)
		}
		s.Cluster.VMs = append(s.Cluster.VMs, vm)
	}
	errs = append(errs, parseSettings(&s.Settings, f.Settings, vms, dur)...)
	for i, e := range f.Events {
		field := fmt.Sprintf("events[%d]", i)
		ev := Event{Field: field}
		if e.At == "" {
			add(field+".at", "missing: when the event happens (such as 3s)")
		}
		dur(field+".at", e.At, &ev.At, false)
		verb, host, err := parseDo(e.Do)
		if err != nil {
			add(field+".do", "%v", err)
		} else {
			switch {
			case slices.Contains(vmVerbs, verb):
				ev.Verb, ev.VM = verb, host
				if !vms[host] {
					add(field+".do", "%q is not a VM of cluster.vms", host)
				}
			default:
				ev.Verb, ev.Host = verb, host
				if host != "" && !hosts[host] {
					add(field+".do", "%q is not a host of cluster.hosts", host)
				}
			}
		}
		if i > 0 && len(s.Events) > 0 && ev.At < s.Events[len(s.Events)-1].At {
			add(field+".at", "%s is before the previous event: list events in time order", e.At)
		}
		s.Events = append(s.Events, ev)
	}
	last := time.Duration(0)
	if n := len(s.Events); n > 0 {
		last = s.Events[n-1].At
	}
	s.Until = last + 40*time.Second
	dur("until", f.Until, &s.Until, true)
	if s.Until < last {
		add("until", "%s is before the last event (%s)", s.Until, last)
	}
	if f.Expect != nil {
		s.HasExpect = true
		s.Expect = splitLines(*f.Expect)
	}
	if err := errors.Join(errs...); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

func parseSettings(st *Settings, f fileSettings, vms map[string]bool, dur func(string, string, *time.Duration, bool)) []error {
	var errs []error
	add := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, args...)))
	}
	r, fr := &st.Recovery, f.Recovery
	if fr.Automatic != nil {
		r.Automatic = *fr.Automatic
	}
	if fr.MassFailureFraction != nil {
		r.MassFailureFraction = *fr.MassFailureFraction
		if r.MassFailureFraction <= 0 || r.MassFailureFraction > 1 {
			add("settings.recovery.mass_failure_fraction", "%g: want more than 0, at most 1", r.MassFailureFraction)
		}
	}
	dur("settings.recovery.mass_failure_window", fr.MassFailureWindow, &r.MassFailureWindow, true)
	dur("settings.recovery.fence_window", fr.FenceWindow, &r.FenceWindow, false)
	dur("settings.recovery.fence_timeout", fr.FenceTimeout, &r.FenceTimeout, true)
	if fr.RestartConcurrency != nil {
		r.RestartConcurrency = *fr.RestartConcurrency
		if r.RestartConcurrency < 1 {
			add("settings.recovery.restart_concurrency", "%d: want at least 1", r.RestartConcurrency)
		}
	}
	if fr.PartitionPolicy != "" {
		r.PartitionPolicy = fr.PartitionPolicy
		if r.PartitionPolicy != "wait-for-guests" && r.PartitionPolicy != "fence" {
			add("settings.recovery.partition_policy", "%q: want wait-for-guests or fence", fr.PartitionPolicy)
		}
	}
	gm, fg := &r.GuestMonitoring, fr.GuestMonitoring
	if fg.Enabled != nil {
		gm.Enabled = *fg.Enabled
	}
	if fg.MaxResets != nil {
		gm.MaxResets = *fg.MaxResets
		if gm.MaxResets < 1 {
			add("settings.recovery.guest_monitoring.max_resets", "%d: want at least 1", gm.MaxResets)
		}
	}
	dur("settings.recovery.guest_monitoring.reset_window", fg.ResetWindow, &gm.ResetWindow, true)
	t, ft := &st.Timings, f.Timings
	dur("settings.timings.probe_interval", ft.ProbeInterval, &t.ProbeInterval, true)
	dur("settings.timings.suspect_after", ft.SuspectAfter, &t.SuspectAfter, true)
	dur("settings.timings.unreachable_after", ft.UnreachableAfter, &t.UnreachableAfter, true)
	dur("settings.timings.stable_for", ft.StableFor, &t.StableFor, false)
	dur("settings.timings.fence_duration", ft.FenceDuration, &t.FenceDuration, false)
	dur("settings.timings.restart_duration", ft.RestartDuration, &t.RestartDuration, false)
	if t.UnreachableAfter < t.SuspectAfter {
		add("settings.timings.unreachable_after", "%s is shorter than suspect_after (%s)", t.UnreachableAfter, t.SuspectAfter)
	}
	a, fa := &st.Approval, f.Approval
	if fa.Recovery != "" {
		a.Recovery = fa.Recovery
	}
	if !validMode(a.Recovery) {
		add("settings.approval.recovery", "%q: want automatic, approve or notify-only", fa.Recovery)
	}
	for g, m := range fa.Groups {
		if !validMode(m) {
			add("settings.approval.groups."+g, "%q: want automatic, approve or notify-only", m)
		}
	}
	a.Groups = fa.Groups
	dur("settings.approval.ttl", fa.TTL, &a.TTL, true)
	dur("settings.approval.recovery_deadline", fa.RecoveryDeadline, &a.RecoveryDeadline, false)
	p, fp := &st.Placement, f.Placement
	if fp.MemoryOvercommit != nil {
		p.MemoryOvercommit = *fp.MemoryOvercommit
	}
	if fp.CPUOvercommit != nil {
		p.CPUOvercommit = *fp.CPUOvercommit
	}
	for i, fr := range fp.Rules {
		field := fmt.Sprintf("settings.placement.rules[%d]", i)
		if len(fr.VMs) < 2 {
			add(field+".vms", "want at least two VMs")
		}
		for j, vm := range fr.VMs {
			if !vms[vm] {
				add(fmt.Sprintf("%s.vms[%d]", field, j), "%q is not a VM of cluster.vms", vm)
			}
		}
		p.Rules = append(p.Rules, Rule{Name: fr.Name, VMs: fr.VMs, Anti: fr.Anti})
	}
	return errs
}

func validMode(m string) bool {
	return m == "automatic" || m == "approve" || m == "notify-only"
}

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
