package fleet

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// BMCOptions configure the BMC emulators of StartBMCs.
type BMCOptions struct {
	// Username and Password are every emulator's credentials.
	Username, Password string
	// Certificate is served by every emulator (bmc.Config.Certificate); nil generates one
	// certificate that they all share, so that a fleet of thousands does not generate a key each.
	Certificate *tls.Certificate
	// Logger receives the emulators' logs; nil discards them.
	Logger *slog.Logger
}

// StartBMCs makes the named hosts (as Dial would; Dial then returns them) and starts a Redfish
// BMC emulator (testenv/bmc, with sessions) for each, on its own socket at 127.0.0.1 and a free
// port, driving that host's power. It returns the emulators in the order of names. Each open
// socket is a file descriptor: a fleet of n hosts watched by one daemon needs about 3n (the
// listener, and both ends of the daemon's connection). Close stops them.
func (f *Fleet) StartBMCs(ctx context.Context, names []string, o BMCOptions) ([]*bmc.Server, error) {
	if o.Certificate == nil {
		c, err := bmc.NewCertificate("fleet")
		if err != nil {
			return nil, fmt.Errorf("fleet: %w", err)
		}
		o.Certificate = &c
	}
	out := make([]*bmc.Server, 0, len(names))
	for _, name := range names {
		f.mu.Lock()
		_, dup := f.bmcs[name]
		h := f.hosts[name]
		if h == nil {
			h = f.newHost(name)
		}
		f.mu.Unlock()
		if dup {
			return nil, fmt.Errorf("fleet: host %s already has a BMC", name)
		}
		s, err := bmc.New(bmc.Config{SystemID: name, Username: o.Username, Password: o.Password,
			Power: power{h}, Certificate: o.Certificate, Logger: o.Logger})
		if err != nil {
			return nil, fmt.Errorf("fleet: BMC of %s: %w", name, err)
		}
		if err := s.Start(ctx); err != nil {
			return nil, fmt.Errorf("fleet: BMC of %s: %w", name, err)
		}
		f.mu.Lock()
		f.bmcs[name] = s
		f.mu.Unlock()
		out = append(out, s)
	}
	return out, nil
}

// BMC returns the emulator of a host (nil without StartBMCs).
func (f *Fleet) BMC(name string) *bmc.Server {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.bmcs[name]
}

// Close stops every BMC emulator, and ends every BMC process (BMCProcess.Close).
func (f *Fleet) Close() error {
	f.mu.Lock()
	srvs := make([]*bmc.Server, 0, len(f.bmcs))
	for _, s := range f.bmcs {
		srvs = append(srvs, s)
	}
	procs := f.procs
	f.procs = nil
	f.mu.Unlock()
	var errs []error
	for _, s := range srvs {
		errs = append(errs, s.Close())
	}
	for _, p := range procs {
		errs = append(errs, p.Close())
	}
	return errors.Join(errs...)
}

// CutPower is a power loss of the host, in one call: its BMC reports Off (and sends a power
// event to its event streams), its libvirt probes time out, and its domains are shut off (they
// died with the host). With the BMC in a BMC process, it returns once that process has
// answered.
func (f *Fleet) CutPower(name string) error {
	h := f.Host(name)
	if h == nil {
		return fmt.Errorf("fleet: no host %s", name)
	}
	h.powerOff()
	if s := f.BMC(name); s != nil {
		s.PowerChanged() // its event subscribers hear of it, as from a real BMC
	}
	if p := f.process(name); p != nil {
		return p.command(verbCut, name)
	}
	return nil
}

// process is the BMC process of a host's emulator, nil if it has none.
func (f *Fleet) process(name string) *BMCProcess {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.remote[name]
}

// RestorePower turns the host on again: its BMC reports On and libvirt answers; the domains
// that died stay shut off, as after a real power cycle.
func (f *Fleet) RestorePower(name string) error {
	h := f.Host(name)
	if h == nil {
		return fmt.Errorf("fleet: no host %s", name)
	}
	h.powerOn()
	if s := f.BMC(name); s != nil {
		s.PowerChanged()
	}
	if p := f.process(name); p != nil {
		return p.command(verbRestore, name)
	}
	return nil
}

// Powered reports whether the host has power.
func (h *Host) Powered() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.powered
}

// powerOff cuts the host's power: every domain stops.
func (h *Host) powerOff() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.powered = false
	for i := range h.domains {
		if h.domains[i].State != hypervisor.StateShutoff {
			h.domains[i].State, h.domains[i].StateReason = hypervisor.StateShutoff, "destroyed"
		}
	}
}

// powerOn gives the host power again; the domains that died stay shut off.
func (h *Host) powerOn() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.powered = true
}

// power is a simulated host's power as its BMC emulator drives it (bmc.Power).
type power struct{ h *Host }

// PowerState implements bmc.Power.
func (p power) PowerState() bmc.PowerState {
	if p.h.Powered() {
		return bmc.PowerOn
	}
	return bmc.PowerOff
}

// ForceOff implements bmc.Power: the power loss of CutPower.
func (p power) ForceOff(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.h.powerOff()
	return nil
}

// On implements bmc.Power: the host answers again, its domains shut off.
func (p power) On(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p.h.powerOn()
	return nil
}
