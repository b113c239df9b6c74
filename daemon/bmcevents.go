package daemon

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

// bmcStreamState is what the daemon knows of a host's BMC event stream, for explain.
type bmcStreamState int

// The states of a BMC event stream.
const (
	// streamOff: the host has no redfish BMC, or bmc.events is off.
	streamOff bmcStreamState = iota
	// streamConnecting: not up yet, or down and reconnecting.
	streamConnecting
	// streamUp: open; events flow.
	streamUp
	// streamNone: the BMC offers no event stream; polling only.
	streamNone
)

// bmcEvents is a host's event stream or push subscription as explain shows it (under d.mu).
type bmcEvents struct {
	state  bmcStreamState
	since  time.Time // of the state
	err    string    // why it is not up
	count  uint64    // events received
	lastAt time.Time // of the last event
	// push is set while the events come by push subscription (bmcpush.go), not SSE.
	push bool
	// subURI is the push subscription's URI on the BMC, while subscribed.
	subURI string
	// secret is the push subscription's Context, which every pushed event must carry; "" while
	// the host takes no pushed events.
	secret string
}

// view renders the stream as the bmc_events signal.
func (e bmcEvents) view(mode config.BMCEvents) api.SignalView {
	v := api.SignalView{Name: "bmc_events", At: e.since}
	received := fmt.Sprintf("%d events received", e.count)
	if !e.lastAt.IsZero() {
		received += ", the last at " + e.lastAt.UTC().Format(time.RFC3339)
	}
	switch {
	case e.state == streamOff && mode == config.EventsOff:
		v.Value, v.Detail = "off", "bmc.events is off, or the BMC is not redfish: polling only"
	case e.state == streamOff && mode == config.EventsPush:
		v.Value, v.Detail = "connecting", "push: the subscription has not been created yet"
	case e.state == streamOff:
		v.Value, v.Detail = "connecting", "the event stream has not been opened yet"
	case e.state == streamConnecting && e.push:
		v.Value, v.Detail = "down", "push: subscribing; the BMC is polled meanwhile: "+e.err
	case e.state == streamConnecting:
		v.Value, v.Detail = "down", "reconnecting; the BMC is polled meanwhile: "+e.err
	case e.state == streamUp && e.push:
		v.Value, v.Detail = "up", "push: subscribed ("+e.subURI+"), "+received
	case e.state == streamUp:
		v.Value, v.Detail = "up", received
	case e.state == streamNone && e.push:
		v.Value, v.Detail = "none", "the BMC takes no event subscriptions; polling only: "+e.err
	case e.state == streamNone:
		v.Value, v.Detail = "none", "the BMC offers no event stream; polling only: "+e.err
	}
	return v
}

// setEvents records a change of the host's event stream or subscription, for explain.
func (d *Daemon) setEvents(w *hostWatch, st bmcStreamState, err error) {
	now := d.now()
	d.mu.Lock()
	defer d.mu.Unlock()
	e := &w.events
	if e.state != st {
		e.state, e.since = st, now
	}
	e.err = ""
	if err != nil {
		e.err = err.Error()
	}
}

// gotEvent counts an event from the host's BMC (streamed or pushed) and, when it may concern
// the host's system, asks for an immediate read of the BMC: the event is a hint, the read
// gives the verdict.
func (d *Daemon) gotEvent(w *hostWatch, es eventSource, ev redfish.Event) {
	d.m.bmcEvents.WithLabelValues(w.cfg.Name).Inc()
	now := d.now()
	d.mu.Lock()
	w.events.count++
	w.events.lastAt = now
	d.mu.Unlock()
	about := es.AboutSystem(ev)
	d.log.Debug("bmc event", "host", w.cfg.Name, "message_id", ev.MessageID, "origin", ev.Origin, "about_host", about)
	if about {
		w.kickBMC()
	}
}

