package sim

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// hostCtl is the controller's view of one host: its signals and the detector's memory.
type hostCtl struct {
	cfg     Host
	sig     policy.Signals
	track   policy.Track
	verdict policy.Verdict
}

// vmRecord is the controller's durable record of a VM (the daemon's store.VMRecord).
type vmRecord struct {
	name, uuid                 string
	protected, filler          bool
	priority, memoryMiB, vcpus int
	current, home, state       string
}

// fenceJob and restartJob are jobs the controller runs now (in memory only: a controller
// restart loses them, and their outcomes).
type fenceJob struct {
	host string
	due  time.Time
	err  string // "" when the fence succeeds
}

type restartJob struct {
	rec policy.RestartRecord
	due time.Time
}

// resetJob is an in-place restart of a crashed guest.
type resetJob struct {
	rec policy.GuestReset
	due time.Time
}

// controller mirrors the daemon: in-memory state (signals, tracks, jobs, holds logged) and
// durable state (guards, plans, VM records, last verdicts, disarm).
type controller struct {
	det        policy.DetectorConfig
	rc         policy.RecoveryConfig
	set        Settings
	hosts      []*hostCtl
	byName     map[string]*hostCtl
	fencing    map[string]*fenceJob
	restarting map[string]*restartJob
	resetting  map[string]*resetJob
	held       map[string]policy.ActionReason
	// faults are the crashed guests the latest inventory found.
	faults []policy.GuestFault

	guards   policy.Guards
	plans    []*policy.Plan
	nextPlan int
	vms      []*vmRecord
	disarmed bool
}

func newController(sc Scenario, start time.Time) *controller {
	st := sc.Settings
	det := policy.DefaultDetectorConfig()
	det.SuspectAfter, det.UnreachableAfter, det.StableFor = st.Timings.SuspectAfter, st.Timings.UnreachableAfter, st.Timings.StableFor
	applyPartitionPolicy(&det, st.Recovery.PartitionPolicy)
	pc := policy.PlacementConfig{MemoryOvercommit: st.Placement.MemoryOvercommit, CPUOvercommit: st.Placement.CPUOvercommit}
	for _, r := range st.Placement.Rules {
		pc.Rules = append(pc.Rules, policy.AffinityRule{Name: r.Name, VMs: r.VMs, Anti: r.Anti})
	}
	c := &controller{det: det, set: st,
		rc: policy.RecoveryConfig{Automatic: st.Recovery.Automatic, MassFailureFraction: st.Recovery.MassFailureFraction,
			MassFailureWindow: st.Recovery.MassFailureWindow, FenceWindow: st.Recovery.FenceWindow,
			RestartConcurrency: st.Recovery.RestartConcurrency, Placement: pc,
			GuestResets: policy.GuestResetConfig{Enabled: st.Recovery.GuestMonitoring.Enabled, MaxResets: st.Recovery.GuestMonitoring.MaxResets,
				Window: st.Recovery.GuestMonitoring.ResetWindow}},
		byName: map[string]*hostCtl{},
		guards: policy.Guards{Fences: map[string]policy.FenceRecord{}, Restarts: map[string]policy.RestartRecord{}, Resets: map[string]policy.GuestReset{}},
	}
	for _, h := range sc.Cluster.Hosts {
		hc := &hostCtl{cfg: h}
		c.hosts = append(c.hosts, hc)
		c.byName[h.Name] = hc
	}
	for i, vm := range sc.Cluster.VMs {
		c.vms = append(c.vms, &vmRecord{name: vm.Name, uuid: fmt.Sprintf("uuid-%03d", i+1), protected: vm.Protected, priority: vm.Priority,
			memoryMiB: vm.MemoryMiB, vcpus: vm.VCPUs, current: vm.Host, home: vm.Host, state: "running"})
	}
	c.restart()
	return c
}

// restart drops everything a controller keeps in memory only. The last verdicts come back from
// the store (as the daemon's load does): state, reason and since, without the flap history.
func (c *controller) restart() {
	c.fencing, c.restarting, c.held = map[string]*fenceJob{}, map[string]*restartJob{}, map[string]policy.ActionReason{}
	c.resetting, c.faults = map[string]*resetJob{}, nil
	for _, h := range c.hosts {
		h.sig = policy.Signals{Host: h.cfg.Name}
		h.track = policy.Track{State: h.verdict.State, Reason: h.verdict.Reason, Since: h.verdict.Since}
	}
}

// observe takes one probe of every host's libvirt, asks every BMC and every host's guests,
// and refreshes the inventory of the hosts that answer, from the world's truth.
func (c *controller) observe(w *world, now time.Time) {
	for _, h := range c.hosts {
		t := w.hosts[h.cfg.Name]
		res := policy.ProbeTimeout
		switch {
		case w.libvirtReachable(h.cfg.Name):
			res = policy.ProbeOK
		case !w.isolated && t.on && !t.hung && !t.partition && t.libvirtdDown:
			res = policy.ProbeRefused // the kernel answers: connection refused
		}
		lv := &h.sig.Libvirt
		prev := lv.Result
		lv.Result, lv.At = res, now
		if res == policy.ProbeOK {
			lv.LastOK, lv.FailingSince = now, time.Time{}
			if prev != policy.ProbeOK {
				lv.OKSince = now
			}
		} else {
			lv.OKSince = time.Time{}
			if prev == policy.ProbeOK || prev == policy.ProbeNone {
				lv.FailingSince = now
			}
		}
		b := policy.BMCSignal{Configured: h.cfg.BMC}
		if h.cfg.BMC {
			b.At = now
			if w.bmcReachable(h.cfg.Name) {
				b.Reachable, b.Health, b.Power = true, policy.HealthOK, policy.PowerOff
				if t.on {
					b.Power = policy.PowerOn
				}
			} else {
				b.Silent, b.Err = true, "no answer"
			}
		}
		h.sig.BMC = b
		g := policy.GuestSignal{Configured: true, At: now}
		for _, vm := range c.vms {
			if vm.protected && vm.current == h.cfg.Name {
				g.Known++
				if w.guestsAnswer(h.cfg.Name) && containsHost(w.copies[vm.name], h.cfg.Name) && !w.panicked[vm.name] {
					g.Answering++
				}
			}
		}
		h.sig.Guests = g
	}
	c.inventory(w, now)
}

