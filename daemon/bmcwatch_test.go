package daemon

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

func TestBMCPollDelay(t *testing.T) {
	tm := config.Default().Timings
	if got := bmcPollDelay(tm, true, 0.9); got != tm.BMCInterval.D() {
		t.Errorf("libvirt failing: %s, want bmc_interval %s", got, tm.BMCInterval)
	}
	for _, tc := range []struct {
		u    float64
		want time.Duration
	}{{0, 27 * time.Second}, {0.5, 30 * time.Second}, {0.75, 31500 * time.Millisecond}} {
		if got := bmcPollDelay(tm, false, tc.u); got != tc.want {
			t.Errorf("libvirt answers, u=%v: %s, want %s", tc.u, got, tc.want)
		}
	}
	if got := bmcPollDelay(tm, false, 0.999999); got >= 33*time.Second {
		t.Errorf("the jitter reaches %s, want below +10%%", got)
	}

}

// emuPower is the power of an emulated BMC's system.
type emuPower struct {
	mu    sync.Mutex
	state bmc.PowerState
}

func (p *emuPower) PowerState() bmc.PowerState { p.mu.Lock(); defer p.mu.Unlock(); return p.state }
func (p *emuPower) set(s bmc.PowerState)       { p.mu.Lock(); defer p.mu.Unlock(); p.state = s }
func (p *emuPower) ForceOff(context.Context) error {
	p.set(bmc.PowerOff)
	return nil
}
func (p *emuPower) On(context.Context) error {
	p.set(bmc.PowerOn)
	return nil
}

// emulatedBMC starts a Redfish BMC emulator (real HTTPS, sessions) for host name, with mods
// applied to its configuration (e.g. push only), and returns it, its power and the bmc entry
// that points at it.
func emulatedBMC(t testing.TB, name string, mods ...func(*bmc.Config)) (*bmc.Server, *emuPower, config.BMC) {
	t.Helper()
	p := &emuPower{state: bmc.PowerOn}
	c := bmc.Config{SystemID: name, Username: "watch", Password: "pw-" + name, Power: p}
	for _, mod := range mods {
		mod(&c)
	}
	s, err := bmc.New(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	creds := filepath.Join(t.TempDir(), name+".cred")
	if err := os.WriteFile(creds, []byte("username=watch\npassword=pw-"+name+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return s, p, config.BMC{Type: config.BMCRedfish, Endpoint: s.URL(), CredentialsFile: creds, Insecure: true}
}

// TestBMCReadAtOnceWhenLibvirtFails: with steady-state BMC reads an hour apart, a host whose
// libvirt probe starts failing still has its BMC read at once, so a power loss is proven (the
// verdict failed, power off) without waiting for the health interval; the daemon keeps one
// session and one TLS connection to the BMC, and logs out when it stops.
func TestBMCReadAtOnceWhenLibvirtFails(t *testing.T) {
	cfg := fleetConfig(t.TempDir(), 1)
	srv, power, entry := emulatedBMC(t, cfg.Hosts[0].Name)
	cfg.Hosts[0].BMC = entry
	cfg.Timings.BMCHealthInterval = config.Duration(time.Hour)
	cfg.Recovery.Automatic = false
	f := fleet.New(1)
	d, err := New(context.Background(), cfg, Options{Dial: f.Dial})
	if err != nil {
		t.Fatal(err)
	}
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
	defer stop()
	state := func() (string, string) {
		hs, _ := d.Hosts(ctx)
		return hs[0].State, hs[0].Reason
	}
	waitFor(t, time.Minute, "the host healthy and its BMC read", func() bool {
		s, _ := state()
		return s == "healthy" && srv.Stats().TokenAuth >= 1
	})
	before := srv.Stats()

	power.set(bmc.PowerOff)
	f.Host(cfg.Hosts[0].Name).SetOutcome(hypervisor.ProbeTimeout)
	waitFor(t, time.Minute, "the verdict failed (power off)", func() bool {
		s, r := state()
		return s == "failed" && r == "bmc_power_off_libvirt_lost"
	})
	after := srv.Stats()
	if after.TokenAuth <= before.TokenAuth {
		t.Errorf("no BMC read after libvirt failed: %+v then %+v", before, after)
	}
	// One connection carries the reads; the event stream (bmc.events auto) holds a second.
	if after.SessionsCreated != 1 || after.BasicAuth != 0 || after.Handshakes > 2 {
		t.Errorf("the watcher should reuse one session over one connection for reads and one for events: %+v", after)
	}
	stop()
	if st := srv.Stats(); st.SessionsOpen != 0 || st.SessionsDeleted != 1 {
		t.Errorf("the daemon did not log out of the BMC when it stopped: %+v", st)
	}
}
