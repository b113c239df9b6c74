package daemon

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// guestResetTimeout bounds one in-place restart (destroy, then start).
const guestResetTimeout = 60 * time.Second

// suspectGuest tells whether libvirt's view of a domain may hide a crashed guest: crashed
// (on_crash preserve), paused because the guest crashed or for a reason libvirt does not know
// (how it shows QEMU's internal-error), or shut off because it crashed (on_crash destroy).
// Only the running suspects are asked through QMP; the steady state costs nothing.
func suspectGuest(dom hypervisor.Domain) (askQMP, crashedOff bool) {
	switch {
	case dom.State == hypervisor.StateCrashed:
		return true, false
	case dom.State == hypervisor.StatePaused && (dom.StateReason == "crashed" || dom.StateReason == "unknown"):
		return true, false
	case dom.State == hypervisor.StateShutoff && dom.StateReason == "crashed":
		return false, true
	}
	return false, false
}

// guestFault is the fault of a suspect domain, once QEMU's run state (st, or qerr when it
// could not be read) is known; ok is false when the guest is fine (e.g. paused on purpose).
func guestFault(dom hypervisor.Domain, st hypervisor.RunState, qerr error) (policy.GuestFaultKind, string, bool) {
	seen := fmt.Sprintf("libvirt %s/%s", dom.State, orDash(dom.StateReason))
	if qerr != nil {
		if dom.State == hypervisor.StateCrashed {
			// libvirt's crashed state alone proves the panic.
			return policy.GuestPanicked, seen + ", QMP unreadable: " + qerr.Error(), true
		}
		return "", "", false
	}
	switch st {
	case hypervisor.RunStateGuestPanicked:
		return policy.GuestPanicked, seen + ", QMP status guest-panicked", true
	case hypervisor.RunStateInternalError:
		return policy.GuestInternalError, seen + ", QMP status internal-error", true
	}
	return "", "", false
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkGuests looks for crashed guests in a host's fresh inventory and keeps what it finds for
// the reconciler (VM-level monitoring). A running suspect is confirmed through QMP
// (query-status, through go-qemu); a domain libvirt shut off because it crashed is a fault
// when no other host runs the VM.
func (d *Daemon) checkGuests(ctx context.Context, w *hostWatch, doms []hypervisor.Domain) {
	now := d.now()
	faults := map[string]policy.GuestFault{}
	for _, dom := range doms {
		askQMP, crashedOff := suspectGuest(dom)
		switch {
		case askQMP:
			st, err := w.conn.GuestStatus(ctx, dom.UUID)
			if kind, detail, ok := guestFault(dom, st, err); ok {
				faults[dom.UUID] = policy.GuestFault{VM: dom.Name, UUID: dom.UUID, Host: w.cfg.Name, Kind: kind, Seen: now, Detail: detail}
			} else if err != nil {
				d.log.Debug("QMP query-status failed", "host", w.cfg.Name, "vm", dom.Name, "err", err)
			}
		case crashedOff:
			d.mu.Lock()
			_, elsewhere := d.activeHost(dom.UUID, w)
			d.mu.Unlock()
			if !elsewhere {
				faults[dom.UUID] = policy.GuestFault{VM: dom.Name, UUID: dom.UUID, Host: w.cfg.Name, Kind: policy.GuestCrashedOff, Seen: now,
					Detail: "libvirt shutoff/crashed"}
			}
		}
	}
	d.mu.Lock()
	w.faults = faults
	d.mu.Unlock()
}

// guestFaults lists every host's crashed guests, for the snapshot. Caller holds d.mu.
func (d *Daemon) guestFaults() []policy.GuestFault {
	var out []policy.GuestFault
	for _, w := range d.hosts {
		for _, f := range w.faults {
			out = append(out, f)
		}
	}
	return out
}

// guestNote says what VM-level monitoring knows of a VM: a crash seen now, and its restarts in
// place within the window. Caller holds d.mu.
func (d *Daemon) guestNote(uuid string) string {
	var parts []string
	for _, w := range d.hosts {
		if f, ok := w.faults[uuid]; ok {
			parts = append(parts, fmt.Sprintf("%s on %s (%s)", f.Kind.Words(), f.Host, f.Detail))
		}
	}
	gm := d.conf().Recovery.GuestMonitoring
	if r, ok := d.guards.Resets[uuid]; ok {
		if n := r.Within(gm.ResetWindow.D(), d.now()); n > 0 {
			parts = append(parts, fmt.Sprintf("restarted in place %d time(s) in the last %s (at most %d), last %s", n, gm.ResetWindow, gm.MaxResets,
				strings.ReplaceAll(string(r.Outcome), "_", " ")))
		}
	}
	if d.resetting[uuid] {
		parts = append(parts, "a restart in place is running")
	}
	return strings.Join(parts, "; ")
}

// startGuestReset records an in-place restart the reconciler asked for, then runs it. The
// record (with the restart counted) is written first; if it cannot be, nothing runs.
func (d *Daemon) startGuestReset(ctx context.Context, snap policy.Snapshot, a policy.Action, now time.Time) {
	d.mu.Lock()
	busy := d.resetting[a.UUID]
	w := d.byName[a.Host]
	var f policy.GuestFault
	if w != nil {
		f = w.faults[a.UUID]
	}
	prev := d.guards.Resets[a.UUID]
	d.mu.Unlock()
	if busy || w == nil || f.UUID == "" {
		return
	}
	rec := prev.Record(f, snap.Config.GuestResets.Window, now)
	if err := d.putGuestReset(ctx, rec); err != nil {
		return
	}
	d.mu.Lock()
	d.resetting[a.UUID] = true
	d.mu.Unlock()
	d.journal(ctx, store.Entry{At: now, Kind: "recovery", Host: a.Host, VM: a.VM, Reason: string(a.Reason), Message: a.Message})
	go d.resetGuest(ctx, w, rec, a)
}

// resetGuest restarts one VM in place and records the outcome.
func (d *Daemon) resetGuest(ctx context.Context, w *hostWatch, rec policy.GuestReset, a policy.Action) {
	start := d.now()
	rctx, cancel := context.WithTimeout(ctx, guestResetTimeout)
	err := w.conn.ResetDomain(rctx, rec.UUID)
	cancel()
	end := d.now()
	rec.At = end
	result, reason := "restarted", "guest_restarted"
	msg := fmt.Sprintf("%s restarted in place on %s in %s (%s; restart %d in %s)", rec.VM, rec.Host, end.Sub(start).Round(10*time.Millisecond),
		rec.Kind.Words(), len(rec.Times), d.conf().Recovery.GuestMonitoring.ResetWindow)
	if err != nil {
		rec.Outcome, rec.Detail = policy.ResetFailed, err.Error()
		result, reason = "failed", "guest_restart_failed"
		msg = fmt.Sprintf("%s: restart in place on %s failed: %v", rec.VM, rec.Host, err)
	} else {
		rec.Outcome = policy.ResetDone
	}
	_ = d.putGuestReset(ctx, rec) // the memory holds it if the store does not
	d.mu.Lock()
	delete(d.resetting, rec.UUID)
	delete(w.faults, rec.UUID) // seen before the restart: wait for a fresh inventory
	d.mu.Unlock()
	select {
	case w.invKick <- struct{}{}:
	default:
	}
	d.m.guestResets.WithLabelValues(string(rec.Kind), result).Inc()
	d.journal(ctx, store.Entry{At: end, Kind: "recovery", Host: rec.Host, VM: rec.VM, Reason: reason, Message: msg})
	d.notify(notify.Notification{Kind: reason, At: end, Host: rec.Host, VM: rec.VM, Message: msg})
}

// putGuestReset stores a VM's in-place restart record and keeps it in memory.
func (d *Daemon) putGuestReset(ctx context.Context, r policy.GuestReset) error {
	if err := d.db.PutGuestReset(context.WithoutCancel(ctx), r); err != nil {
		d.storeFailed("guest reset record of "+r.VM, err)
		return fmt.Errorf("store guest reset record: %w", err)
	}
	d.mu.Lock()
	d.guards.Resets[r.UUID] = r
	d.mu.Unlock()
	return nil
}

// forgetGuestReset drops a VM's in-place restart record whose window has passed.
func (d *Daemon) forgetGuestReset(ctx context.Context, a policy.Action) {
	if err := d.db.DeleteGuestReset(context.WithoutCancel(ctx), a.UUID); err != nil {
		d.storeFailed("guest reset record of "+a.VM, err)
		return
	}
	d.mu.Lock()
	delete(d.guards.Resets, a.UUID)
	d.mu.Unlock()
}