// inventory updates the VM records from the hosts whose libvirt answers, like the daemon's
// inventory loop: a VM listed on a host runs there; a VM on record there that the host no
// longer lists (and that runs on no other answering host) runs nowhere. A VM whose guest
// panicked is listed crashed, and is a guest fault (as QMP would confirm).
func (c *controller) inventory(w *world, now time.Time) {
	c.faults = nil
	for _, vm := range c.vms {
		var seen string
		for _, h := range c.hosts {
			if w.libvirtReachable(h.cfg.Name) && containsHost(w.copies[vm.name], h.cfg.Name) {
				seen = h.cfg.Name
				break
			}
		}
		switch {
		case seen != "" && w.panicked[vm.name]:
			vm.current, vm.state = seen, "crashed"
			c.faults = append(c.faults, policy.GuestFault{VM: vm.name, UUID: vm.uuid, Host: seen, Kind: policy.GuestPanicked, Seen: now,
				Detail: "QMP status guest-panicked"})
		case seen != "":
			vm.current, vm.state = seen, "running"
		case vm.current != "" && w.libvirtReachable(vm.current) && c.restarting[vm.uuid] == nil:
			vm.current, vm.state = "", "missing"
		}
	}
}

// decide runs the failure detector for every host and returns the verdicts that changed.
func (c *controller) decide(now time.Time) []policy.Verdict {
	var changed []policy.Verdict
	for _, h := range c.hosts {
		fr := c.guards.Fence(h.cfg.Name)
		h.sig.FencedAt, h.sig.ConfirmedOff = time.Time{}, false
		if fr.Outcome.Off() {
			h.sig.FencedAt, h.sig.ConfirmedOff = fr.At, fr.Outcome == policy.FenceConfirmedOff
		}
		v, next := policy.Decide(c.det, h.track, h.sig, now)
		prev := h.verdict
		h.track, h.verdict = next, v
		if v.Changed && prev.State != "" {
			changed = append(changed, v)
		}
	}
	return changed
}

// recoveryMode is the approval mode of a recovery of a host of this group.
func (c *controller) recoveryMode(group string) policy.ApprovalMode {
	if m, ok := c.set.Approval.Groups[group]; ok && group != "" {
		return policy.ApprovalMode(m)
	}
	return policy.ApprovalMode(c.set.Approval.Recovery)
}

// snapshot builds the reconciler's input exactly like daemon/snapshot.go.
func (c *controller) snapshot() policy.Snapshot {
	s := policy.Snapshot{Config: c.rc, Guards: c.guards.Clone(), Disarmed: c.disarmed,
		Fencing: map[string]bool{}, Restarting: map[string]bool{}}
	for h := range c.fencing {
		s.Fencing[h] = true
	}
	for u := range c.restarting {
		s.Restarting[u] = true
	}
	s.Resetting = map[string]bool{}
	for u := range c.resetting {
		s.Resetting[u] = true
	}
	s.GuestFaults = slices.Clone(c.faults)
	for _, w := range c.hosts {
		sig := w.sig
		h := policy.HostView{Name: w.cfg.Name, Role: w.cfg.Role, Group: w.cfg.Group, Verdict: w.verdict,
			Libvirt: sig.Libvirt.Result, BMCConfigured: sig.BMC.Configured, BMCReachable: sig.BMC.Reachable, BMCSilent: sig.BMC.Silent,
			Heard:     sig.Libvirt.Result != policy.ProbeNone && (!sig.BMC.Configured || !sig.BMC.At.IsZero()),
			MemoryMiB: w.cfg.MemoryMiB, VCPUs: w.cfg.VCPUs, RecoveryMode: c.recoveryMode(w.cfg.Group)}
		if sig.Libvirt.Result != policy.ProbeOK {
			h.BadSince = sig.Libvirt.FailingSince
		}
		s.Hosts = append(s.Hosts, h)
	}
	for _, r := range c.vms {
		s.VMs = append(s.VMs, policy.VMView{Name: r.name, UUID: r.uuid, Protected: r.protected, Restartable: !r.filler,
			Priority: r.priority, MemoryMiB: r.memoryMiB, VCPUs: r.vcpus, Current: r.current, Home: r.home, State: r.state})
	}
	sort.Slice(s.VMs, func(i, j int) bool { return s.VMs[i].Name < s.VMs[j].Name })
	for _, p := range c.plans {
		s.Plans = append(s.Plans, policy.PlanRef{ID: p.ID, Kind: p.Kind, Host: p.Host, State: p.State, RetryAt: c.retryAt(p)})
	}
	return s
}

func containsHost(hs []string, h string) bool {
	for _, x := range hs {
		if x == h {
			return true
		}
	}
	return false
}
