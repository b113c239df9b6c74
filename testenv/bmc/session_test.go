package bmc

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"
)

// fakeClock is a settable clock for session expiry.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startSessionServer starts a server with the given session timeout and limit on clock.
func startSessionServer(t *testing.T, clock *fakeClock, timeout time.Duration, limit int) *Server {
	t.Helper()
	s, err := New(Config{SystemID: testID, Username: testUser, Password: testPass, Power: newFakePower(PowerOn),
		Logger: testLogger(t), SessionTimeout: timeout, MaxSessions: limit, Now: clock.now})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// doToken sends one request with a session token (and no password).
func doToken(t *testing.T, s *Server, method, path, token string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Auth-Token", token)
	resp, err := verifyingClient(t, s, 10*time.Second).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// login opens a session and returns its location and token.
func login(t *testing.T, s *Server, user, pass string) (response, string, string) {
	t.Helper()
	r := do(t, s, http.MethodPost, "/redfish/v1/SessionService/Sessions", `{"UserName":"`+user+`","Password":"`+pass+`"}`, false)
	return r, r.header.Get("Location"), r.header.Get("X-Auth-Token")
}

func TestSessionLoginUseLogout(t *testing.T) {
	s := startSessionServer(t, &fakeClock{t: time.Unix(1e9, 0)}, time.Minute, 4)
	root := do(t, s, http.MethodGet, "/redfish/v1", "", false).json(t)
	if links, _ := root["Links"].(map[string]any); links == nil || links["Sessions"].(map[string]any)["@odata.id"] != pathSessions {
		t.Fatalf("service root Links %v: want the Sessions link", root["Links"])
	}
	r, loc, token := login(t, s, testUser, testPass)
	if r.status != http.StatusCreated || !strings.HasPrefix(loc, pathSessions+"/") || len(token) < 32 {
		t.Fatalf("login: status %d, Location %q, token %q, body %s", r.status, loc, token, r.body)
	}
	if m := r.json(t); m["@odata.id"] != loc || m["UserName"] != testUser {
		t.Errorf("login body %s", r.body)
	}
	if r := doToken(t, s, http.MethodGet, "/redfish/v1/Systems/h1", token); r.status != http.StatusOK || r.json(t)["PowerState"] != "On" {
		t.Fatalf("GET system with the token: %d %s", r.status, r.body)
	}
	if r := doToken(t, s, http.MethodGet, pathSessions, token); r.status != http.StatusOK || r.json(t)["Members@odata.count"] != float64(1) {
		t.Fatalf("GET sessions: %d %s", r.status, r.body)
	}
	wrong := "0" + token[1:]
	if token[0] == '0' {
		wrong = "1" + token[1:] // not the token itself (1 time in 16)
	}
	if r := doToken(t, s, http.MethodGet, "/redfish/v1/Systems/h1", wrong); r.status != http.StatusUnauthorized {
		t.Fatalf("a wrong token: status %d, want 401", r.status)
	}
	if st := s.Stats(); st.SessionsCreated != 1 || st.SessionsOpen != 1 || st.TokenAuth != 2 || st.BasicAuth != 0 {
		t.Errorf("stats %+v", st)
	}
	if r := doToken(t, s, http.MethodDelete, loc, token); r.status != http.StatusNoContent {
		t.Fatalf("logout: status %d %s", r.status, r.body)
	}
	if r := doToken(t, s, http.MethodGet, "/redfish/v1/Systems/h1", token); r.status != http.StatusUnauthorized {
		t.Fatalf("the token of a deleted session: status %d, want 401", r.status)
	}
	if r := do(t, s, http.MethodDelete, loc, "", true); r.status != http.StatusNotFound {
		t.Fatalf("deleting a deleted session: status %d, want 404", r.status)
	}
	if ids := s.Sessions(); len(ids) != 0 {
		t.Errorf("sessions left: %v", ids)
	}
}

func TestSessionLoginRefused(t *testing.T) {
	s := startSessionServer(t, &fakeClock{t: time.Unix(1e9, 0)}, time.Minute, 4)
	if r, _, token := login(t, s, testUser, "wrong"); r.status != http.StatusUnauthorized || token != "" {
		t.Fatalf("login with a wrong password: status %d, token %q", r.status, token)
	}
	for _, body := range []string{`{"UserName":"admin"}`, `{"UserName":`} {
		r := do(t, s, http.MethodPost, pathSessions, body, false)
		if id, _ := redfishError(t, r); r.status != http.StatusBadRequest {
			t.Errorf("login body %s: status %d (%s), want 400", body, r.status, id)
		}
	}
	if r := do(t, s, http.MethodGet, pathSessions, "", false); r.status != http.StatusUnauthorized {
		t.Errorf("listing sessions without credentials: status %d, want 401", r.status)
	}
	if len(s.Sessions()) != 0 {
		t.Errorf("a refused login left a session: %v", s.Sessions())
	}
}

func TestSessionExpiresWhenUnused(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	s := startSessionServer(t, clock, time.Minute, 4)
	_, _, token := login(t, s, testUser, testPass)
	clock.add(50 * time.Second)
	if r := doToken(t, s, http.MethodGet, "/redfish/v1/Systems", token); r.status != http.StatusOK {
		t.Fatalf("a session used within its timeout: status %d", r.status)
	}
	clock.add(50 * time.Second) // 100 s after login, 50 s after the last use: still live
	if r := doToken(t, s, http.MethodGet, "/redfish/v1/Systems", token); r.status != http.StatusOK {
		t.Fatalf("a session used again within its timeout: status %d", r.status)
	}
	clock.add(61 * time.Second)
	if r := doToken(t, s, http.MethodGet, "/redfish/v1/Systems", token); r.status != http.StatusUnauthorized {
		t.Fatalf("an expired session: status %d, want 401", r.status)
	}
	if st := s.Stats(); st.SessionsExpired != 1 || st.SessionsOpen != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestSessionLimit(t *testing.T) {
	clock := &fakeClock{t: time.Unix(1e9, 0)}
	s := startSessionServer(t, clock, time.Minute, 2)
	login(t, s, testUser, testPass)
	login(t, s, testUser, testPass)
	r, _, _ := login(t, s, testUser, testPass)
	if id, _ := redfishError(t, r); r.status != http.StatusServiceUnavailable || id != msgSessionLimit {
		t.Fatalf("a third login with a limit of 2: status %d, %s", r.status, id)
	}
	clock.add(2 * time.Minute) // both expire
	if r, _, _ := login(t, s, testUser, testPass); r.status != http.StatusCreated {
		t.Fatalf("a login after the others expired: status %d", r.status)
	}
}

func TestGofishSession(t *testing.T) {
	s := startSessionServer(t, &fakeClock{t: time.Unix(1e9, 0)}, time.Minute, 4)
	c, err := gofish.ConnectContext(t.Context(), gofish.ClientConfig{Endpoint: s.URL(), Username: testUser, Password: testPass,
		Insecure: true, ReuseConnections: true})
	if err != nil {
		t.Fatalf("gofish session login: %v", err)
	}
	if len(s.Sessions()) != 1 {
		t.Fatalf("sessions after login: %v", s.Sessions())
	}
	for range 5 {
		gofishSystem(t, c)
	}
	c.Logout()
	st := s.Stats()
	if st.SessionsOpen != 0 || st.SessionsDeleted != 1 || st.BasicAuth != 0 || st.TokenAuth < 5 {
		t.Errorf("after gofish's logout: %+v", st)
	}
	// gofish reused one connection for the lot.
	if st.Handshakes != 1 {
		t.Errorf("%d TLS handshakes for %d requests over keep-alive, want 1", st.Handshakes, st.Requests)
	}
}

func TestHandshakesCounted(t *testing.T) {
	s, _ := startServer(t)
	for range 3 {
		do(t, s, http.MethodGet, "/redfish/v1", "", false) // each do uses a new client
	}
	if st := s.Stats(); st.Handshakes != 3 || st.Requests != 3 {
		t.Errorf("3 requests on 3 connections: %+v", st)
	}
}
