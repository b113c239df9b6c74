package daemon

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// pushDaemon is a daemon whose API (the pushed-event receiver) is served over real HTTPS at
// cfg.API.BMCEventURL.
type pushDaemon struct {
	d    *Daemon
	api  *httptest.Server
	stop func()
}

// runPushDaemon sets api.bmc_event_url (and api.tls, with the receiver's certificate written
// to files) on cfg, starts the daemon over a simulated fleet and serves its API over HTTPS.
// stop ends the daemon (it runs until the test ends otherwise), and keeps the API up until
// the daemon has stopped, as the daemon command does.
func runPushDaemon(t *testing.T, cfg config.Config) *pushDaemon {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.StartTLS() // the listener's address and certificate are known; the handler comes later
	t.Cleanup(ts.Close)
	cfg.API.BMCEventURL = ts.URL
	cfg.API.TLS.CertFile, cfg.API.TLS.KeyFile = writeTLSFiles(t, ts.TLS.Certificates[0])
	d, err := New(context.Background(), cfg, Options{Dial: fleet.New(len(cfg.Hosts)).Dial})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewServer(d, api.ServerOptions{BMCEvents: d.BMCEventReceiver()})
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = h
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	return &pushDaemon{d: d, api: ts, stop: stop}
}

// writeTLSFiles writes a certificate and its key as PEM files (the key owner-only).
func writeTLSFiles(t *testing.T, c tls.Certificate) (string, string) {
	t.Helper()
	dir := t.TempDir()
	key, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	cf, kf := filepath.Join(dir, "api.crt"), filepath.Join(dir, "api.key")
	if err := os.WriteFile(cf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(kf, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: key}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cf, kf
}

// pushEvent POSTs body to host's receiver and returns the status and answer.
func (p *pushDaemon) pushEvent(t *testing.T, host, body string) (int, string) {
	t.Helper()
	resp, err := p.api.Client().Post(p.api.URL+api.BMCEventPath+host, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestBMCPushEventReadAtOnce: with bmc.events push, a push-only BMC (no SSE) and the
// steady-state poll an hour apart, the daemon subscribes with its receiver's URL; a power loss
// and the power coming back reach it as pushed events over HTTPS, and each makes it read the
// BMC at once (the read, not the event, sets the signal). An event with a wrong Context is
// refused and counts for nothing. When the daemon stops, the BMC holds no subscription.
func TestBMCPushEventReadAtOnce(t *testing.T) {
	cfg := fleetConfig(t.TempDir(), 1)
	host := cfg.Hosts[0].Name
	srv, power, entry := emulatedBMC(t, host, func(c *bmc.Config) { c.NoSSE = true })
	entry.Events = config.EventsPush
	cfg.Hosts[0].BMC = entry
	cfg.Timings.BMCHealthInterval = config.Duration(time.Hour)
	cfg.Recovery.Automatic = false
	p := runPushDaemon(t, cfg)
	d := p.d
	up := d.m.bmcStreamUp.WithLabelValues(host)
	waitFor(t, time.Minute, "the subscription and the power read on", func() bool {
		return testutil.ToFloat64(up) == 1 && srv.EventStats().Subscriptions == 1 && readPowerSignal(d, host) == policy.PowerOn
	})
	powerCycleReadAtOnce(t, d, srv, power, host, "pushed event")
	waitFor(t, time.Minute, "both deliveries accepted", func() bool { return srv.EventStats().Delivered == 2 })
	if st := srv.EventStats(); st.DeliveryFailures != 0 {
		t.Errorf("deliveries: %+v, want no failures", st)
	}
	if n := testutil.ToFloat64(d.m.bmcEvents.WithLabelValues(host)); n != 2 {
		t.Errorf("lifeboat_bmc_events_total{host=%q} = %v, want 2", host, n)
	}
	if s := eventsSignal(t, d, host); s.Value != "up" || !strings.HasPrefix(s.Detail, "push: subscribed (/redfish/v1/EventService/Subscriptions/1), 2 events received, the last at ") {
		t.Errorf("explain bmc_events = %+v, want push: subscribed with 2 events", s)
	}

	forged := `{"Context":"guess","Events":[{"EventType":"ResourceUpdated","OriginOfCondition":{"@odata.id":"/redfish/v1/Systems/` + host + `"}}]}`
	if code, body := p.pushEvent(t, host, forged); code != http.StatusUnauthorized || !strings.Contains(body, "not the secret of host "+host) {
		t.Errorf("a forged event: %d %s, want 401", code, body)
	}
	if code, body := p.pushEvent(t, "nosuchhost", forged); code != http.StatusNotFound {
		t.Errorf("an event for an unknown host: %d %s, want 404", code, body)
	}
	if code, body := p.pushEvent(t, host, `{"Context":`); code != http.StatusBadRequest || !strings.Contains(body, "not a Redfish Event") {
		t.Errorf("a bad body: %d %s, want 400", code, body)
	}
	if n := testutil.ToFloat64(d.m.bmcEvents.WithLabelValues(host)); n != 2 {
		t.Errorf("refused events were counted: lifeboat_bmc_events_total = %v, want 2", n)
	}

	p.stop()
	if n := srv.EventStats().Subscriptions; n != 0 {
		t.Errorf("%d subscriptions left on the BMC after the daemon stopped", n)
	}
	if code, _ := p.pushEvent(t, host, forged); code != http.StatusNotFound {
		t.Errorf("a stopped daemon's receiver answers %d for its host, want 404", code)
	}
}

// TestBMCPushResubscribes: a BMC that drops the subscription (it rebooted) is subscribed to
// again at the next check (bmc_health_interval), and pushed events flow again.
func TestBMCPushResubscribes(t *testing.T) {
	cfg := fleetConfig(t.TempDir(), 1)
	host := cfg.Hosts[0].Name
	srv, power, entry := emulatedBMC(t, host, func(c *bmc.Config) { c.NoSSE = true })
	entry.Events = config.EventsPush
	cfg.Hosts[0].BMC = entry
	cfg.Timings.BMCInterval = config.Duration(100 * time.Millisecond)
	cfg.Timings.BMCHealthInterval = config.Duration(200 * time.Millisecond)
	cfg.Recovery.Automatic = false
	d := runPushDaemon(t, cfg).d
	waitFor(t, time.Minute, "the subscription", func() bool { return srv.EventStats().Subscriptions == 1 })
	srv.DropSubscriptions()
	waitFor(t, time.Minute, "a new subscription after the BMC dropped it", func() bool {
		return srv.EventStats().Subscriptions == 1 && strings.Contains(eventsSignal(t, d, host).Detail, "Subscriptions/2)")
	})
	power.set(bmc.PowerOff)
	srv.PowerChanged()
	waitFor(t, time.Minute, "a pushed event on the new subscription", func() bool { return srv.EventStats().Delivered == 1 })
	if n := testutil.ToFloat64(d.m.bmcEvents.WithLabelValues(host)); n != 1 {
		t.Errorf("lifeboat_bmc_events_total = %v, want 1", n)
	}
}

// TestBMCAutoPrefersPush: under bmc.events auto with api.bmc_event_url set, a BMC that takes
// subscriptions gets a push subscription and no stream, even when it offers one; an SSE-only BMC
// is followed through its stream; a BMC without an EventService is polled, and explain says
// why.
func TestBMCAutoPrefersPush(t *testing.T) {
	cfg := fleetConfig(t.TempDir(), 4)
	h0, h1, h2, h3 := cfg.Hosts[0].Name, cfg.Hosts[1].Name, cfg.Hosts[2].Name, cfg.Hosts[3].Name
	srv0, _, e0 := emulatedBMC(t, h0, func(c *bmc.Config) { c.NoSSE = true })
	srv1, _, e1 := emulatedBMC(t, h1, func(c *bmc.Config) { c.NoEventService = true })
	srv2, _, e2 := emulatedBMC(t, h2, func(c *bmc.Config) { c.NoPush = true })
	srv3, _, e3 := emulatedBMC(t, h3) // both
	cfg.Hosts[0].BMC, cfg.Hosts[1].BMC, cfg.Hosts[2].BMC, cfg.Hosts[3].BMC = e0, e1, e2, e3
	cfg.Timings.BMCHealthInterval = config.Duration(time.Hour)
	cfg.Recovery.Automatic = false
	d := runPushDaemon(t, cfg).d
	waitFor(t, time.Minute, "the push subscription under auto", func() bool {
		return srv0.EventStats().Subscriptions == 1 && eventsSignal(t, d, h0).Value == "up"
	})
	if s := eventsSignal(t, d, h0); !strings.HasPrefix(s.Detail, "push: subscribed (") {
		t.Errorf("explain bmc_events of %s = %+v, want push: subscribed", h0, s)
	}
	waitFor(t, time.Minute, "explain: no events from the BMC without an EventService", func() bool { return eventsSignal(t, d, h1).Value == "none" })
	if s := eventsSignal(t, d, h1); !strings.Contains(s.Detail, "takes no event subscriptions") {
		t.Errorf("explain bmc_events of %s = %+v, want the reason", h1, s)
	}
	if st := srv1.EventStats(); st.Subscriptions != 0 {
		t.Errorf("a BMC without an EventService has %d subscriptions", st.Subscriptions)
	}
	waitFor(t, time.Minute, "the SSE-only BMC followed through its stream", func() bool {
		return srv2.EventStats().Streams == 1 && eventsSignal(t, d, h2).Value == "up"
	})
	if s := eventsSignal(t, d, h2); strings.HasPrefix(s.Detail, "push:") {
		t.Errorf("explain bmc_events of %s = %+v, want the stream, not push", h2, s)
	}
	waitFor(t, time.Minute, "the BMC with both: a push subscription", func() bool {
		return srv3.EventStats().Subscriptions == 1 && eventsSignal(t, d, h3).Value == "up"
	})
	if st := srv3.EventStats(); st.Streams != 0 {
		t.Errorf("auto with api.bmc_event_url holds %d streams to a BMC that takes subscriptions, want 0", st.Streams)
	}
}
