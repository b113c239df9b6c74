package bmc

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Credentials every test server uses.
const (
	testUser = "admin"
	testPass = "s3cret"
	testID   = "h1"
)

// fakePower is an in-memory Power that records the calls it gets.
type fakePower struct {
	mu       sync.Mutex
	state    PowerState
	offCalls int
	onCalls  int
	failWith error // returned by ForceOff and On when set
}

// newFakePower returns a fake that is initially in state.
func newFakePower(state PowerState) *fakePower { return &fakePower{state: state} }

// PowerState implements Power.
func (f *fakePower) PowerState() PowerState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

// ForceOff implements Power.
func (f *fakePower) ForceOff(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offCalls++
	if f.failWith != nil {
		return f.failWith
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.state = PowerOff
	return nil
}

// On implements Power.
func (f *fakePower) On(ctx context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onCalls++
	if f.failWith != nil {
		return f.failWith
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	f.state = PowerOn
	return nil
}

// calls returns how often ForceOff and On were called.
func (f *fakePower) calls() (off, on int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offCalls, f.onCalls
}

// fail makes every later ForceOff and On return err.
func (f *fakePower) fail(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failWith = err
}

// testLogger sends the server's logs to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// startServer starts a server for a fake power that is initially on, with mods applied to its
// configuration (e.g. NoSSE); it is closed when the test ends.
func startServer(t *testing.T, mods ...func(*Config)) (*Server, *fakePower) {
	t.Helper()
	power := newFakePower(PowerOn)
	c := Config{SystemID: testID, Username: testUser, Password: testPass, Power: power, Logger: testLogger(t)}
	for _, mod := range mods {
		mod(&c)
	}
	s, err := New(c)
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
	return s, power
}

// verifyingClient is an HTTPS client that trusts only s's certificate.
func verifyingClient(t *testing.T, s *Server, timeout time.Duration) *http.Client {
	t.Helper()
	pool := x509.NewCertPool()
	pool.AddCert(s.Certificate())
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: timeout}
}

// response is a finished HTTP exchange.
type response struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the response body into a generic map.
func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("decode body %q: %v", r.body, err)
	}
	return m
}

// do sends one request to s; auth selects whether to send the right
// credentials.
func do(t *testing.T, s *Server, method, path, body string, auth bool) response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(testUser, testPass)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := verifyingClient(t, s, 10*time.Second).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// redfishError checks that r is a Redfish error response and returns the
// MessageId and Message of its first extended info.
func redfishError(t *testing.T, r response) (messageID, message string) {
	t.Helper()
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body rfErrorBody
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("error body %q is not a Redfish error: %v", r.body, err)
	}
	if body.Error.Code != msgGeneralError || body.Error.Message == "" || len(body.Error.ExtendedInfo) != 1 {
		t.Fatalf("error body %q: want code %s, a message and one extended info", r.body, msgGeneralError)
	}
	return body.Error.ExtendedInfo[0].MessageID, body.Error.ExtendedInfo[0].Message
}

// errIsTimeout reports whether err is a client-side timeout.
func errIsTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// errSimulated is the failure a test makes the fake power return.
var errSimulated = errors.New("simulated power failure")
