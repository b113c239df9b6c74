package policy

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ErrUnknownHost is wrapped by WhatIf when it is asked about a host the snapshot does not have.
var ErrUnknownHost = errors.New("unknown host")

// ErrNoHosts is returned by WhatIf when it is asked about no host at all.
var ErrNoHosts = errors.New("name at least one host to fail")

// WhatIfRestart is one VM that would restart elsewhere.
type WhatIfRestart struct {
	VM   string `json:"vm"`
	From string `json:"from"`
	To   string `json:"to"`
	// Reason is the reconciler's sentence: why it restarts, and why on that host.
	Reason string `json:"reason"`
}

// WhatIfStuck is one protected VM that would not restart, and why.
type WhatIfStuck struct {
	VM   string `json:"vm"`
	From string `json:"from"`
	Why  string `json:"why"`
}

// WhatIfHold is something the reconciler would hold back (a fence waiting for approval, a
// host not fenced because recovery is manual, ...), with its typed code and sentence.
type WhatIfHold struct {
	Host string       `json:"host"`
	Code ActionReason `json:"code"`
	Why  string       `json:"why"`
}

// WhatIfResult is what recovery would do if the named hosts lost power now.
type WhatIfResult struct {
	// Fail are the hosts failed, sorted, without repeats.
	Fail []string `json:"fail"`
	// Frozen is set when automatic recovery would freeze (mass failure, controller isolation);
	// Reason is then the freeze's sentence.
	Frozen bool   `json:"frozen"`
	Reason string `json:"reason"`
	// Fences are the hosts that would be fenced, in order.
	Fences []string `json:"fences"`
	// Restarts are the VMs that would restart, in order; Stuck those that would not.
	Restarts []WhatIfRestart `json:"restarts"`
	Stuck    []WhatIfStuck   `json:"stuck"`
	// Held says what would be held back and why (approval, manual recovery, fence window, ...).
	Held []WhatIfHold `json:"held"`
}

// whatIfBy is the fence method recorded for the fences a what-if assumes succeed.
const whatIfBy = "what-if"

