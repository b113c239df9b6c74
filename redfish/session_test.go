package redfish

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startSessionBMC starts an emulator on clk with a one-minute session timeout.
func startSessionBMC(t *testing.T, clk *clock, noSessions bool) *bmc.Server {
	t.Helper()
	s, err := bmc.New(bmc.Config{SystemID: "h1", Username: "admin", Password: "pw", Power: &fakePower{state: bmc.PowerOn},
		SessionTimeout: time.Minute, Now: clk.now, NoSessionService: noSessions})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestSessionKeptAndReused: a client logs in once, keeps one TLS connection, and reads the
// system with one GET per read; Close logs out.
func TestSessionKeptAndReused(t *testing.T) {
	s := startSessionBMC(t, &clock{t: time.Unix(1e9, 0)}, false)
	c, err := New(s.URL(), "h1", Credentials{"admin", "pw"}, Trust{Insecure: true}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if st, err := c.Status(ctx); err != nil || st.Power != "on" {
		t.Fatalf("first read: %+v %v", st, err)
	}
	first := s.Stats()
	const reads = 10
	for range reads {
		if _, err := c.Status(ctx); err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if got := st.Requests - first.Requests; got != reads {
		t.Errorf("%d requests for %d steady-state reads, want one GET each", got, reads)
	}
	if st.Handshakes != 1 || st.SessionsCreated != 1 || st.BasicAuth != 0 {
		t.Errorf("want one connection and one session, no basic auth: %+v", st)
	}
	if err := c.ForceOff(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := c.Status(ctx); st.Power != "off" {
		t.Fatalf("after ForceOff: %q", st.Power)
	}
	c.Close(ctx)
	if st := s.Stats(); st.SessionsOpen != 0 || st.SessionsDeleted != 1 {
		t.Errorf("Close did not log out: %+v", st)
	}
	if _, err := c.Status(ctx); err == nil {
		t.Error("a closed client still reads")
	}
}

// TestSessionExpiredLogsInAgain: when the BMC forgets the session (it expired), the next read
// logs in again and succeeds.
func TestSessionExpiredLogsInAgain(t *testing.T) {
	clk := &clock{t: time.Unix(1e9, 0)}
	s := startSessionBMC(t, clk, false)
	c, _ := New(s.URL(), "h1", Credentials{"admin", "pw"}, Trust{Insecure: true}, 2*time.Second)
	ctx := context.Background()
	if _, err := c.Status(ctx); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Minute)
	if st, err := c.Status(ctx); err != nil || st.Power != "on" {
		t.Fatalf("read after the session expired: %+v %v", st, err)
	}
	if st := s.Stats(); st.SessionsCreated != 2 || st.SessionsExpired != 1 || st.SessionsOpen != 1 {
		t.Errorf("want a second login after the expiry: %+v", st)
	}
}

// TestWrongPasswordAtLogin: a refused login is ErrUnauthorized, and no session is left.
func TestWrongPasswordAtLogin(t *testing.T) {
	s := startSessionBMC(t, &clock{t: time.Unix(1e9, 0)}, false)
	c, _ := New(s.URL(), "h1", Credentials{"admin", "nope"}, Trust{Insecure: true}, 2*time.Second)
	if _, err := c.Status(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong password: %v, want ErrUnauthorized", err)
	}
	if st := s.Stats(); st.SessionsOpen != 0 {
		t.Errorf("sessions left: %+v", st)
	}
}

// TestNoSessionServiceFallsBackToBasicAuth: a BMC without a SessionService is read with basic
// auth, still over one kept-alive connection.
func TestNoSessionServiceFallsBackToBasicAuth(t *testing.T) {
	s := startSessionBMC(t, &clock{t: time.Unix(1e9, 0)}, true)
	c, _ := New(s.URL(), "h1", Credentials{"admin", "pw"}, Trust{Insecure: true}, 2*time.Second)
	for range 3 {
		if st, err := c.Status(context.Background()); err != nil || st.Power != "on" {
			t.Fatalf("read: %+v %v", st, err)
		}
	}
	if st := s.Stats(); st.BasicAuth < 3 || st.TokenAuth != 0 || st.Handshakes != 1 {
		t.Errorf("want basic auth over one connection: %+v", st)
	}
	c2, _ := New(s.URL(), "h1", Credentials{"admin", "nope"}, Trust{Insecure: true}, 2*time.Second)
	if _, err := c2.Status(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong password with basic auth: %v, want ErrUnauthorized", err)
	}
}

// TestReadCostAgainstBaseline counts what one read costs the BMC: the baseline (a new TLS
// connection and basic auth per read) against the session client, side by side.
func TestReadCostAgainstBaseline(t *testing.T) {
	const reads = 20
	ctx := context.Background()
	old := startSessionBMC(t, &clock{t: time.Unix(1e9, 0)}, false)
	for range reads {
		if p, err := bmc.BaselineRead(ctx, old.URL(), "h1", "admin", "pw", 2*time.Second); err != nil || p != "on" {
			t.Fatalf("baseline read: %q %v", p, err)
		}
	}
	cur := startSessionBMC(t, &clock{t: time.Unix(1e9, 0)}, false)
	c, _ := New(cur.URL(), "h1", Credentials{"admin", "pw"}, Trust{Insecure: true}, 2*time.Second)
	for range reads {
		if _, err := c.Status(ctx); err != nil {
			t.Fatal(err)
		}
	}
	o, n := old.Stats(), cur.Stats()
	t.Logf("%d reads: baseline %d requests, %d TLS handshakes; sessions %d requests, %d TLS handshakes (%.1fx fewer requests, %dx fewer handshakes)",
		reads, o.Requests, o.Handshakes, n.Requests, n.Handshakes, float64(o.Requests)/float64(n.Requests), o.Handshakes/max(n.Handshakes, 1))
	// The baseline closed the connection after every request (gofish sends Connection: close
	// unless told to keep it alive): a TLS handshake per request.
	if o.Handshakes != 3*reads || n.Handshakes != 1 {
		t.Errorf("handshakes: baseline %d (want %d), sessions %d (want 1)", o.Handshakes, 3*reads, n.Handshakes)
	}
	// Baseline: root, collection, system per read. Sessions: root, login, collection and system
	// once, then one GET per read.
	if o.Requests != 3*reads || n.Requests != 4+reads-1 {
		t.Errorf("requests: baseline %d (want %d), sessions %d (want %d)", o.Requests, 3*reads, n.Requests, 4+reads-1)
	}
}
