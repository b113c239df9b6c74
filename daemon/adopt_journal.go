package daemon

import (
	"context"
	"fmt"

	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// adoptJournalTail is how many of the latest journal entries adopt reads to find the fence
// outcomes the previous controller recorded but did not journal.
const adoptJournalTail = 5000

// unjournaledFences lists the journal entries owed for fences the previous controller finished
// (their record holds the outcome) but stopped before journaling: killed or deposed between the
// two writes. Fences attempted before the fence window are not looked at.
func (d *Daemon) unjournaledFences(ctx context.Context, g policy.Guards) ([]store.Entry, error) {
	since := d.now().Add(-d.conf().Recovery.FenceWindow.D())
	var recent []policy.FenceRecord
	for _, r := range g.Fences {
		if (r.Outcome == policy.FenceVerified || r.Outcome == policy.FenceFailed) && r.Attempted.After(since) {
			recent = append(recent, r)
		}
	}
	if len(recent) == 0 {
		return nil, nil
	}
	last, err := d.db.LastSeq(ctx)
	if err != nil {
		return nil, fmt.Errorf("daemon: adopt: read the journal's end: %w", err)
	}
	es, err := d.db.Journal(ctx, last-min(last, adoptJournalTail), 0)
	if err != nil {
		return nil, fmt.Errorf("daemon: adopt: read the journal: %w", err)
	}
	var owed []store.Entry
	for _, r := range recent {
		journaled := false
		for _, e := range es {
			if e.Kind == "action" && e.Host == r.Host && (e.Reason == "fenced" || e.Reason == "fence_failed") && !e.At.Before(r.Attempted) {
				journaled = true
				break
			}
		}
		if journaled {
			continue
		}
		const stopped = "recorded by the controller that ran it, which stopped before journaling it"
		e := store.Entry{At: r.At, Kind: "action", Host: r.Host, Reason: "fenced",
			Message: fmt.Sprintf("%s fenced by %s: power off verified (%s)", r.Host, r.By, stopped)}
		if r.Outcome == policy.FenceFailed {
			e.Reason = "fence_failed"
			e.Message = fmt.Sprintf("fencing %s failed, its VMs stay down: %s (%s)", r.Host, r.Detail, stopped)
		}
		if e.At.IsZero() {
			e.At = d.now()
		}
		owed = append(owed, e)
	}
	return owed, nil
}

// journalOwed journals what adopt found owed, once this daemon acts.
func (d *Daemon) journalOwed(ctx context.Context) {
	d.mu.Lock()
	owed := d.ha.owed
	d.ha.owed = nil
	d.mu.Unlock()
	for _, e := range owed {
		d.journal(ctx, e)
	}
}

// journalTookEffect journals a restart that a stopped controller carried out without
// recording it (policy.ReasonRestartTookEffect): the VM was restarted once, and the journal says so.
func (d *Daemon) journalTookEffect(ctx context.Context, a policy.Action) {
	at := d.now()
	d.m.recoveries.WithLabelValues("restarted").Inc()
	d.journal(ctx, store.Entry{At: at, Kind: "recovery", Host: a.To, VM: a.VM, Reason: "restarted", Message: a.Message})
	d.notify(notify.Notification{Kind: "failover", At: at, Host: a.Host, VM: a.VM, Message: a.Message})
}
