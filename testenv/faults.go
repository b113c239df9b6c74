package testenv

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// FaultKind names a fault that `lifeboat lab fault` can inject.
type FaultKind string

// The faults a lab can inject.
const (
	FaultPowerOff      FaultKind = "power-off"
	FaultPowerOn       FaultKind = "power-on"
	FaultFreeze        FaultKind = "freeze"
	FaultThaw          FaultKind = "thaw"
	FaultPartition     FaultKind = "partition"
	FaultHeal          FaultKind = "heal"
	FaultCrashLibvirtd FaultKind = "crash-libvirtd"
	FaultStartLibvirtd FaultKind = "start-libvirtd"
	FaultBMCDown       FaultKind = "bmc-down"
	FaultBMCUp         FaultKind = "bmc-up"
	FaultDegrade       FaultKind = "degrade"
	FaultRepair        FaultKind = "repair"
	// FaultKill kills an etcd member (SIGKILL); FaultStart starts it again on its data.
	FaultKill  FaultKind = "kill"
	FaultStart FaultKind = "start"
)

// FaultKinds lists every fault kind, in a stable order.
func FaultKinds() []FaultKind {
	return []FaultKind{FaultPowerOff, FaultPowerOn, FaultFreeze, FaultThaw, FaultPartition, FaultHeal,
		FaultCrashLibvirtd, FaultStartLibvirtd, FaultBMCDown, FaultBMCUp, FaultDegrade, FaultRepair, FaultKill, FaultStart}
}

// ErrUnknownFault means a fault kind the lab does not know.
var ErrUnknownFault = errors.New("unknown fault kind")

// ParseFaultKind checks a fault kind given by name.
func ParseFaultKind(s string) (FaultKind, error) {
	for _, k := range FaultKinds() {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, 0, len(FaultKinds()))
	for _, k := range FaultKinds() {
		names = append(names, string(k))
	}
	sort.Strings(names)
	return "", fmt.Errorf("%w %q (want one of %s)", ErrUnknownFault, s, strings.Join(names, ", "))
}

// FaultParams are the details some faults take.
type FaultParams struct {
	// Reason is the health message a degrade makes the BMC report.
	Reason string `json:"reason,omitempty"`
	// Health is the health a degrade reports: Warning (default) or Critical.
	Health bmc.Health `json:"health,omitempty"`
	// All makes a partition cut the host's guest network too, so that its guests no longer
	// answer from outside (a full partition); heal restores both.
	All bool `json:"all,omitempty"`
}

// Fault injects a fault by kind into a host, or into an etcd member (etcdN: kill, start,
// partition, heal).
func (l *Lab) Fault(ctx context.Context, host string, kind FaultKind, p FaultParams) error {
	l.mu.Lock()
	isEtcd := l.st.etcdMember(host) != nil
	l.mu.Unlock()
	if isEtcd {
		if p.All {
			return fmt.Errorf("testenv: partition --all applies to hosts, not etcd member %s", host)
		}
		return l.etcdFault(ctx, host, kind)
	}
	switch kind {
	case FaultKill, FaultStart:
		return fmt.Errorf("testenv: %w: %q (%s applies to etcd members only)", ErrNotEtcd, host, kind)
	case FaultPowerOff:
		return l.PowerOff(ctx, host)
	case FaultPowerOn:
		return l.PowerOn(ctx, host)
	case FaultFreeze:
		return l.Freeze(ctx, host)
	case FaultThaw:
		return l.Thaw(ctx, host)
	case FaultPartition:
		if p.All {
			return l.PartitionAll(ctx, host)
		}
		return l.Partition(ctx, host)
	case FaultHeal:
		return l.Heal(ctx, host)
	case FaultCrashLibvirtd:
		return l.CrashLibvirtd(ctx, host)
	case FaultStartLibvirtd:
		return l.StartLibvirtd(ctx, host)
	case FaultBMCDown:
		return l.BMCDown(host)
	case FaultBMCUp:
		return l.BMCUp(host)
	case FaultDegrade:
		if p.Health == "" {
			p.Health = bmc.HealthWarning
		}
		if p.Reason == "" {
			p.Reason = "degraded by lab fault injection"
		}
		return l.Degrade(host, p.Health, p.Reason)
	case FaultRepair:
		return l.Repair(host)
	}
	_, err := ParseFaultKind(string(kind))
	return err
}

// withHost runs fn on the named host's state under the lab lock and saves the state after.
func (l *Lab) withHost(name string, fn func(h *hostState) error) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		return errors.New("testenv: the lab is stopped")
	}
	h, err := l.st.host(name)
	if err != nil {
		return err
	}
	if err := fn(h); err != nil {
		return err
	}
	return l.st.save()
}

// PowerOff is a hard power loss: every process of the host is killed at once (its guests with
// it, which releases their disk leases) and its NIC goes dark. Powering off a host that is off
// does nothing, as on a real BMC.
func (l *Lab) PowerOff(ctx context.Context, host string) error {
	defer l.bmcPowerChanged(host)
	return l.withHost(host, func(h *hostState) error {
		if !h.Powered {
			return nil
		}
		if err := killHost(ctx, h); err != nil {
			return err
		}
		h.Powered, h.Frozen = false, false
		if !h.Partitioned {
			return setLink(ctx, h, false)
		}
		return nil
	})
}

