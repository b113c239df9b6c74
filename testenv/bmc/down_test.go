package bmc

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"syscall"
	"testing"
	"time"
)

// getStatus fetches the system with client and returns the HTTP status or
// the error.
func getStatus(t *testing.T, s *Server, client *http.Client) (int, error) {
	t.Helper()
	code, _, err := getStatusTraced(t, s, client)
	return code, err
}

// getStatusTraced is getStatus that also reports whether the request went
// over a reused (kept-alive) connection.
func getStatusTraced(t *testing.T, s *Server, client *http.Client) (code int, reused bool, err error) {
	t.Helper()
	ctx := httptrace.WithClientTrace(t.Context(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { reused = info.Reused },
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.URL()+"/redfish/v1/Systems/h1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(testUser, testPass)
	resp, err := client.Do(req)
	if err != nil {
		return 0, reused, err
	}
	// Drain the body so the transport keeps the connection alive.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, reused, nil
}

// wantTimeout fails unless err is a client timeout (not a refusal or reset).
func wantTimeout(t *testing.T, what string, err error) {
	t.Helper()
	switch {
	case err == nil:
		t.Fatalf("%s: request succeeded while the BMC is down", what)
	case errors.Is(err, syscall.ECONNREFUSED):
		t.Fatalf("%s: connection refused while down, want a hang: %v", what, err)
	case !errIsTimeout(err):
		t.Fatalf("%s: %v, want a timeout", what, err)
	}
}

func TestSetDownHangsThenRecovers(t *testing.T) {
	s, _ := startServer(t)
	// kept holds a keep-alive connection opened while the BMC was up.
	kept := verifyingClient(t, s, time.Second)
	if code, err := getStatus(t, s, kept); err != nil || code != http.StatusOK {
		t.Fatalf("up: %d, %v", code, err)
	}

	s.SetDown(true)
	if !s.Down() {
		t.Fatal("Down() = false after SetDown(true)")
	}
	start := time.Now()
	_, reused, err := getStatusTraced(t, s, kept)
	wantTimeout(t, "kept-alive connection", err)
	if !reused {
		t.Error("the request while down did not reuse the kept-alive connection")
	}
	if d := time.Since(start); d < 900*time.Millisecond {
		t.Errorf("failed after %v, want the 1s client timeout", d)
	}
	_, err = getStatus(t, s, verifyingClient(t, s, time.Second))
	wantTimeout(t, "new connection", err)

	// The port stays open: TCP connects, nothing answers.
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatalf("TCP dial while down: %v", err)
	}
	c.Close()

	s.SetDown(false)
	if s.Down() {
		t.Fatal("Down() = true after SetDown(false)")
	}
	for name, client := range map[string]*http.Client{"kept": kept, "new": verifyingClient(t, s, time.Second)} {
		if code, err := getStatus(t, s, client); err != nil || code != http.StatusOK {
			t.Errorf("%s client after up: %d, %v", name, code, err)
		}
	}
}

// hungHandshake starts a TLS handshake with s in the background and returns
// a channel that receives its result.
func hungHandshake(t *testing.T, s *Server) <-chan error {
	t.Helper()
	raw, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { raw.Close() })
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- tls.Client(raw, &tls.Config{InsecureSkipVerify: true}).HandshakeContext(ctx)
	}()
	return done
}

// wantReleased waits for a hung handshake to end with the connection closed
// by the server, well before the client's own 20s timeout.
func wantReleased(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("hung handshake completed; want the server to drop the connection")
		}
		if errIsTimeout(err) {
			t.Fatalf("hung handshake timed out, want it closed: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("hung connection not released")
	}
}

func TestSetDownUpClosesHungConns(t *testing.T) {
	s, _ := startServer(t)
	s.SetDown(true)
	done := hungHandshake(t, s)
	select {
	case err := <-done:
		t.Fatalf("handshake ended while down: %v", err)
	case <-time.After(300 * time.Millisecond):
	}
	s.SetDown(false)
	wantReleased(t, done)
	if code, err := getStatus(t, s, verifyingClient(t, s, 5*time.Second)); err != nil || code != http.StatusOK {
		t.Fatalf("after up: %d, %v", code, err)
	}
}

func TestCloseWhileDown(t *testing.T) {
	s, _ := startServer(t)
	s.SetDown(true)
	done := hungHandshake(t, s)
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung on a hung connection")
	}
	wantReleased(t, done)
}
