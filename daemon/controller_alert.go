package daemon

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/controller"
	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/store"
)

// NotifyControllerLostStore is the webhook notification a daemon sends when it stops acting
// because it lost its store (etcd unreachable or without quorum): nobody may be acting on the
// cluster until the store answers again.
const NotifyControllerLostStore = "controller_lost_store"

// controllerWatchEvery is how often the daemon compares its controller's verdict with the last
// one it reported: a leader whose session goes stale stops acting without any event from etcd,
// and lifeboat_leader, the log and the webhook must say so at once.
const controllerWatchEvery = 100 * time.Millisecond

// lostStore is the journal entry of a lost store, kept in memory until the store answers.
type lostStore struct {
	mu      sync.Mutex
	pending *store.Entry
}

// alertLostStore says, without the store, that this daemon stopped acting because it lost its
// store: an error in the log, the webhook notification, and (later) a journal entry. The
// lifeboat_leader gauge is already 0.
func (d *Daemon) alertLostStore(st controller.Status) {
	at := d.now()
	msg := fmt.Sprintf("%s stopped acting on the cluster: it lost its store (%s); no fence, restart or migration until the store answers and a daemon leads again", st.Name, st.Why)
	d.log.Error("this daemon stopped acting: it lost its store", "why", st.Why, "term", st.Term)
	d.notify(notify.Notification{Kind: NotifyControllerLostStore, At: at, Message: msg})
	d.ha.lost.mu.Lock()
	if d.ha.lost.pending == nil { // the first loss is the one to record
		d.ha.lost.pending = &store.Entry{At: at, Kind: "controller", Reason: "lost_store", Message: msg}
	}
	d.ha.lost.mu.Unlock()
}

// flushLostStore journals a pending lost-store entry, through the store without the acting
// guard (a follower records its own incident too); on failure it stays pending.
func (d *Daemon) flushLostStore(ctx context.Context) {
	d.ha.lost.mu.Lock()
	defer d.ha.lost.mu.Unlock()
	e := d.ha.lost.pending
	if e == nil {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if _, err := d.ha.raw.Append(wctx, *e); err != nil {
		d.log.Warn("the lost-store entry is not journaled yet", "err", err)
		return
	}
	d.m.journal.WithLabelValues(e.Kind).Inc()
	d.ha.lost.pending = nil
}

// controllerWatch reports changes of the controller's verdict that come without an event (a
// session gone stale) and journals a lost-store entry once the store answers again.
func (d *Daemon) controllerWatch(ctx context.Context) {
	t := time.NewTicker(controllerWatchEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := d.ha.ctl.Status()
		if st.Acting != d.ha.acting.Load() {
			d.controllerChanged(st)
		}
		if !st.StoreLost {
			d.ha.lost.mu.Lock()
			pending := d.ha.lost.pending != nil
			d.ha.lost.mu.Unlock()
			if pending {
				d.flushLostStore(ctx)
			}
		}
	}
}