// bmcPowerChanged tells the host's BMC emulator, if it runs in this process, that the power
// may have changed, so it sends a power event to its subscribers. Call it without l.mu: the
// emulator reads the power through hostPower, which takes it.
func (l *Lab) bmcPowerChanged(host string) {
	l.mu.Lock()
	srv := l.bmcs[host]
	l.mu.Unlock()
	if srv != nil {
		srv.PowerChanged()
	}
}

// PowerOn boots a powered-off host: a fresh virtlockd and libvirtd, its guests defined but off.
func (l *Lab) PowerOn(ctx context.Context, host string) error {
	defer l.bmcPowerChanged(host)
	return l.withHost(host, func(h *hostState) error {
		if h.Powered {
			return nil
		}
		if !h.Partitioned {
			if err := setLink(ctx, h, true); err != nil {
				return err
			}
		}
		if err := bootHost(ctx, l.st, h); err != nil {
			return err
		}
		h.Powered = true
		return nil
	})
}

// Freeze hangs the host: all its processes stop in the cgroup freezer; its sockets stay open
// but nothing answers.
func (l *Lab) Freeze(_ context.Context, host string) error {
	return l.withHost(host, func(h *hostState) error {
		if !h.Powered {
			return fmt.Errorf("testenv: host %s is powered off", host)
		}
		if h.Frozen {
			return nil
		}
		if err := freeze(h); err != nil {
			return err
		}
		h.Frozen = true
		return nil
	})
}

// Thaw lets a frozen host run again.
func (l *Lab) Thaw(_ context.Context, host string) error {
	return l.withHost(host, func(h *hostState) error {
		if err := thaw(h); err != nil {
			return err
		}
		h.Frozen = false
		return nil
	})
}

// Partition cuts the host's management link: libvirt and migration traffic stop, while its
// storage, leases and guests live on.
func (l *Lab) Partition(ctx context.Context, host string) error {
	return l.withHost(host, func(h *hostState) error {
		if err := setLink(ctx, h, false); err != nil {
			return err
		}
		h.Partitioned = true
		return nil
	})
}

// PartitionAll cuts the host off entirely: its management link and its guest network. Its
// guests run on (and hold their disks) but no longer answer from outside, as when a host's
// switch dies; its BMC, on its own network, still answers.
func (l *Lab) PartitionAll(ctx context.Context, host string) error {
	return l.withHost(host, func(h *hostState) error {
		if err := setLink(ctx, h, false); err != nil {
			return err
		}
		h.Partitioned = true
		if err := setGuestLink(ctx, h, false); err != nil {
			return err
		}
		h.GuestCut = true
		return nil
	})
}

// Heal restores the host's management link, and its guest network if a full partition cut it.
func (l *Lab) Heal(ctx context.Context, host string) error {
	return l.withHost(host, func(h *hostState) error {
		if h.Powered {
			if err := setLink(ctx, h, true); err != nil {
				return err
			}
		}
		h.Partitioned = false
		if h.GuestCut {
			if err := setGuestLink(ctx, h, true); err != nil {
				return err
			}
			h.GuestCut = false
		}
		return nil
	})
}

// CrashLibvirtd kills the host's libvirtd only; its guests and virtlockd keep running.
func (l *Lab) CrashLibvirtd(ctx context.Context, host string) error {
	return l.withHost(host, func(h *hostState) error { return crashLibvirtd(ctx, l.st, h) })
}

// StartLibvirtd starts the host's libvirtd again after a crash.
func (l *Lab) StartLibvirtd(ctx context.Context, host string) error {
	return l.withHost(host, func(h *hostState) error { return startLibvirtd(ctx, l.st, h) })
}

// BMCDown makes the host's BMC stop answering, as when it dies with the host: its Redfish
// service (connections hang) and its IPMI-over-LAN service (requests go unanswered) alike, since
// a real BMC serves both.
func (l *Lab) BMCDown(host string) error { return l.setBMCDown(host, true) }

// BMCUp makes the host's BMC answer again, over Redfish and IPMI.
func (l *Lab) BMCUp(host string) error { return l.setBMCDown(host, false) }

func (l *Lab) setBMCDown(host string, down bool) error {
	return l.withHost(host, func(h *hostState) error {
		srv, ok := l.bmcs[host]
		if !ok {
			return fmt.Errorf("testenv: host %s has no BMC in this process", host)
		}
		if ipmi, ok := l.ipmis[host]; ok {
			if err := ipmi.SetDown(down); err != nil {
				return err
			}
		}
		srv.SetDown(down)
		h.BMCDown = down
		return nil
	})
}

// Degrade makes the host's BMC report a health of Warning or Critical, with a reason.
func (l *Lab) Degrade(host string, health bmc.Health, reason string) error {
	if health != bmc.HealthWarning && health != bmc.HealthCritical {
		return fmt.Errorf("testenv: degrade health %q: want Warning or Critical", health)
	}
	return l.setHealth(host, health, reason)
}

// Repair makes the host's BMC report health OK again.
func (l *Lab) Repair(host string) error { return l.setHealth(host, bmc.HealthOK, "") }

func (l *Lab) setHealth(host string, health bmc.Health, reason string) error {
	return l.withHost(host, func(h *hostState) error {
		srv, ok := l.bmcs[host]
		if !ok {
			return fmt.Errorf("testenv: host %s has no BMC in this process", host)
		}
		srv.SetHealth(health, reason)
		h.Health, h.Reason = string(health), reason
		return nil
	})
}
