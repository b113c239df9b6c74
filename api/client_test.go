package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// newTestClient returns a client for srv.
func newTestClient(t *testing.T, server, token string) *Client {
	t.Helper()
	c, err := NewClient(server, token)
	if err != nil {
		t.Fatalf("NewClient(%q): %v", server, err)
	}
	return c
}

func TestClientReadsEveryRoute(t *testing.T) {
	f := newFake()
	srv := serve(t, f, ServerOptions{Token: "tok"})
	c := newTestClient(t, strings.TrimPrefix(srv.URL, "http://"), "tok\n")
	ctx := t.Context()

	st, err := c.Status(ctx)
	if err != nil || st.Cluster != "lab" || st.Hosts != 3 || !st.StartedAt.Equal(t0) || st.LastEvent != 2 {
		t.Errorf("Status: %+v, %v", st, err)
	}
	hosts, err := c.Hosts(ctx)
	if err != nil || len(hosts) != 3 || hosts[1].Name != "h2" || hosts[1].VMs == nil || hosts[0].VMs[0] != "web1" || !hosts[1].Since.Equal(t0.Add(time.Minute)) {
		t.Errorf("Hosts: %+v, %v", hosts, err)
	}
	vms, err := c.VMs(ctx)
	if err != nil || len(vms) != 2 || vms[1] != f.vms[1] {
		t.Errorf("VMs: %+v, %v", vms, err)
	}
	evs, err := c.Events(ctx, 1, 0)
	if err != nil || len(evs) != 1 || evs[0].Seq != 2 || evs[0].Reason != "libvirt_timeout_bmc_off" {
		t.Errorf("Events: %+v, %v", evs, err)
	}
	ex, err := c.ExplainHost(ctx, "h2")
	if err != nil || ex.Rule != f.explain["h2"].Rule || len(ex.Signals) != 3 || !ex.Signals[2].At.IsZero() {
		t.Errorf("ExplainHost: %+v, %v", ex, err)
	}
}

func TestClientErrors(t *testing.T) {
	srv := serve(t, newFake(), ServerOptions{Token: "tok"})
	ctx := t.Context()
	c := newTestClient(t, srv.URL, "tok")

	_, err := c.ExplainHost(ctx, "h9")
	var aerr *Error
	if !errors.Is(err, ErrNotFound) || !errors.As(err, &aerr) || aerr.Status != http.StatusNotFound || err.Error() != `unknown host "h9"` {
		t.Errorf("ExplainHost(h9): %v", err)
	}
	if errors.Is(err, ErrBadRequest) || errors.Is(err, ErrUnauthorized) {
		t.Errorf("a 404 matches other sentinels: %v", err)
	}
	if _, err := c.Events(ctx, 0, -1); !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), "limit") {
		t.Errorf("Events(limit -1): %v", err)
	}
	if _, err := c.ExplainHost(ctx, ""); !errors.Is(err, ErrBadRequest) {
		t.Errorf("ExplainHost(\"\"): %v", err)
	}
	for _, tok := range []string{"", "wrong"} {
		_, err := newTestClient(t, srv.URL, tok).Hosts(ctx)
		if !errors.Is(err, ErrUnauthorized) {
			t.Errorf("token %q: %v", tok, err)
		}
	}
	err = newTestClient(t, srv.URL, "").FollowEvents(ctx, 0, func(Event) error { return nil })
	if !errors.Is(err, ErrUnauthorized) {
		t.Errorf("FollowEvents without a token: %v", err)
	}
}

func TestClientDaemonNotRunning(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newTestClient(t, addr, "")
	_, err = c.Hosts(t.Context())
	want := "cannot reach the lifeboat daemon at http://" + addr + ": "
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "(is 'lifeboat daemon' running? set --server or LIFEBOAT_SERVER)") {
		t.Fatalf("got %v, want %q...", err, want)
	}
	if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("%v: not ErrUnreachable or no cause", err)
	}
	if err := c.FollowEvents(t.Context(), 0, func(Event) error { return nil }); !errors.Is(err, ErrUnreachable) {
		t.Errorf("FollowEvents: %v", err)
	}
}

func TestClientCanceled(t *testing.T) {
	srv := serve(t, newFake(), ServerOptions{})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := newTestClient(t, srv.URL, "").Status(ctx); !errors.Is(err, context.Canceled) || errors.Is(err, ErrUnreachable) {
		t.Errorf("Status with a canceled context: %v", err)
	}
}

