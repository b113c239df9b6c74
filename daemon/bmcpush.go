package daemon

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

// pushRetryMin is the first wait before another try of a subscription the BMC did not
// create; the wait doubles up to bmc_health_interval.
const pushRetryMin = time.Second

// newPushSecret is a fresh random Context for a push subscription: 32 bytes, hex.
func newPushSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24)
	return hex.EncodeToString(b)
}

// bmcPushLoop holds a push subscription on the host's BMC: the BMC POSTs its events to this
// daemon's API (api.bmc_event_url + /v1/bmc-events/HOST) with a random Context that only this
// run of this daemon knows, and the receiver (ReceiveBMCEvents) turns each into a read of the
// BMC. Every bmc_health_interval it checks that the BMC still has the subscription and
// subscribes again if not (the BMC rebooted), with a read, since events may have been missed.
// When ctx ends it deletes the subscription. A BMC that takes no subscriptions is only polled:
// quietly under auto, with an error under push; the loop then returns an error that wraps
// redfish.ErrNoSubscriptions (under auto the caller may follow the BMC's stream instead). It
// returns nil when ctx ends.
func (d *Daemon) bmcPushLoop(ctx context.Context, w *hostWatch, es eventSource, mode config.BMCEvents) error {
	host := w.cfg.Name
	dest := d.conf().API.BMCEventDestination(host)
	up := d.m.bmcStreamUp.WithLabelValues(host)
	secret := newPushSecret()
	d.mu.Lock()
	w.events.push, w.events.secret = true, secret
	d.mu.Unlock()
	defer func() {
		up.Set(0)
		d.mu.Lock()
		w.events.secret, w.events.subURI = "", ""
		d.mu.Unlock()
	}()
	if dest == "" {
		err := errors.New("api.bmc_event_url is not set: the BMC has nowhere to push to")
		d.setEvents(w, streamNone, err)
		d.log.Error("bmc.events is push but api.bmc_event_url is not set; polling only", "host", host)
		return nil
	}
	interval := d.conf().Timings.BMCHealthInterval.D()
	retry := pushRetryMin
	var sub redfish.Subscription
	subscribed := false
	for {
		if !subscribed {
			s, err := es.Subscribe(ctx, dest, secret)
			switch {
			case err != nil && ctx.Err() != nil:
				return nil
			case errors.Is(err, redfish.ErrNoSubscriptions):
				d.setEvents(w, streamNone, err)
				if mode == config.EventsPush {
					d.log.Error("bmc.events is push but the BMC takes no event subscriptions; polling only", "host", host, "err", err)
				}
				return err
			case err != nil:
				d.setEvents(w, streamConnecting, err)
				d.log.Warn("bmc event subscription failed; polling meanwhile", "host", host, "err", err, "retry_in", retry)
				if !sleepCtx(ctx, retry) {
					return nil
				}
				retry = min(2*retry, max(interval, pushRetryMin))
				continue
			}
			sub, subscribed, retry = s, true, pushRetryMin
			d.mu.Lock()
			w.events.subURI = sub.URI
			d.mu.Unlock()
			d.setEvents(w, streamUp, nil)
			up.Set(1)
			d.log.Info("bmc event subscription created", "host", host, "subscription", sub.URI, "destination", dest)
			w.kickBMC() // events may have been missed before
		}
		if !sleepCtx(ctx, interval) {
			d.unsubscribe(ctx, w, es, sub)
			return nil
		}
		err := es.SubscriptionExists(ctx, sub)
		switch {
		case ctx.Err() != nil:
			d.unsubscribe(ctx, w, es, sub)
			return nil
		case errors.Is(err, redfish.ErrSubscriptionGone):
			subscribed = false
			up.Set(0)
			d.setEvents(w, streamConnecting, err)
			d.log.Warn("the BMC dropped the event subscription; subscribing again", "host", host, "err", err)
		case err != nil:
			// The BMC did not answer: the poll reports that; keep the subscription.
			d.log.Debug("bmc event subscription not checked", "host", host, "err", err)
		}
	}
}

// unsubscribe deletes the host's push subscription as the loop stops, within two BMC
// timeouts (a new login and the DELETE).
func (d *Daemon) unsubscribe(ctx context.Context, w *hostWatch, es eventSource, sub redfish.Subscription) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*d.conf().Timings.BMCTimeout.D())
	defer cancel()
	if err := es.Unsubscribe(uctx, sub); err != nil {
		d.log.Warn("bmc event subscription not deleted; the next start deletes it", "host", w.cfg.Name, "subscription", sub.URI, "err", err)
		return
	}
	d.log.Info("bmc event subscription deleted", "host", w.cfg.Name, "subscription", sub.URI)
}

// sleepCtx waits for d or until ctx ends; it reports whether the wait ran out.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// BMCEventReceiver is the API's receiver of events pushed by BMCs, nil without
// api.bmc_event_url (no BMC pushes to this daemon).
func (d *Daemon) BMCEventReceiver() api.BMCEventReceiver {
	if d.conf().API.BMCEventURL == "" {
		return nil
	}
	return d
}

// BMCEventContext implements api.BMCEventReceiver: the Context of host's current push
// subscription, while the daemon holds one (or is creating it).
func (d *Daemon) BMCEventContext(host string) (string, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	w, ok := d.byName[host]
	if !ok || w.events.secret == "" {
		return "", false
	}
	return w.events.secret, true
}

// ReceiveBMCEvents implements api.BMCEventReceiver: each pushed event about the host's system
// asks for an immediate read of its BMC, as an event on the stream does.
func (d *Daemon) ReceiveBMCEvents(_ context.Context, host string, events []redfish.Event) {
	d.mu.Lock()
	w, ok := d.byName[host]
	d.mu.Unlock()
	if !ok {
		return
	}
	es, ok := w.bmc.(eventSource)
	if !ok {
		return
	}
	for _, ev := range events {
		d.gotEvent(w, es, ev)
	}
}
