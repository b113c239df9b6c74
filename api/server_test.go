package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// decodeError decodes a JSON error body and checks its code.
func decodeError(t *testing.T, body, wantCode string) string {
	t.Helper()
	var eb map[string]any
	if err := json.Unmarshal([]byte(body), &eb); err != nil {
		t.Fatalf("error body is not JSON: %v: %q", err, body)
	}
	if eb["code"] != wantCode {
		t.Errorf("error code %v, want %q (body %s)", eb["code"], wantCode, body)
	}
	msg, _ := eb["error"].(string)
	if msg == "" {
		t.Errorf("error body has no message: %s", body)
	}
	return msg
}

func TestRoutesAnswerJSON(t *testing.T) {
	srv := serve(t, newFake(), ServerOptions{})
	for _, path := range []string{"/v1/status", "/v1/hosts", "/v1/vms", "/v1/hosts/h2/explain", "/v1/events"} {
		code, body, ctype := get(t, srv.URL+path, "")
		if code != http.StatusOK || ctype != "application/json" || !json.Valid([]byte(body)) {
			t.Errorf("GET %s: %d %q %q", path, code, ctype, body)
		}
	}

	_, body, _ := get(t, srv.URL+"/v1/status", "")
	var st StatusView
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.Cluster != "lab" || !st.Leader || st.HostStates["failed"] != 1 || st.LastEvent != 2 {
		t.Errorf("status: %+v, %v", st, err)
	}
	_, body, _ = get(t, srv.URL+"/v1/hosts/h2/explain", "")
	var ex Explanation
	if err := json.Unmarshal([]byte(body), &ex); err != nil || ex.Host != "h2" || ex.Rule == "" || len(ex.Signals) != 3 {
		t.Errorf("explain: %+v, %v", ex, err)
	}
	// A signal never observed has no "at".
	if strings.Count(body, `"at"`) != 2 {
		t.Errorf("explain: want 2 signals with at: %s", body)
	}
}

func TestHostAndVMFieldNames(t *testing.T) {
	srv := serve(t, newFake(), ServerOptions{})
	check := func(path string, want []string) []map[string]any {
		t.Helper()
		_, body, _ := get(t, srv.URL+path, "")
		var list []map[string]any
		if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) == 0 {
			t.Fatalf("GET %s: %v: %s", path, err, body)
		}
		for _, m := range list {
			for _, k := range want {
				if _, ok := m[k]; !ok {
					t.Errorf("GET %s: an item lacks %q: %v", path, k, m)
				}
			}
		}
		return list
	}
	hosts := check("/v1/hosts", []string{"name", "state", "reason", "message", "since", "vms", "role"})
	// h2 has no VMs: its list is [] and not null; it has no group, so no "group" key.
	if vms, ok := hosts[1]["vms"].([]any); !ok || len(vms) != 0 {
		t.Errorf("h2 vms = %#v, want []", hosts[1]["vms"])
	}
	if _, ok := hosts[1]["group"]; ok || hosts[0]["group"] != "rack1" {
		t.Errorf("group: h1 %v, h2 %v", hosts[0]["group"], hosts[1]["group"])
	}
	if hosts[0]["since"] != "2025-03-14T09:26:53Z" {
		t.Errorf("since = %v", hosts[0]["since"])
	}
	vms := check("/v1/vms", []string{"name", "uuid", "host", "home_host", "state", "protected", "priority"})
	if vms[1]["home_host"] != "h2" || vms[1]["protected"] != true || vms[1]["priority"] != float64(100) {
		t.Errorf("db1 = %v", vms[1])
	}
}

func TestEmptyListsAreNotNull(t *testing.T) {
	f := newFake()
	f.set(func(f *fakeBackend) { f.hosts, f.vms, f.events = nil, nil, nil })
	srv := serve(t, f, ServerOptions{})
	for _, path := range []string{"/v1/hosts", "/v1/vms", "/v1/events"} {
		if _, body, _ := get(t, srv.URL+path, ""); strings.TrimSpace(body) != "[]" {
			t.Errorf("GET %s = %q, want []", path, body)
		}
	}
}

