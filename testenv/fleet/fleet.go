// Package fleet is a simulated fleet of hypervisor hosts behind lifeboat's hypervisor.Host
// interface, for scale benchmarks and deterministic scenarios. Its libvirt side does no I/O:
// probes answer at once with the outcome the test set, inventories list made-up domains. Its
// hosts can each have a real Redfish BMC emulator (testenv/bmc) on a real socket, in the same
// process (StartBMCs) or all in one child process (StartBMCProcess), so that a benchmark
// measures the process that watches them without them; cutting a host's power (CutPower) makes its BMC say Off and its libvirt
// probes time out, as a real power loss does.
package fleet

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// Fleet is a set of simulated hosts, created on demand by Dial.
type Fleet struct {
	mu         sync.Mutex
	hosts      map[string]*Host
	vmsPerHost int
	// bmcs are the emulators StartBMCs started, by host name.
	bmcs map[string]*bmc.Server
	// remote are the BMC processes of the hosts whose emulators run in one (StartBMCProcess),
	// by host name; procs lists those processes.
	remote map[string]*BMCProcess
	procs  []*BMCProcess
	// started records each StartDomain: where and when a domain was started, by UUID.
	started map[string]Start
}

// Start is where and when a domain was started on a simulated host (StartDomain).
type Start struct {
	Host string
	At   time.Time
}

// New makes a fleet whose hosts each run vmsPerHost domains.
func New(vmsPerHost int) *Fleet {
	return &Fleet{hosts: map[string]*Host{}, vmsPerHost: vmsPerHost, bmcs: map[string]*bmc.Server{}, remote: map[string]*BMCProcess{}, started: map[string]Start{}}
}

// Dial is a hypervisor.Dialer that returns the simulated host of that name: the one StartBMCs
// or StartBMCProcess made, else a new one.
func (f *Fleet) Dial(_ context.Context, name, _ string, opts hypervisor.Options) (hypervisor.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	if h, ok := f.hosts[name]; ok && (f.bmcs[name] != nil || f.remote[name] != nil) {
		h.mu.Lock()
		h.now, h.probeTimeout = now, opts.ProbeTimeout
		h.mu.Unlock()
		return h, nil
	}
	h := f.newHost(name)
	h.now, h.probeTimeout = now, opts.ProbeTimeout
	return h, nil
}

// newHost makes a powered host running vmsPerHost domains. Caller holds f.mu.
func (f *Fleet) newHost(name string) *Host {
	h := &Host{name: name, fleet: f, now: time.Now, outcome: hypervisor.ProbeOK, powered: true, memory: DefaultMemory, events: make(chan hypervisor.Event, 16)}
	for i := 0; i < f.vmsPerHost; i++ {
		h.domains = append(h.domains, hypervisor.Domain{
			UUID: fmt.Sprintf("%08x-0000-4000-8000-%012x", len(f.hosts), i), Name: fmt.Sprintf("%s-vm%d", name, i),
			State: hypervisor.StateRunning, StateReason: "booted", Persistent: true, MemoryKiB: 1 << 20, VCPUs: 1})
	}
	f.hosts[name] = h
	return h
}

// Started reports where and when the domain of that UUID was last started by StartDomain.
func (f *Fleet) Started(uuid string) (Start, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, ok := f.started[uuid]
	return s, ok
}

// Host returns a simulated host by name (nil before Dial).
func (f *Fleet) Host(name string) *Host {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hosts[name]
}

// Host is one simulated host.
type Host struct {
	name  string
	fleet *Fleet
	mu    sync.Mutex
	now   func() time.Time
	// probeTimeout is how long a probe of a powered-off host takes to time out (the dialer's
	// ProbeTimeout).
	probeTimeout time.Duration
	outcome      hypervisor.ProbeOutcome
	// powered is false after a power loss (CutPower) or a BMC's ForceOff, until power returns.
	powered   bool
	memory    hypervisor.NodeMemory
	domains   []hypervisor.Domain
	events    chan hypervisor.Event
	once      sync.Once
	closeOnce sync.Once
	resets    int
}

// SetOutcome makes every later probe of the host end this way.
func (h *Host) SetOutcome(o hypervisor.ProbeOutcome) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.outcome = o
}

// DefaultMemory is a simulated host's memory reading until SetMemory: 512 GiB, half of it
// available (free, buffers or cache).
var DefaultMemory = hypervisor.NodeMemory{TotalKiB: 512 << 20, FreeKiB: 192 << 20, BuffersKiB: 4 << 20, CachedKiB: 60 << 20}

// SetMemory makes every later NodeMemory of the host return this reading, e.g. to simulate
// memory pressure.
func (h *Host) SetMemory(m hypervisor.NodeMemory) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.memory = m
}

// SetDomainState changes a simulated domain's state and state reason, e.g. StatePaused with
// hypervisor.ReasonIOError for a guest whose storage failed. It returns ErrNoDomain for an
// unknown UUID.
func (h *Host) SetDomainState(uuid string, state hypervisor.DomainState, reason string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := range h.domains {
		if h.domains[i].UUID == uuid {
			h.domains[i].State, h.domains[i].StateReason = state, reason
			return nil
		}
	}
	return fmt.Errorf("fleet: %s: %w", uuid, hypervisor.ErrNoDomain)
}

