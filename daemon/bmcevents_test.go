package daemon

import (
	"context"
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

// runFleetDaemon runs a daemon on cfg over a simulated fleet until the test ends.
func runFleetDaemon(t *testing.T, cfg config.Config, f *fleet.Fleet) *Daemon {
	t.Helper()
	d, err := New(context.Background(), cfg, Options{Dial: f.Dial})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return d
}

// readPowerSignal is the power the daemon last read from host's BMC.
func readPowerSignal(d *Daemon, host string) policy.Power {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.byName[host].sig.BMC.Power
}

// eventsSignal is the bmc_events signal of host as explain shows it.
func eventsSignal(t *testing.T, d *Daemon, host string) api.SignalView {
	t.Helper()
	ex, err := d.ExplainHost(context.Background(), host)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ex.Signals {
		if s.Name == "bmc_events" {
			return s
		}
	}
	t.Fatalf("explain %s has no bmc_events signal: %+v", host, ex.Signals)
	return api.SignalView{}
}

// TestBMCPowerEventReadAtOnce: with the steady-state BMC poll an hour apart and the host's
// libvirt still answering, a power loss and the power coming back are seen through the BMC's
// event stream: each event makes the daemon read the power state at once (the read, not the
// event, sets the signal). Nothing else could explain a read within the test's life.
func TestBMCPowerEventReadAtOnce(t *testing.T) {
	cfg := fleetConfig(t.TempDir(), 1)
	host := cfg.Hosts[0].Name
	srv, power, entry := emulatedBMC(t, host)
	cfg.Hosts[0].BMC = entry
	cfg.Timings.BMCHealthInterval = config.Duration(time.Hour)
	cfg.Recovery.Automatic = false
	d := runFleetDaemon(t, cfg, fleet.New(1))
	up := d.m.bmcStreamUp.WithLabelValues(host)
	waitFor(t, time.Minute, "the event stream up and the power read on", func() bool {
		return testutil.ToFloat64(up) == 1 && srv.EventStats().Streams == 1 && readPowerSignal(d, host) == policy.PowerOn
	})
	powerCycleReadAtOnce(t, d, srv, power, host, "event")
	if n := testutil.ToFloat64(d.m.bmcEvents.WithLabelValues(host)); n != 2 {
		t.Errorf("lifeboat_bmc_events_total{host=%q} = %v, want 2", host, n)
	}
	if st := srv.Stats(); st.SessionsCreated != 1 || st.BasicAuth != 0 {
		t.Errorf("the stream and the reads should share one session: %+v", st)
	}
	if s := eventsSignal(t, d, host); s.Value != "up" || !strings.HasPrefix(s.Detail, "2 events received, the last at ") {
		t.Errorf("explain bmc_events = %+v, want up with 2 events", s)
	}
	srv.DropEventStreams()
	waitFor(t, time.Minute, "the stream back up after the BMC dropped it", func() bool {
		return srv.EventStats().Streams == 1 && testutil.ToFloat64(up) == 1
	})
}

// TestBMCEventsOff: with bmc.events off the daemon opens no event stream and has no stream
// series.
func TestBMCEventsOff(t *testing.T) {
	cfg := fleetConfig(t.TempDir(), 1)
	host := cfg.Hosts[0].Name
	srv, _, entry := emulatedBMC(t, host)
	entry.Events = config.EventsOff
	cfg.Hosts[0].BMC = entry
	cfg.Recovery.Automatic = false
	d := runFleetDaemon(t, cfg, fleet.New(1))
	waitFor(t, time.Minute, "the BMC read", func() bool { return readPowerSignal(d, host) == policy.PowerOn })
	if st := srv.EventStats(); st.Streams != 0 {
		t.Errorf("bmc.events off, yet %d streams are open", st.Streams)
	}
	if n := testutil.CollectAndCount(d.m.bmcStreamUp); n != 0 {
		t.Errorf("bmc.events off, yet %d lifeboat_bmc_event_stream_up series", n)
	}
	if s := eventsSignal(t, d, host); s.Value != "off" {
		t.Errorf("explain bmc_events = %+v, want off", s)
	}
}

// TestBMCWithoutEventServicePolls: under bmc.events auto, a BMC without an EventService is
// polled as before; the stream gauge says 0.
func TestBMCWithoutEventServicePolls(t *testing.T) {
	cfg := fleetConfig(t.TempDir(), 1)
	host := cfg.Hosts[0].Name
	p := &emuPower{state: bmc.PowerOn}
	srv, err := bmc.New(bmc.Config{SystemID: host, Username: "watch", Password: "pw-" + host, Power: p, NoEventService: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_, _, entry := emulatedBMC(t, host)
	entry.Endpoint = srv.URL()
	cfg.Hosts[0].BMC = entry
	cfg.Recovery.Automatic = false
	d := runFleetDaemon(t, cfg, fleet.New(1))
	waitFor(t, time.Minute, "the BMC read", func() bool { return readPowerSignal(d, host) == policy.PowerOn })
	waitFor(t, time.Minute, "explain: no event stream", func() bool { return eventsSignal(t, d, host).Value == "none" })
	if s := eventsSignal(t, d, host); !strings.Contains(s.Detail, "no EventService") {
		t.Errorf("explain bmc_events = %+v, want the reason", s)
	}
	if v := testutil.ToFloat64(d.m.bmcStreamUp.WithLabelValues(host)); v != 0 {
		t.Errorf("lifeboat_bmc_event_stream_up = %v for a BMC without events", v)
	}
}

// powerCycleReadAtOnce cuts the emulated host's power, then gives it back, each time telling the
// BMC (which sends its event, by the transport via), and waits for the daemon's power signal to
// follow, with the poll an hour apart: each change must come from a read of the BMC.
func powerCycleReadAtOnce(t *testing.T, d *Daemon, srv *bmc.Server, power *emuPower, host, via string) {
	t.Helper()
	reads := srv.Stats().TokenAuth
	power.set(bmc.PowerOff) // the plug is pulled; the lab tells the BMC
	srv.PowerChanged()
	waitFor(t, time.Minute, "the power loss read after the "+via, func() bool { return readPowerSignal(d, host) == policy.PowerOff })
	if got := srv.Stats().TokenAuth; got <= reads {
		t.Errorf("the power signal changed without a read of the BMC (%d reads, then %d)", reads, got)
	}
	power.set(bmc.PowerOn)
	srv.PowerChanged()
	waitFor(t, time.Minute, "the power back on after the "+via, func() bool { return readPowerSignal(d, host) == policy.PowerOn })
}