func TestAuth(t *testing.T) {
	const token = "s3cret-token"
	reg := prometheus.NewRegistry()
	srv := serve(t, newFake(), ServerOptions{Token: token, Gatherer: reg})
	for _, path := range []string{"/v1/status", "/v1/hosts", "/v1/vms", "/v1/events", "/v1/hosts/h2/explain", "/v1/nope", "/v1"} {
		for _, tok := range []string{"", "wrong", token + "x", "s3cret"} {
			code, body, _ := get(t, srv.URL+path, tok)
			if code != http.StatusUnauthorized {
				t.Errorf("GET %s with token %q: %d, want 401", path, tok, code)
				continue
			}
			msg := decodeError(t, body, CodeUnauthorized)
			if strings.Contains(msg, token) {
				t.Errorf("the error leaks the token: %q", msg)
			}
		}
		code, _, _ := get(t, srv.URL+path, token)
		if want := http.StatusOK; path != "/v1/nope" && path != "/v1" && code != want {
			t.Errorf("GET %s with the right token: %d", path, code)
		}
	}
	// A scheme other than Bearer is refused; the scheme's case does not matter.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+"/v1/status", nil)
	req.Header.Set("Authorization", "Basic "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("Basic auth: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	req.Header.Set("Authorization", "bearer "+token)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("lower-case bearer: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	// Probes and metrics stay open.
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if code, _, _ := get(t, srv.URL+path, ""); code != http.StatusOK {
			t.Errorf("GET %s without a token: %d, want 200", path, code)
		}
	}
}

func TestExplainUnknownHost(t *testing.T) {
	srv := serve(t, newFake(), ServerOptions{})
	code, body, _ := get(t, srv.URL+"/v1/hosts/h9/explain", "")
	if code != http.StatusNotFound {
		t.Fatalf("status %d, want 404", code)
	}
	if msg := decodeError(t, body, CodeNotFound); msg != `unknown host "h9"` {
		t.Errorf("message %q", msg)
	}
	// An escaped slash stays part of the name.
	code, body, _ = get(t, srv.URL+"/v1/hosts/a%2Fb/explain", "")
	if msg := decodeError(t, body, CodeNotFound); code != http.StatusNotFound || msg != `unknown host "a/b"` {
		t.Errorf("a/b: %d %q", code, msg)
	}
}

func TestBadEventsQuery(t *testing.T) {
	srv := serve(t, newFake(), ServerOptions{})
	cases := map[string]string{
		"after=abc":                  `after "abc"`,
		"after=-1":                   `after "-1"`,
		"after=":                     `after ""`,
		"after=18446744073709551616": `after "18446744073709551616"`,
		"limit=-1":                   `limit "-1"`,
		"limit=0":                    `limit "0"`,
		"limit=1001":                 `limit "1001"`,
		"limit=ten":                  `limit "ten"`,
		"follow=maybe":               `follow "maybe"`,
		"follow=true&limit=5":        "limit does not apply",
		"after=1&after=2":            `"after" given 2 times`,
		"afterr=1":                   `unknown query parameter "afterr"`,
		"after=%zz":                  "invalid URL escape",
	}
	for q, want := range cases {
		code, body, _ := get(t, srv.URL+"/v1/events?"+q, "")
		if code != http.StatusBadRequest {
			t.Errorf("?%s: %d, want 400", q, code)
			continue
		}
		if msg := decodeError(t, body, CodeBadRequest); !strings.Contains(msg, want) {
			t.Errorf("?%s: message %q lacks %q", q, msg, want)
		}
	}
}

func TestWrongMethodAndUnknownRoute(t *testing.T) {
	srv := serve(t, newFake(), ServerOptions{})
	for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodPut} {
		code, body, ctype := do(t, m, srv.URL+"/v1/hosts", "")
		if code != http.StatusMethodNotAllowed || ctype != "application/json" {
			t.Errorf("%s /v1/hosts: %d %s", m, code, ctype)
		}
		if msg := decodeError(t, body, CodeBadRequest); !strings.Contains(msg, m) || !strings.Contains(msg, "GET") {
			t.Errorf("%s /v1/hosts: %q", m, msg)
		}
	}
	code, body, _ := get(t, srv.URL+"/v1/nothing", "")
	if code != http.StatusNotFound || !strings.Contains(decodeError(t, body, CodeNotFound), "/v1/nothing") {
		t.Errorf("GET /v1/nothing: %d %s", code, body)
	}
	// Without a Gatherer there is no /metrics.
	if code, _, _ := get(t, srv.URL+"/metrics", ""); code != http.StatusNotFound {
		t.Errorf("GET /metrics without a Gatherer: %d", code)
	}
	// HEAD works where GET does.
	if code, _, _ := do(t, http.MethodHead, srv.URL+"/healthz", ""); code != http.StatusOK {
		t.Errorf("HEAD /healthz: %d", code)
	}
}

func TestBackendFailure(t *testing.T) {
	f := newFake()
	f.set(func(f *fakeBackend) { f.fail = errors.New("store is closed") })
	srv := serve(t, f, ServerOptions{})
	for _, path := range []string{"/v1/status", "/v1/hosts", "/v1/vms", "/v1/events", "/v1/hosts/h1/explain", "/v1/events?follow=true"} {
		code, body, _ := get(t, srv.URL+path, "")
		if code != http.StatusInternalServerError || !strings.Contains(decodeError(t, body, CodeInternal), "store is closed") {
			t.Errorf("GET %s: %d %s", path, code, body)
		}
	}
	// A Backend's ErrBadRequest is a 400.
	f.set(func(f *fakeBackend) { f.fail = errors.Join(errors.New("host name too long"), ErrBadRequest) })
	if code, _, _ := get(t, srv.URL+"/v1/hosts/x/explain", ""); code != http.StatusBadRequest {
		t.Errorf("ErrBadRequest: %d", code)
	}
}