// Name is the host's name.
func (h *Host) Name() string { return h.name }

// Probe answers at once with the outcome set. A powered-off host answers nothing: the probe
// times out after the dialer's ProbeTimeout (or when ctx ends).
func (h *Host) Probe(ctx context.Context) hypervisor.Probe {
	h.mu.Lock()
	powered, timeout := h.powered, h.probeTimeout
	h.mu.Unlock()
	if !powered {
		t := time.NewTimer(timeout)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		h.mu.Lock()
		defer h.mu.Unlock()
		return hypervisor.Probe{Outcome: hypervisor.ProbeTimeout, TCP: hypervisor.ProbeTimeout, At: h.now(),
			Err: fmt.Errorf("fleet: %s: no answer within %s: the host has no power", h.name, timeout)}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	p := hypervisor.Probe{Outcome: h.outcome, TCP: hypervisor.ProbeOK, RTT: 200 * time.Microsecond,
		Connected: h.outcome == hypervisor.ProbeOK, At: h.now()}
	if h.outcome != hypervisor.ProbeOK {
		p.Err = fmt.Errorf("fleet: %s: simulated %s", h.name, h.outcome)
	}
	return p
}

// up reports whether the host answers libvirt: powered, and probes set to succeed. Caller
// holds h.mu.
func (h *Host) up() bool { return h.powered && h.outcome == hypervisor.ProbeOK }

// Connected reports whether probes succeed.
func (h *Host) Connected() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up()
}

// Domains lists the host's simulated domains.
func (h *Host) Domains(context.Context) ([]hypervisor.Domain, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.up() {
		return nil, fmt.Errorf("fleet: %s: %w", h.name, hypervisor.ErrNotConnected)
	}
	return append([]hypervisor.Domain(nil), h.domains...), nil
}

// DomainXML returns a small definition with one disk.
func (h *Host) DomainXML(_ context.Context, uuid string) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range h.domains {
		if d.UUID == uuid {
			return fmt.Sprintf("<domain type='kvm'><name>%s</name><uuid>%s</uuid><devices><disk type='block' device='disk'><source dev='/dev/mapper/%s'/></disk></devices></domain>", d.Name, d.UUID, d.Name), nil
		}
	}
	return "", fmt.Errorf("fleet: %s: %w", uuid, hypervisor.ErrNoDomain)
}

// GuestAddresses knows no address: simulated domains have no network.
func (h *Host) GuestAddresses(_ context.Context, uuid string) ([]string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.up() {
		return nil, fmt.Errorf("fleet: %s: %w", h.name, hypervisor.ErrNotConnected)
	}
	for _, d := range h.domains {
		if d.UUID == uuid {
			return nil, nil
		}
	}
	return nil, fmt.Errorf("fleet: %s: %w", uuid, hypervisor.ErrNoDomain)
}

// Info reports a typical host.
func (h *Host) Info(context.Context) (hypervisor.HostInfo, error) {
	return hypervisor.HostInfo{Hostname: h.name, CPUs: 64, MemoryKiB: 512 << 20, LibvirtVersion: 9000000}, nil
}

// NodeMemory returns the reading set with SetMemory (DefaultMemory until then).
func (h *Host) NodeMemory(context.Context) (hypervisor.NodeMemory, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.up() {
		return hypervisor.NodeMemory{}, fmt.Errorf("fleet: %s: %w", h.name, hypervisor.ErrNotConnected)
	}
	return h.memory, nil
}

// Events is a channel on which nothing but the first connection arrives.
func (h *Host) Events() <-chan hypervisor.Event {
	h.once.Do(func() { h.events <- hypervisor.Event{Host: h.name, Kind: hypervisor.EventConnected, At: h.now()} })
	return h.events
}

// Close ends the host's event channel; later calls do nothing.
func (h *Host) Close() error {
	h.closeOnce.Do(func() { close(h.events) })
	return nil
}

// StartDomain starts a domain on the simulated host: the defined domain of that UUID if the host
// has it (shut off), else a new one. The fleet records where and when (Started).
func (h *Host) StartDomain(_ context.Context, def string) error {
	name, uuid, _, err := hypervisor.DomainDisks(def)
	if err != nil {
		return err
	}
	h.mu.Lock()
	if !h.up() {
		h.mu.Unlock()
		return fmt.Errorf("fleet: %s: start %s: %w", h.name, name, hypervisor.ErrNotConnected)
	}
	found := false
	for i := range h.domains {
		if h.domains[i].UUID == uuid {
			h.domains[i].State, h.domains[i].StateReason, found = hypervisor.StateRunning, "booted", true
		}
	}
	if !found {
		h.domains = append(h.domains, hypervisor.Domain{UUID: uuid, Name: name, State: hypervisor.StateRunning, StateReason: "booted", Persistent: true, MemoryKiB: 1 << 20, VCPUs: 1})
	}
	at := h.now()
	h.mu.Unlock()
	h.fleet.mu.Lock()
	h.fleet.started[uuid] = Start{Host: h.name, At: at}
	h.fleet.mu.Unlock()
	return nil
}
