package api

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestBodiesHoldOneJSONValue: trailing data after the JSON body is refused with a 400 saying so,
// and nothing reaches the backend; trailing white space is fine.
func TestBodiesHoldOneJSONValue(t *testing.T) {
	f := newOpsFake()
	srv := serveOps(t, f, ServerOptions{})
	for _, body := range []string{
		`{"reason":"disk"} {"reason":"again"}`,
		`{"reason":"disk"}x`,
		`{"reason":"disk"}]`,
		`{"reason":"disk"}{}`,
		`{"reason":"disk"} null`,
	} {
		code, got := post(t, srv.URL+"/v1/hosts/h1/degrade", body)
		if msg := decodeError(t, got, CodeBadRequest); code != http.StatusBadRequest || !strings.Contains(msg, "trailing data") {
			t.Errorf("degrade %q: %d %q, want 400 naming the trailing data", body, code, msg)
		}
	}
	if calls := f.recorded(); len(calls) != 0 {
		t.Fatalf("refused bodies reached the backend: %q", calls)
	}
	if code, got := post(t, srv.URL+"/v1/hosts/h1/degrade", "{\"reason\":\"disk\"}\n\t "); code != http.StatusOK {
		t.Fatalf("degrade with trailing white space: %d %s", code, got)
	}
}

// TestOperatorTextRefusesControlCharacters: reasons and names with control characters (which
// would print forged lines in 'lifeboat events') or over the length limit are refused, naming
// the field.
func TestOperatorTextRefusesControlCharacters(t *testing.T) {
	f := newOpsFake()
	srv := serveOps(t, f, ServerOptions{})
	for _, c := range []struct{ path, body, want string }{
		{"/v1/hosts/h1/degrade", `{"reason":"disk\n2026-01-01 00:00:00.000  verdict  h2  ok  all fine"}`, "reason contains the control character U+000A"},
		{"/v1/hosts/h1/degrade", `{"reason":"\u001b[2J"}`, "reason contains the control character U+001B"},
		{"/v1/hosts/h1/degrade", `{"reason":"abc\u202edcba"}`, "reason contains the control character U+202E"},
		{"/v1/hosts/h1/degrade", `{"reason":"` + strings.Repeat("x", MaxReasonLen+1) + `"}`, "reason is too long"},
		{"/v1/hosts/h1/confirm-off", `{"confirm":"h1\r"}`, "confirm contains the control character U+000D"},
		{"/v1/vms/web1/switchover", `{"to":"h3\u0007"}`, "to contains the control character U+0007"},
		{"/v1/hosts/h1/degrade", "{\"reason\":\"\xff\xfe\"}", "reason contains the control character U+FFFD"},
	} {
		code, got := post(t, srv.URL+c.path, c.body)
		if msg := decodeError(t, got, CodeBadRequest); code != http.StatusBadRequest || !strings.Contains(msg, c.want) {
			t.Errorf("POST %s %q: %d %q, want 400 containing %q", c.path, c.body, code, msg, c.want)
		}
	}
	if calls := f.recorded(); len(calls) != 0 {
		t.Fatalf("refused text reached the backend: %q", calls)
	}
}

func TestPrintableAndSanitize(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, é ✓":      "plain text, é ✓",
		"a\nb":                 `a\nb`,
		"\x1b[31mred":          `\x1b[31mred`,
		"tab\there":            `tab\there`,
		"rtl\u202eevil":        `rtl\u202eevil`,
		"bad\xffbyte":          `bad\xffbyte`,
		"c1\u009bcontrol":      `c1\u009bcontrol`,
		"zero\u200bwidth":      `zero\u200bwidth`,
		"":                     "",
		`back\slash stays`:     `back\slash stays`,
		"del\x7f":              `del\x7f`,
		"newline at end\r\n":   `newline at end\r\n`,
		"nul\x00":              `nul\x00`,
		"emoji 🚒 is printable": "emoji 🚒 is printable",
	} {
		if got := Printable(in); got != want {
			t.Errorf("Printable(%q) = %q, want %q", in, got, want)
		}
	}
	for _, c := range []struct {
		in   string
		max  int
		want string
	}{
		{"  disk \n errors\x1b[2J on sdb ", 100, "disk errors [2J on sdb"},
		{"ok", 100, "ok"},
		{"\u202e", 100, ""},
		{strings.Repeat("x", 10), 5, "xxxxx…"},
		{"bad\xffbyte", 100, "bad byte"},
	} {
		if got := SanitizeText(c.in, c.max); got != c.want {
			t.Errorf("SanitizeText(%q, %d) = %q, want %q", c.in, c.max, got, c.want)
		}
	}
}