// panicBackend panics in Hosts.
type panicBackend struct{ *fakeBackend }

// Hosts panics.
func (panicBackend) Hosts(context.Context) ([]HostView, error) { panic("boom") }

func TestPanicIsA500(t *testing.T) {
	h, err := NewServer(panicBackend{newFake()}, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	code, body, _ := get(t, srv.URL+"/v1/hosts", "")
	if code != http.StatusInternalServerError {
		t.Fatalf("status %d, %s", code, body)
	}
	decodeError(t, body, CodeInternal)
	if code, _, _ := get(t, srv.URL+"/healthz", ""); code != http.StatusOK {
		t.Errorf("the server does not serve after a panic: %d", code)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "lifeboat_test_probes_total", Help: "Probes."})
	reg.MustRegister(c)
	c.Add(3)
	srv := serve(t, newFake(), ServerOptions{Gatherer: reg})
	code, body, ctype := get(t, srv.URL+"/metrics", "")
	if code != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") || !strings.Contains(body, "lifeboat_test_probes_total 3") {
		t.Errorf("GET /metrics: %d %s\n%s", code, ctype, body)
	}
}

func TestHealthzReadyz(t *testing.T) {
	f := newFake()
	srv := serve(t, f, ServerOptions{})
	if code, body, _ := get(t, srv.URL+"/healthz", ""); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body, _ := get(t, srv.URL+"/readyz", ""); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/readyz: %d %q", code, body)
	}
	f.set(func(f *fakeBackend) { f.notReady = errors.New("state not loaded yet") })
	if code, body, _ := get(t, srv.URL+"/readyz", ""); code != http.StatusServiceUnavailable || !strings.Contains(body, "state not loaded yet") {
		t.Errorf("/readyz not ready: %d %q", code, body)
	}
	if code, _, _ := get(t, srv.URL+"/healthz", ""); code != http.StatusOK {
		t.Errorf("/healthz while not ready: %d", code)
	}
}

func TestNewServerRejectsBadOptions(t *testing.T) {
	if _, err := NewServer(nil, ServerOptions{}); err == nil {
		t.Error("nil Backend accepted")
	}
	for _, tok := range []string{"abc\n", " abc", "a b"} {
		if _, err := NewServer(newFake(), ServerOptions{Token: tok}); err == nil || !strings.Contains(err.Error(), "white space") {
			t.Errorf("token %q: %v", tok, err)
		}
	}
}

func TestEventsList(t *testing.T) {
	f := newFake()
	for i := range 5 {
		f.add(Event{At: t0.Add(time.Duration(i) * time.Second), Kind: "migration", VM: "web1", Message: "moved"})
	}
	srv := serve(t, f, ServerOptions{})
	seqs := func(q string) []uint64 {
		t.Helper()
		code, body, _ := get(t, srv.URL+"/v1/events"+q, "")
		var evs []Event
		if err := json.Unmarshal([]byte(body), &evs); err != nil || code != http.StatusOK {
			t.Fatalf("?%s: %d %v %s", q, code, err, body)
		}
		var out []uint64
		for _, e := range evs {
			out = append(out, e.Seq)
		}
		return out
	}
	for q, want := range map[string][]uint64{
		"":                  {1, 2, 3, 4, 5, 6, 7},
		"?after=5":          {6, 7},
		"?after=2&limit=2":  {3, 4},
		"?after=7":          nil,
		"?after=0&limit=1":  {1},
		"?follow=false":     {1, 2, 3, 4, 5, 6, 7},
		"?limit=1000":       {1, 2, 3, 4, 5, 6, 7},
		"?after=99&limit=3": nil,
	} {
		if got := seqs(q); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", q, got, want)
		}
	}
	// Field names of an event.
	_, body, _ := get(t, srv.URL+"/v1/events?after=2&limit=1", "")
	var list []map[string]any
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 1 {
		t.Fatalf("%v %s", err, body)
	}
	for _, k := range []string{"seq", "at", "kind", "vm", "message"} {
		if _, ok := list[0][k]; !ok {
			t.Errorf("event lacks %q: %v", k, list[0])
		}
	}
	for _, k := range []string{"host", "reason", "data"} {
		if _, ok := list[0][k]; ok {
			t.Errorf("event has empty %q: %v", k, list[0])
		}
	}
}