// WhatIf answers "what would recovery do if these hosts lost power now?" without changing
// anything: it runs the same reconciler as the daemon on a copy of the snapshot.
//
// The named hosts are made lost as a power loss looks: verdict failed, libvirt timing out since
// now, BMC reachable (it reads power off). Then Reconcile runs; its fences are assumed to
// succeed (recorded as verified in the copy's guards) and its restarts to finish (each VM then
// runs on its target, so its room is taken), and Reconcile runs again, until a pass starts no
// new fence or restart. A recovery plan that needs approval is assumed approved (the hold says
// so); notify-only recovery is never carried out by lifeboat, so it stays a hold. What would be
// held back, frozen or stuck is reported with the reconciler's reasons.
//
// Unknown host names give an error wrapping ErrUnknownHost that names them all.
func WhatIf(s Snapshot, fail []string, now time.Time) (WhatIfResult, error) {
	names := slices.Clone(fail)
	slices.Sort(names)
	names = slices.Compact(names)
	if len(names) == 0 {
		return WhatIfResult{}, ErrNoHosts
	}
	var unknown []string
	for _, n := range names {
		if _, ok := s.Host(n); !ok {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		return WhatIfResult{}, fmt.Errorf("%w: %s (the cluster has %s)", ErrUnknownHost, strings.Join(unknown, ", "), strings.Join(hostNames(s), ", "))
	}
	c := s.clone()
	c.GuestFaults = nil // a what-if is about hosts; crashed guests restart in place either way
	for i := range c.Hosts {
		h := &c.Hosts[i]
		if !slices.Contains(names, h.Name) {
			continue
		}
		powerLoss(&c, h, now)
	}
	// Restarts in flight now end while recovery goes on: they do not hold back the others.
	c.Config.RestartConcurrency = max(c.Config.RestartConcurrency, 1) + len(c.Restarting)
	w := whatIf{s: &c, now: now, res: WhatIfResult{Fail: names, Fences: []string{}, Restarts: []WhatIfRestart{}, Stuck: []WhatIfStuck{}, Held: []WhatIfHold{}}}
	// Each pass that makes progress fences a host or restarts a VM, so passes are bounded by
	// the hosts and VMs; the bound is a guard against a reconciler that never settles.
	for pass := 0; pass <= len(c.Hosts)+len(c.VMs)+1; pass++ {
		if !w.apply(Reconcile(c, now)) {
			break
		}
	}
	w.res.Frozen, w.res.Reason = c.Guards.Freeze.Frozen, c.Guards.Freeze.Message
	return w.res, nil
}

// powerLoss makes a host look as it does after a power loss seen at now: libvirt times out,
// the BMC answers (power off), and the detector says failed. A fence it had before and that is
// history (the host answered since) is cleared, as the daemon does.
func powerLoss(c *Snapshot, h *HostView, now time.Time) {
	if h.Libvirt == ProbeOK {
		if fr := c.Guards.Fence(h.Name); fr.Outcome != FenceNone && fr.Outcome != FenceInFlight && !c.Fencing[h.Name] {
			fr.Outcome, fr.At, fr.By, fr.Detail = FenceNone, time.Time{}, "", ""
			c.Guards.Fences[h.Name] = fr
		}
	}
	if lost(*h) {
		return // already down: its own history (BadSince, fences) stands
	}
	h.Verdict = Verdict{Host: h.Name, State: Failed, Reason: ReasonPowerOff, Since: now,
		Message: "libvirt times out and the BMC reads power off (what-if)"}
	h.Libvirt, h.BadSince, h.BMCReachable, h.Heard = ProbeTimeout, now, true, true
}

// whatIf applies a reconciler's actions to the copy, as if they succeeded at once.
type whatIf struct {
	s   *Snapshot
	now time.Time
	res WhatIfResult
}

// apply applies one pass's actions and reports whether any fence or restart was new. The
// stuck VMs and holds are those of the latest pass (the state recovery would settle in).
func (w *whatIf) apply(acts []Action) bool {
	progress := false
	var stuck []WhatIfStuck
	var held []WhatIfHold
	for _, a := range acts {
		switch a.Kind {
		case ActFreeze:
			since := w.now
			if w.s.Guards.Freeze.Frozen {
				since = w.s.Guards.Freeze.Since
			}
			w.s.Guards.Freeze = Freeze{Frozen: true, Reason: a.Reason, Since: since, Hosts: a.Hosts, Message: a.Message}
		case ActThaw:
			w.s.Guards.Freeze = Freeze{}
		case ActClearFence:
			fr := w.s.Guards.Fence(a.Host)
			fr.Outcome, fr.At, fr.By, fr.Detail = FenceNone, time.Time{}, "", ""
			w.s.Guards.Fences[a.Host] = fr
		case ActFence:
			w.fence(a.Host)
			progress = true
		case ActProposePlan:
			h, _ := w.s.Host(a.Host)
			if h.RecoveryMode == ApprovalNotifyOnly {
				held = append(held, WhatIfHold{Host: a.Host, Code: ReasonNotifyOnly,
					Why: a.Message + "; recovery is notify-only here: lifeboat only announces it"})
				continue
			}
			held = append(held, WhatIfHold{Host: a.Host, Code: ReasonNeedsApproval,
				Why: a.Message + "; it waits for 'lifeboat approve' (shown here as approved)"})
			w.fence(a.Host)
			progress = true
		case ActRestart:
			w.restart(a)
			progress = true
		case ActQueue:
			w.s.Guards.Restarts[a.UUID] = RestartRecord{VM: a.VM, UUID: a.UUID, From: a.Host, Stage: RestartQueued, Reason: a.Message, Since: w.now}
		case ActForget:
			delete(w.s.Guards.Restarts, a.UUID)
		case ActMigrate:
			// Live migrations (evacuations) are not what a power loss sets off.
		case ActStuck:
			stuck = append(stuck, WhatIfStuck{VM: a.VM, From: a.Host, Why: a.Message})
		case ActHold:
			held = append(held, WhatIfHold{Host: a.Host, Code: a.Reason, Why: a.Message})
		}
	}
	if !progress {
		w.res.Stuck = append(w.res.Stuck, stuck...)
		w.res.Held = append(w.res.Held, keepHolds(w.res.Held, held)...)
	} else {
		// Approval holds are kept from every pass: the plan is proposed once, then "approved".
		for _, h := range held {
			if h.Code == ReasonNeedsApproval {
				w.res.Held = append(w.res.Held, h)
			}
		}
	}
	return progress
}

// keepHolds returns the holds of add that have no equal in have.
func keepHolds(have, add []WhatIfHold) []WhatIfHold {
	var out []WhatIfHold
	for _, h := range add {
		if !slices.Contains(have, h) {
			out = append(out, h)
		}
	}
	return out
}

// fence records a verified fence of host in the copy.
func (w *whatIf) fence(host string) {
	w.s.Guards.Fences[host] = FenceRecord{Host: host, Attempted: w.now, Outcome: FenceVerified, At: w.now, By: whatIfBy}
	for i := range w.s.Hosts {
		if w.s.Hosts[i].Name == host {
			w.s.Hosts[i].Verdict.State, w.s.Hosts[i].Verdict.Reason = Fenced, ReasonFenceVerified
		}
	}
	w.res.Fences = append(w.res.Fences, host)
}

// restart moves the VM to its target in the copy: it runs there and takes its room.
func (w *whatIf) restart(a Action) {
	for i := range w.s.VMs {
		if w.s.VMs[i].UUID == a.UUID && w.s.VMs[i].Name == a.VM {
			w.s.VMs[i].Current, w.s.VMs[i].State = a.To, "running"
		}
	}
	w.s.Guards.Restarts[a.UUID] = RestartRecord{VM: a.VM, UUID: a.UUID, From: a.Host, To: a.To, Stage: RestartRunning, Reason: a.Message, Since: w.now}
	w.res.Restarts = append(w.res.Restarts, WhatIfRestart{VM: a.VM, From: a.Host, To: a.To, Reason: a.Message})
}

// clone returns a deep copy of the snapshot: changing it changes nothing of s.
func (s Snapshot) clone() Snapshot {
	c := s
	c.Hosts = slices.Clone(s.Hosts)
	c.VMs = slices.Clone(s.VMs)
	c.Plans = slices.Clone(s.Plans)
	c.Guards = s.Guards.Clone()
	c.Fencing = maps.Clone(s.Fencing)
	c.Restarting = maps.Clone(s.Restarting)
	c.Migrating = maps.Clone(s.Migrating)
	c.Resetting = maps.Clone(s.Resetting)
	c.GuestFaults = slices.Clone(s.GuestFaults)
	c.Config.Placement.Rules = slices.Clone(s.Config.Placement.Rules)
	return c
}

// hostNames lists the snapshot's hosts by name.
func hostNames(s Snapshot) []string {
	out := make([]string, 0, len(s.Hosts))
	for _, h := range s.Hosts {
		out = append(out, h.Name)
	}
	return out
}