// TestHTTPServerLimits serves the API with NewHTTPServer on a real socket: a client that sends
// its headers too slowly is cut off, an oversized header is refused, and the limits are set.
func TestHTTPServerLimits(t *testing.T) {
	h, err := NewServer(newFake(), ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := NewHTTPServer(h, nil)
	if srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 || srv.MaxHeaderBytes == 0 {
		t.Fatalf("NewHTTPServer leaves a limit unset: %+v", srv)
	}
	srv.ReadHeaderTimeout = 200 * time.Millisecond // short, so the slow client below is cut off soon
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(LimitListener(ln, MaxConnections)) }()
	t.Cleanup(func() { _ = srv.Close() })

	// Slowloris: half a request line, then nothing. The server closes the connection.
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("GET /v1/status HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, err := bufio.NewReader(c).ReadString('\n'); err == nil {
		// net/http may answer 408 before closing; either way the connection ends.
		t.Log("the server answered the slow client before closing")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the server kept a slow client's connection open for 30 s")
	}

	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+ln.Addr().String()+"/v1/status", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Big", strings.Repeat("a", 2*MaxHeaderBytes))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("a %d-byte header: %s, want 431", 2*MaxHeaderBytes, resp.Status)
	}
}

// TestLimitListenerHoldsNConnections: with n=1, a second connection is not accepted until the
// first closes.
func TestLimitListenerHoldsNConnections(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ll := LimitListener(ln, 1)
	defer ll.Close()
	accepted := make(chan net.Conn, 2)
	go func() {
		for {
			c, err := ll.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	first := <-accepted
	c2, err := net.Dial("tcp", ln.Addr().String()) // the kernel queues it
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	select {
	case <-accepted:
		t.Fatal("a second connection was accepted while the first was open")
	case <-time.After(100 * time.Millisecond):
	}
	first.Close()
	select {
	case c := <-accepted:
		c.Close()
	case <-time.After(10 * time.Second):
		t.Fatal("the second connection was not accepted after the first closed")
	}
}

// TestFollowOutlivesTheReadTimeout: an event stream is not cut off by the server's read
// timeout (net/http cancels a request whose connection read deadline passes).
func TestFollowOutlivesTheReadTimeout(t *testing.T) {
	f := newFake()
	h, err := NewServer(f, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ReadTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	_, lines := streamLines(t, t.Context(), srv.URL+"/v1/events?after=2&follow=true")
	time.Sleep(300 * time.Millisecond)
	f.add(Event{At: t0, Kind: "fence", Host: "h2", Message: "fenced"})
	if e := nextEvent(t, lines); e.Seq != 3 {
		t.Fatalf("got %+v", e)
	}
}

// TestEventStreamsAreBounded: the stream past MaxEventStreams is answered 503.
func TestEventStreamsAreBounded(t *testing.T) {
	srv := serve(t, newFake(), ServerOptions{})
	for range MaxEventStreams {
		resp, _ := streamLines(t, t.Context(), srv.URL+"/v1/events?follow=true")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("stream: %s", resp.Status)
		}
	}
	code, body, _ := get(t, srv.URL+"/v1/events?follow=true", "")
	if msg := decodeError(t, body, CodeInternal); code != http.StatusServiceUnavailable || !strings.Contains(msg, "too many event streams") {
		t.Fatalf("stream %d: %d %q", MaxEventStreams+1, code, msg)
	}
}

// serveOps starts an httptest server over an opsFake.
func serveOps(t *testing.T, f *opsFake, opts ServerOptions) *httptest.Server {
	t.Helper()
	h, err := NewServer(f, opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
