package daemon

import (
	"cmp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// recoveryConfig is the reconciler's configuration.
func (d *Daemon) recoveryConfig() policy.RecoveryConfig {
	rc := d.conf().Recovery
	return policy.RecoveryConfig{Automatic: rc.Automatic, MassFailureFraction: rc.MassFailureFraction,
		MassFailureWindow: rc.MassFailureWindow.D(), FenceWindow: rc.FenceWindow.D(),
		RestartConcurrency: rc.RestartConcurrency, Placement: d.placementConfig(),
		GuestResets: policy.GuestResetConfig{Enabled: rc.GuestMonitoring.Enabled, MaxResets: rc.GuestMonitoring.MaxResets,
			Window: rc.GuestMonitoring.ResetWindow.D()}}
}

// snapshot is the reconciler's input: the hosts, VMs, guards and recovery plans as the daemon
// knows them now. Caller holds d.mu. The snapshot shares nothing mutable with the daemon.
func (d *Daemon) snapshot() policy.Snapshot {
	s := policy.Snapshot{Config: d.recoveryConfig(), Guards: d.guards.Clone(), Disarmed: d.disarmedLocked(),
		Fencing: make(map[string]bool, len(d.fencing)), Restarting: make(map[string]bool, len(d.restarting))}
	for h := range d.fencing {
		s.Fencing[h] = true
	}
	for u := range d.restarting {
		s.Restarting[u] = true
	}
	s.Resetting = make(map[string]bool, len(d.resetting))
	for u := range d.resetting {
		s.Resetting[u] = true
	}
	s.GuestFaults = d.guestFaults()
	for _, w := range d.hosts {
		sig := w.sig
		h := policy.HostView{Name: w.cfg.Name, Role: string(w.cfg.Role), Group: w.cfg.Group, Verdict: w.verdict,
			Libvirt: sig.Libvirt.Result, BMCConfigured: sig.BMC.Configured, BMCReachable: sig.BMC.Reachable, BMCSilent: sig.BMC.Silent,
			Heard:     sig.Libvirt.Result != policy.ProbeNone && (!sig.BMC.Configured || !sig.BMC.At.IsZero()),
			MemoryMiB: int(w.info.MemoryKiB / 1024), VCPUs: int(w.info.CPUs),
			RecoveryMode: d.conf().Approval.ModeFor(string(policy.PlanKindRecovery), w.cfg.Group)}
		if sig.Libvirt.Result != policy.ProbeOK {
			h.BadSince = sig.Libvirt.FailingSince
		}
		h.Draining = w.draining
		s.Hosts = append(s.Hosts, h)
	}
	s.VMs = make([]policy.VMView, 0, len(d.vms))
	s.Migrating = map[string]bool{}
	if d.engine != nil {
		s.Migrating = d.engine.BusyVMs()
	}
	for _, r := range d.orderedVMs() {
		s.VMs = append(s.VMs, policy.VMView{Name: r.Name, UUID: r.UUID, Protected: r.Protected, Restartable: r.Definition != "",
			Priority: r.Priority, MemoryMiB: r.MemoryMiB, VCPUs: r.VCPUs, Current: r.CurrentHost, Home: r.HomeHost, State: r.State})
	}
	var plans []*policy.Plan
	for _, p := range d.plans.byID {
		if p.Kind == policy.PlanKindRecovery {
			plans = append(plans, p)
		}
	}
	sort.Slice(plans, func(i, j int) bool { return plans[i].Seq < plans[j].Seq })
	for _, p := range plans {
		s.Plans = append(s.Plans, policy.PlanRef{ID: p.ID, Kind: p.Kind, Host: p.Host, State: p.State, RetryAt: d.retryAt(p)})
	}
	return s
}

// fenceSignal sets the detector's view of a host's fence from the guards. Caller holds d.mu.
func (d *Daemon) fenceSignal(w *hostWatch) {
	fr := d.guards.Fence(w.cfg.Name)
	w.sig.FencedAt, w.sig.ConfirmedOff = time.Time{}, false
	if fr.Outcome.Off() {
		w.sig.FencedAt, w.sig.ConfirmedOff = fr.At, fr.Outcome == policy.FenceConfirmedOff
	}
}

// disarmedLocked reports whether an operator disarmed lifeboat (no automatic action). Caller
// holds d.mu.
func (d *Daemon) disarmedLocked() bool { return d.disarmed }

// takeSnapshot is snapshot for a caller that does not hold d.mu.
func (d *Daemon) takeSnapshot() policy.Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.snapshot()
}

// orderedVMs returns the VM records in the snapshot's order: by name, then UUID. The order is
// kept between snapshots: sorting 100,000 records several times a second was most of a large
// fleet's idle CPU, and checking the order each time (a lookup and a comparison per record)
// half of a snapshot during a wave of restarts. It is sorted again when a record was added
// (addVM) or renamed (vmOrderStale), or the count differs. Caller holds d.mu.
func (d *Daemon) orderedVMs() []*store.VMRecord {
	if d.vmOrderStale || len(d.vmOrder) != len(d.vms) {
		d.vmOrderStale = false
		d.vmOrder = d.vmOrder[:0]
		for _, r := range d.vms {
			d.vmOrder = append(d.vmOrder, r)
		}
		slices.SortFunc(d.vmOrder, compareVMs)
	}
	return d.vmOrder
}

// addVM puts a new record in d.vms. Records are added only through it (the snapshot's order
// depends on it). Caller holds d.mu.
func (d *Daemon) addVM(r *store.VMRecord) {
	d.vms[r.UUID] = r
	d.vmOrderStale = true
}

// compareVMs orders VM records by name, then UUID.
func compareVMs(a, b *store.VMRecord) int {
	return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.UUID, b.UUID))
}
