// Package fleet is a simulated fleet of hypervisor hosts behind lifeboat's hypervisor.Host
// interface, for scale benchmarks and deterministic scenarios. It does no I/O: probes answer at
// once with the outcome the test set, inventories list made-up domains.
package fleet

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
)

// Fleet is a set of simulated hosts, created on demand by Dial.
type Fleet struct {
	mu         sync.Mutex
	hosts      map[string]*Host
	vmsPerHost int
}

// New makes a fleet whose hosts each run vmsPerHost domains.
func New(vmsPerHost int) *Fleet {
	return &Fleet{hosts: map[string]*Host{}, vmsPerHost: vmsPerHost}
}

// Dial is a hypervisor.Dialer that returns the simulated host of that name.
func (f *Fleet) Dial(_ context.Context, name, _ string, opts hypervisor.Options) (hypervisor.Host, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	h := &Host{name: name, now: now, outcome: hypervisor.ProbeOK, memory: DefaultMemory, events: make(chan hypervisor.Event, 16)}
	for i := 0; i < f.vmsPerHost; i++ {
		h.domains = append(h.domains, hypervisor.Domain{
			UUID: fmt.Sprintf("%08x-0000-4000-8000-%012x", len(f.hosts), i), Name: fmt.Sprintf("%s-vm%d", name, i),
			State: hypervisor.StateRunning, StateReason: "booted", Persistent: true, MemoryKiB: 1 << 20, VCPUs: 1})
	}
	f.hosts[name] = h
	return h, nil
}

// Host returns a simulated host by name (nil before Dial).
func (f *Fleet) Host(name string) *Host {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hosts[name]
}

// Host is one simulated host.
type Host struct {
	name    string
	now     func() time.Time
	mu      sync.Mutex
	outcome hypervisor.ProbeOutcome
	memory  hypervisor.NodeMemory
	domains []hypervisor.Domain
	events  chan hypervisor.Event
	once    sync.Once
	resets  int
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

// Probe answers at once with the outcome set.
func (h *Host) Probe(context.Context) hypervisor.Probe {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := hypervisor.Probe{Outcome: h.outcome, TCP: hypervisor.ProbeOK, RTT: 200 * time.Microsecond,
		Connected: h.outcome == hypervisor.ProbeOK, At: h.now()}
	if h.outcome != hypervisor.ProbeOK {
		p.Err = fmt.Errorf("fleet: %s: simulated %s", h.name, h.outcome)
	}
	return p
}

// Connected reports whether probes succeed.
func (h *Host) Connected() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.outcome == hypervisor.ProbeOK
}

// Domains lists the host's simulated domains.
func (h *Host) Domains(context.Context) ([]hypervisor.Domain, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.outcome != hypervisor.ProbeOK {
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
	if h.outcome != hypervisor.ProbeOK {
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
	if h.outcome != hypervisor.ProbeOK {
		return hypervisor.NodeMemory{}, fmt.Errorf("fleet: %s: %w", h.name, hypervisor.ErrNotConnected)
	}
	return h.memory, nil
}

// Events is a channel on which nothing but the first connection arrives.
func (h *Host) Events() <-chan hypervisor.Event {
	h.once.Do(func() { h.events <- hypervisor.Event{Host: h.name, Kind: hypervisor.EventConnected, At: h.now()} })
	return h.events
}

// Close ends the host's event channel.
func (h *Host) Close() error {
	close(h.events)
	return nil
}

// StartDomain adds a running domain to the simulated host.
func (h *Host) StartDomain(_ context.Context, def string) error {
	name, uuid, _, err := hypervisor.DomainDisks(def)
	if err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.domains = append(h.domains, hypervisor.Domain{UUID: uuid, Name: name, State: hypervisor.StateRunning, StateReason: "booted", Persistent: true, MemoryKiB: 1 << 20, VCPUs: 1})
	return nil
}
