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

// bmcEvents is a host's event stream as explain shows it (under d.mu).
type bmcEvents struct {
	state  bmcStreamState
	since  time.Time // of the state
	err    string    // why it is not up
	count  uint64    // events received
	lastAt time.Time // of the last event
}

// view renders the stream as the bmc_events signal.
func (e bmcEvents) view(mode config.BMCEvents) api.SignalView {
	v := api.SignalView{Name: "bmc_events", At: e.since}
	switch e.state {
	case streamOff:
		if mode == config.EventsOff {
			v.Value, v.Detail = "off", "bmc.events is off, or the BMC is not redfish: polling only"
			break
		}
		v.Value, v.Detail = "connecting", "the event stream has not been opened yet"
	case streamConnecting:
		v.Value, v.Detail = "down", "reconnecting; the BMC is polled meanwhile: "+e.err
	case streamUp:
		v.Value = "up"
		v.Detail = fmt.Sprintf("%d events received", e.count)
		if !e.lastAt.IsZero() {
			v.Detail += ", the last at " + e.lastAt.UTC().Format(time.RFC3339)
		}
	case streamNone:
		v.Value, v.Detail = "none", "the BMC offers no event stream; polling only: "+e.err
	}
	return v
}

// bmcEventIdleAfter is the shortest silence after which an event stream counts as dead and is
// opened again; it is at least twice bmc_health_interval, so a BMC that sends no heartbeats
// costs one reconnection per that time, no more than the poll.
const bmcEventIdleAfter = time.Minute

// eventSource is a BMC source with an event stream (a Redfish client).
type eventSource interface {
	WatchEvents(ctx context.Context, opts redfish.WatchOptions) error
	AboutSystem(ev redfish.Event) bool
}

// bmcEventLoop subscribes to the host's BMC event stream when bmc.events allows it (auto or
// sse, redfish only) and turns every event about the host's system into an immediate read of
// the BMC (kickBMC): an event is a hint, and the verdict still comes from a read of the power
// state. A stream that comes up (or back) also asks for a read, since events may have been
// missed while it was down. The steady-state poll goes on beside it as the safety net. A BMC
// without an event stream is only polled: quietly under auto, with an error under sse.
func (d *Daemon) bmcEventLoop(ctx context.Context, w *hostWatch) {
	mode := w.cfg.BMC.EventMode()
	es, ok := w.bmc.(eventSource)
	if mode == config.EventsOff || !ok {
		return
	}
	host := w.cfg.Name
	up := d.m.bmcStreamUp.WithLabelValues(host)
	up.Set(0)
	events := d.m.bmcEvents.WithLabelValues(host)
	t := d.conf().Timings
	idle := max(2*t.BMCHealthInterval.D(), bmcEventIdleAfter)
	wasUp := false
	set := func(st bmcStreamState, err error, event bool) {
		now := d.now()
		d.mu.Lock()
		defer d.mu.Unlock()
		e := &w.events
		if event {
			e.count++
			e.lastAt = now
			return
		}
		if e.state != st {
			e.state, e.since = st, now
		}
		e.err = ""
		if err != nil {
			e.err = err.Error()
		}
	}
	err := es.WatchEvents(ctx, redfish.WatchOptions{
		IdleTimeout: idle,
		OnEvent: func(ev redfish.Event) {
			events.Inc()
			set(streamUp, nil, true)
			about := es.AboutSystem(ev)
			d.log.Debug("bmc event", "host", host, "message_id", ev.MessageID, "origin", ev.Origin, "about_host", about)
			if about {
				w.kickBMC()
			}
		},
		OnState: func(s redfish.StreamState) {
			if s.Up {
				up.Set(1)
				set(streamUp, nil, false)
				wasUp = true
				d.log.Info("bmc event stream up", "host", host)
				w.kickBMC()
				return
			}
			up.Set(0)
			set(streamConnecting, s.Err, false)
			if wasUp {
				d.log.Warn("bmc event stream down; polling meanwhile", "host", host, "err", s.Err)
			} else {
				d.log.Debug("bmc event stream not up; polling meanwhile", "host", host, "err", s.Err)
			}
			wasUp = false
		},
	})
	up.Set(0)
	if errors.Is(err, redfish.ErrNoEventService) {
		set(streamNone, err, false)
	}
	switch {
	case errors.Is(err, redfish.ErrNoEventService) && mode == config.EventsSSE:
		d.log.Error("bmc.events is sse but the BMC offers no event stream; polling only", "host", host, "err", err)
	case errors.Is(err, redfish.ErrNoEventService):
		d.log.Info("the BMC offers no event stream; polling only", "host", host, "err", err)
	}
}
