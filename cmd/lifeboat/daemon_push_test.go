package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// pushPower is the power of the emulated BMC's system.
type pushPower struct{ state chan bmc.PowerState }

func (p pushPower) PowerState() bmc.PowerState     { s := <-p.state; p.state <- s; return s }
func (p pushPower) ForceOff(context.Context) error { <-p.state; p.state <- bmc.PowerOff; return nil }
func (p pushPower) On(context.Context) error       { <-p.state; p.state <- bmc.PowerOn; return nil }

// TestDaemonServesPushedBMCEvents: the real daemon command, with api.bmc_event_url and a
// push-only BMC (its host's libvirt is unreachable; the BMC is watched all the same),
// subscribes, serves the receiver on its API listener (no token), takes the BMC's event, and
// deletes the subscription when it stops.
func TestDaemonServesPushedBMCEvents(t *testing.T) {
	for _, env := range []string{envServer, envConfig, envToken} {
		t.Setenv(env, "")
	}
	p := pushPower{state: make(chan bmc.PowerState, 1)}
	p.state <- bmc.PowerOn
	srv, err := bmc.New(bmc.Config{SystemID: "h1", Username: "watch", Password: "pw", Power: p, NoSSE: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	dir := t.TempDir()
	cred := filepath.Join(dir, "h1.cred")
	if err := os.WriteFile(cred, []byte("username=watch\npassword=pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`hosts:
  - {name: h1, uri: "qemu+tcp://127.0.0.1:1/system", role: active,
     bmc: {type: redfish, endpoint: %q, credentials_file: %s, insecure: true, events: push}}
recovery: {automatic: false}
store: {path: %s}
api: {listen: %q, bmc_event_url: "http://%s"}
`, srv.URL(), cred, filepath.Join(dir, "lb.db"), addr, addr)
	cfgPath := filepath.Join(dir, "lifeboat.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out string
	go func() {
		var err error
		out, err = runCLI(ctx, "daemon", "--config", cfgPath)
		done <- err
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	t.Cleanup(stop)
	wait := func(what string, ok func(bmc.EventStats) bool) {
		t.Helper()
		deadline := time.Now().Add(time.Minute)
		for !ok(srv.EventStats()) {
			if time.Now().After(deadline) {
				stop()
				t.Fatalf("no %s within a minute: %+v\n%s", what, srv.EventStats(), out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	wait("subscription", func(s bmc.EventStats) bool { return s.Subscriptions == 1 })
	if err := p.ForceOff(ctx); err != nil {
		t.Fatal(err)
	}
	srv.PowerChanged()
	wait("delivery the daemon accepted", func(s bmc.EventStats) bool { return s.Delivered == 1 })
	if st := srv.EventStats(); st.DeliveryFailures != 0 {
		t.Errorf("deliveries refused: %+v", st)
	}
	stop()
	if st := srv.EventStats(); st.Subscriptions != 0 {
		t.Errorf("%d subscriptions left after the daemon stopped\n%s", st.Subscriptions, out)
	}
}
