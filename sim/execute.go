package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// execute carries out the reconciler's actions the way daemon/execute.go does: every action
// that changes something is recorded first, and holds are logged only when they change.
func (r *run) execute(snap policy.Snapshot, acts []policy.Action, now time.Time) {
	c := r.c
	heldNow := map[string]bool{}
	for _, a := range acts {
		switch a.Kind {
		case policy.ActClearFence:
			fr := c.guards.Fence(a.Host)
			fr.Outcome, fr.At, fr.By, fr.Detail = policy.FenceNone, time.Time{}, "", ""
			c.guards.Fences[a.Host] = fr
			r.logf(now, "%s", a)
		case policy.ActFreeze, policy.ActThaw:
			r.setFreeze(a, now)
		case policy.ActFence, policy.ActProposePlan:
			r.startFence(snap, a, now)
		case policy.ActRestart:
			r.startRestart(a, now)
		case policy.ActQueue:
			c.guards.Restarts[a.UUID] = policy.RestartRecord{VM: a.VM, UUID: a.UUID, From: a.Host, Stage: policy.RestartQueued, Reason: a.Message, Since: now}
			r.logf(now, "%s", a)
		case policy.ActForget:
			delete(c.guards.Restarts, a.UUID)
			r.logf(now, "%s", a)
		case policy.ActResetGuest:
			r.startReset(snap, a, now)
		case policy.ActForgetReset:
			delete(c.guards.Resets, a.UUID)
			r.logf(now, "%s", a)
		case policy.ActStuck:
			prev, had := c.guards.Restarts[a.UUID]
			if had && prev.Stage == policy.RestartStuck && prev.From == a.Host {
				continue
			}
			c.guards.Restarts[a.UUID] = policy.RestartRecord{VM: a.VM, UUID: a.UUID, From: a.Host, Stage: policy.RestartStuck, Reason: "queued: " + a.Message, Since: now}
			r.logf(now, "%s", a)
		case policy.ActHold:
			key := a.Host + "/" + a.VM
			heldNow[key] = true
			if c.held[key] != a.Reason {
				c.held[key] = a.Reason
				r.logf(now, "%s", a)
			}
		}
	}
	for key := range c.held {
		if !heldNow[key] {
			delete(c.held, key)
		}
	}
}

func (r *run) setFreeze(a policy.Action, now time.Time) {
	f := policy.Freeze{}
	if a.Kind == policy.ActFreeze {
		f = policy.Freeze{Frozen: true, Reason: a.Reason, Since: now, Hosts: a.Hosts, Message: a.Message}
		if prev := r.c.guards.Freeze; prev.Frozen {
			f.Since = prev.Since
		}
	}
	r.c.guards.Freeze = f
	r.logf(now, "%s", a)
}

// startFence runs a fence (or proposes its plan) under the host's recovery plan, like the
// daemon's startFence: plan, then the fence record "in flight", then the fence ladder.
func (r *run) startFence(snap policy.Snapshot, a policy.Action, now time.Time) {
	c := r.c
	if !r.gate(snap, a, now) || a.Kind != policy.ActFence {
		return
	}
	if c.fencing[a.Host] != nil {
		return
	}
	fr := c.guards.Fence(a.Host)
	fr.Attempted, fr.Outcome, fr.At, fr.By, fr.Detail = now, policy.FenceInFlight, time.Time{}, "", ""
	c.guards.Fences[a.Host] = fr
	c.fencing[a.Host] = r.fenceJob(a.Host, now)
	r.logf(now, "%s", a)
}

// fenceJob decides how the fence ladder of a host will end, and when.
func (r *run) fenceJob(host string, now time.Time) *fenceJob {
	t := r.w.hosts[host]
	tm := r.sc.Settings
	j := &fenceJob{host: host, due: now.Add(tm.Timings.FenceDuration)}
	switch {
	case !r.c.byName[host].cfg.BMC:
		j.err, j.due = "no fence method (the host has no BMC)", now
	case !r.w.bmcReachable(host):
		j.err, j.due = fmt.Sprintf("the BMC did not answer within %s", tm.Recovery.FenceTimeout), now.Add(tm.Recovery.FenceTimeout)
	case t.fenceDevice == "hang":
		j.err, j.due = fmt.Sprintf("the fence device hung: timed out after %s", tm.Recovery.FenceTimeout), now.Add(tm.Recovery.FenceTimeout)
	case t.fenceDevice == "error":
		j.err = "the fence device answered an error"
	}
	return j
}

// startReset records an in-place restart of a crashed guest, then runs it (like the daemon's
// startGuestReset).
func (r *run) startReset(snap policy.Snapshot, a policy.Action, now time.Time) {
	c := r.c
	if c.resetting[a.UUID] != nil {
		return
	}
	i := slices.IndexFunc(snap.GuestFaults, func(f policy.GuestFault) bool { return f.UUID == a.UUID })
	if i < 0 {
		return
	}
	rec := c.guards.Resets[a.UUID].Record(snap.GuestFaults[i], snap.Config.GuestResets.Window, now)
	c.guards.Resets[a.UUID] = rec
	c.resetting[a.UUID] = &resetJob{rec: rec, due: now.Add(r.sc.Settings.Timings.RestartDuration)}
	r.logf(now, "%s", a)
}

