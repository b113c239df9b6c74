package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

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
	err := es.WatchEvents(ctx, redfish.WatchOptions{
		IdleTimeout: idle,
		OnEvent: func(ev redfish.Event) {
			events.Inc()
			about := es.AboutSystem(ev)
			d.log.Debug("bmc event", "host", host, "message_id", ev.MessageID, "origin", ev.Origin, "about_host", about)
			if about {
				w.kickBMC()
			}
		},
		OnState: func(s redfish.StreamState) {
			if s.Up {
				up.Set(1)
				wasUp = true
				d.log.Info("bmc event stream up", "host", host)
				w.kickBMC()
				return
			}
			up.Set(0)
			if wasUp {
				d.log.Warn("bmc event stream down; polling meanwhile", "host", host, "err", s.Err)
			} else {
				d.log.Debug("bmc event stream not up; polling meanwhile", "host", host, "err", s.Err)
			}
			wasUp = false
		},
	})
	up.Set(0)
	switch {
	case errors.Is(err, redfish.ErrNoEventService) && mode == config.EventsSSE:
		d.log.Error("bmc.events is sse but the BMC offers no event stream; polling only", "host", host, "err", err)
	case errors.Is(err, redfish.ErrNoEventService):
		d.log.Info("the BMC offers no event stream; polling only", "host", host, "err", err)
	}
}