// bmcEventIdleAfter is the shortest silence after which an event stream counts as dead and is
// opened again; it is at least twice bmc_health_interval, so a BMC that sends no heartbeats
// costs one reconnection per that time, no more than the poll.
const bmcEventIdleAfter = time.Minute

// eventSource is a BMC source with events: a stream and push subscriptions (a Redfish client).
type eventSource interface {
	WatchEvents(ctx context.Context, opts redfish.WatchOptions) error
	AboutSystem(ev redfish.Event) bool
	Subscribe(ctx context.Context, destination, context string) (redfish.Subscription, error)
	Unsubscribe(ctx context.Context, sub redfish.Subscription) error
	SubscriptionExists(ctx context.Context, sub redfish.Subscription) error
}

// bmcEventLoop subscribes to the host's BMC events when bmc.events allows it (redfish only)
// and turns every event about the host's system into an immediate read of the BMC (kickBMC):
// an event is a hint, and the verdict still comes from a read of the power state. Under push,
// and under auto when api.bmc_event_url is set, it holds a push subscription (bmcPushLoop): the
// BMC holds no connection to the daemon while nothing happens, where a stream is one more TLS
// connection per host (about 75 KiB each in the daemon; 370 MiB at 5,000 hosts). Under sse, and
// under auto when there is no api.bmc_event_url or the BMC takes no subscriptions, it opens the
// BMC's event stream (SSE); a stream that comes up (or back) also asks for a read, since events
// may have been missed while it was down. The steady-state poll goes on beside it as the
// safety net. A BMC without events is only polled: quietly under auto, with an error under sse
// and push.
func (d *Daemon) bmcEventLoop(ctx context.Context, w *hostWatch) {
	mode := w.cfg.BMC.EventMode()
	es, ok := w.bmc.(eventSource)
	if mode == config.EventsOff || !ok {
		return
	}
	host := w.cfg.Name
	up := d.m.bmcStreamUp.WithLabelValues(host)
	up.Set(0)
	pushFirst := mode == config.EventsAuto && d.conf().API.BMCEventURL != ""
	if mode == config.EventsPush || pushFirst {
		if err := d.bmcPushLoop(ctx, w, es, mode); mode == config.EventsPush || !errors.Is(err, redfish.ErrNoSubscriptions) {
			return
		}
		d.log.Info("the BMC takes no event subscriptions; following its event stream instead", "host", host)
		d.mu.Lock()
		w.events.push = false
		d.mu.Unlock()
	}
	t := d.conf().Timings
	idle := max(2*t.BMCHealthInterval.D(), bmcEventIdleAfter)
	wasUp := false
	err := es.WatchEvents(ctx, redfish.WatchOptions{
		IdleTimeout: idle,
		OnEvent:     func(ev redfish.Event) { d.gotEvent(w, es, ev) },
		OnState: func(s redfish.StreamState) {
			if s.Up {
				up.Set(1)
				d.setEvents(w, streamUp, nil)
				wasUp = true
				d.log.Info("bmc event stream up", "host", host)
				w.kickBMC()
				return
			}
			up.Set(0)
			d.setEvents(w, streamConnecting, s.Err)
			if wasUp {
				d.log.Warn("bmc event stream down; polling meanwhile", "host", host, "err", s.Err)
			} else {
				d.log.Debug("bmc event stream not up; polling meanwhile", "host", host, "err", s.Err)
			}
			wasUp = false
		},
	})
	up.Set(0)
	if !errors.Is(err, redfish.ErrNoEventService) {
		return
	}
	d.setEvents(w, streamNone, err)
	switch {
	case mode == config.EventsSSE:
		d.log.Error("bmc.events is sse but the BMC offers no event stream; polling only", "host", host, "err", err)
	case pushFirst:
		d.setEvents(w, streamNone, fmt.Errorf("it takes no event subscriptions either: %w", err))
		d.log.Info("the BMC offers neither event subscriptions nor an event stream; polling only", "host", host, "err", err)
	default:
		d.log.Info("the BMC offers no event stream; polling only", "host", host, "err", err)
	}
}