func (r *run) startRestart(a policy.Action, now time.Time) {
	c := r.c
	if c.restarting[a.UUID] != nil {
		return
	}
	if fr := c.guards.Fence(a.Host); !fr.Outcome.Off() && a.Reason != policy.ReasonRestartNotRunning {
		r.violate(now, fmt.Sprintf("%s restarts on %s while %s is neither fenced nor confirmed off (%s)", a.VM, a.To, a.Host, orNone(fr.Outcome)))
	}
	rec := policy.RestartRecord{VM: a.VM, UUID: a.UUID, From: a.Host, To: a.To, Stage: policy.RestartRestarting, Reason: a.Message, Since: now}
	c.guards.Restarts[a.UUID] = rec
	c.restarting[a.UUID] = &restartJob{rec: rec, due: now.Add(r.sc.Settings.Timings.RestartDuration)}
	r.logf(now, "%s", a)
}

// complete ends the jobs due by now: fences record their outcome (a verified fence powers the
// host off), restarts start their VM (or go back to the queue).
func (r *run) complete(now time.Time) {
	c := r.c
	for _, h := range c.hosts {
		j := c.fencing[h.cfg.Name]
		if j == nil || j.due.After(now) {
			continue
		}
		delete(c.fencing, j.host)
		fr := c.guards.Fence(j.host)
		fr.At = now
		state := policy.PlanDone
		if j.err != "" {
			fr.Outcome, fr.Detail = policy.FenceFailed, j.err
			state = policy.PlanFailed
			r.logf(now, "fence %s failed: %s", j.host, j.err)
		} else {
			r.w.powerOff(j.host)
			fr.Outcome, fr.By = policy.FenceVerified, "bmc"
			r.logf(now, "fence %s verified: power off", j.host)
		}
		c.guards.Fences[j.host] = fr
		r.finishPlan(j.host, state, now)
	}
	for _, vm := range c.vms {
		j := c.resetting[vm.uuid]
		if j == nil || j.due.After(now) {
			continue
		}
		delete(c.resetting, vm.uuid)
		rec := j.rec
		rec.At = now
		if r.w.libvirtReachable(rec.Host) && containsHost(r.w.copies[vm.name], rec.Host) {
			delete(r.w.panicked, vm.name)
			vm.state, rec.Outcome = "running", policy.ResetDone
			r.logf(now, "restarted %s in place on %s", vm.name, rec.Host)
		} else {
			rec.Outcome, rec.Detail = policy.ResetFailed, "its host's libvirt does not answer"
			r.logf(now, "restart of %s in place on %s failed: its libvirt does not answer", vm.name, rec.Host)
		}
		c.guards.Resets[vm.uuid] = rec
	}
	for _, vm := range c.vms {
		j := c.restarting[vm.uuid]
		if j == nil || j.due.After(now) {
			continue
		}
		delete(c.restarting, vm.uuid)
		rec := j.rec
		rec.Since = now
		if r.w.libvirtReachable(rec.To) {
			r.w.copies[vm.name] = append(r.w.copies[vm.name], rec.To)
			vm.current, vm.state = rec.To, "running"
			rec.Stage, rec.Reason = policy.RestartRunning, "restarted on "+rec.To
			r.logf(now, "started %s on %s", vm.name, rec.To)
		} else {
			rec.Stage, rec.Reason = policy.RestartQueued, "restart on "+rec.To+" failed: its libvirt does not answer"
			r.logf(now, "start %s on %s failed: its libvirt does not answer", vm.name, rec.To)
		}
		c.guards.Restarts[vm.uuid] = rec
	}
}

// operator carries out an operator's command, as the API would.
func (r *run) operator(e Event, now time.Time) {
	c := r.c
	switch e.Verb {
	case ConfirmOff:
		h := c.byName[e.Host]
		if why := policy.ConfirmOffRefusal(c.det, h.verdict, h.sig, now); why != "" {
			r.logf(now, "confirm-off %s refused: %s", e.Host, why)
			return
		}
		fr := c.guards.Fence(e.Host)
		fr.Outcome, fr.At, fr.By, fr.Detail = policy.FenceConfirmedOff, now, "operator", ""
		c.guards.Fences[e.Host] = fr
		r.logf(now, "confirm-off %s accepted (%s)", e.Host, policy.ReasonOperatorConfirmed)
	case Approve, Reject:
		p := c.openPlan(e.Host)
		if p == nil || p.State != policy.PlanPending {
			r.logf(now, "%s %s refused: no recovery plan of %s waits for a decision", e.Verb, e.Host, e.Host)
			return
		}
		p.State = policy.PlanApproved
		if e.Verb == Reject {
			p.State = policy.PlanRejected
		}
		p.DecidedBy, p.DecidedAt = "operator", now
		r.logf(now, "plan %s %s", p.ID, p.State)
	case Disarm:
		c.disarmed = true
	case Arm:
		c.disarmed = false
	}
}

func orNone(o policy.FenceOutcome) string {
	if o == policy.FenceNone {
		return "no fence"
	}
	return strings.ReplaceAll(string(o), "_", " ")
}