func TestNewClientValidates(t *testing.T) {
	good := map[string]string{
		"127.0.0.1:7400":            "http://127.0.0.1:7400",
		" http://127.0.0.1:7400/ ":  "http://127.0.0.1:7400",
		"localhost:7400":            "http://localhost:7400",
		"https://lb.example/api/":   "https://lb.example/api",
		"[::1]:7400":                "http://[::1]:7400",
		"http://mgmt.example:65535": "http://mgmt.example:65535",
	}
	for in, want := range good {
		c, err := NewClient(in, "")
		if err != nil || c.Server() != want {
			t.Errorf("NewClient(%q): %v, %v; want %s", in, c, err, want)
		}
	}
	bad := map[string]string{
		"":                    "empty",
		"ftp://h:7400":        `scheme "ftp"`,
		"http://":             "no host",
		"http://:7400":        "no host",
		"http://u:p@h:7400":   "credentials",
		"h:99999":             `port "99999"`,
		"http://h:7400/?x=1":  "no query",
		"http://h:7400/#frag": "no query",
		"http://h:74x0":       "is not a URL",
		"http://[::1":         "is not a URL",
	}
	for in, want := range bad {
		if _, err := NewClient(in, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewClient(%q): %v, want an error containing %q", in, err, want)
		}
	}
	if _, err := NewClient("h:1", "a b"); err == nil {
		t.Error("a token with a space accepted")
	}
}

func TestClientAgainstSomethingElse(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/hosts" {
			http.Error(w, "upstream down", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write([]byte("<html>hello</html>"))
	}))
	defer srv.Close()
	c := newTestClient(t, srv.URL, "")
	if _, err := c.Status(t.Context()); err == nil || !strings.Contains(err.Error(), "is it a lifeboat daemon?") {
		t.Errorf("HTML answer: %v", err)
	}
	_, err := c.Hosts(t.Context())
	var aerr *Error
	if !errors.As(err, &aerr) || aerr.Status != http.StatusBadGateway || !errors.Is(err, ErrInternal) || !strings.Contains(err.Error(), "upstream down") {
		t.Errorf("502 answer: %v", err)
	}
}

func TestClientUnderAPathPrefix(t *testing.T) {
	h, err := NewServer(newFake(), ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.StripPrefix("/lifeboat", h))
	defer srv.Close()
	c := newTestClient(t, srv.URL+"/lifeboat/", "")
	if ex, err := c.ExplainHost(t.Context(), "h2"); err != nil || ex.Host != "h2" {
		t.Errorf("ExplainHost under a prefix: %+v, %v", ex, err)
	}
}

func TestClientFollowEvents(t *testing.T) {
	f := newFake()
	srv := serve(t, f, ServerOptions{})
	c := newTestClient(t, srv.URL, "")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	got := make(chan Event, 100)
	done := make(chan error, 1)
	go func() {
		done <- c.FollowEvents(ctx, 0, func(e Event) error { got <- e; return nil })
	}()
	next := func() Event {
		t.Helper()
		select {
		case e := <-got:
			return e
		case <-time.After(2 * time.Second):
			t.Fatal("no event within 2s")
		}
		return Event{}
	}
	for want := uint64(1); want <= 2; want++ {
		if e := next(); e.Seq != want {
			t.Fatalf("seq %d, want %d", e.Seq, want)
		}
	}
	within(t, "the stream to wait", func() bool { return f.waiters() == 1 })
	for i := range 5 {
		f.add(Event{At: t0, Kind: "restart", VM: "db1", Host: "h3", Message: "restarted", Data: []byte(`{"attempt":` + string(rune('1'+i)) + `}`)})
	}
	for want := uint64(3); want <= 7; want++ {
		if e := next(); e.Seq != want || string(e.Data) != `{"attempt":`+string(rune('1'+want-3))+`}` {
			t.Fatalf("got %+v, want seq %d", e, want)
		}
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("FollowEvents after cancel: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("FollowEvents did not return after cancel")
	}

	// An error from fn stops the stream and comes back as is.
	stop := errors.New("enough")
	n := 0
	err := c.FollowEvents(t.Context(), 3, func(e Event) error {
		n++
		if e.Seq == 5 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("FollowEvents with fn failing: %v after %d", err, n)
	}
}
