package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/redfish"
)

// pushFake takes pushed BMC events for h1 (secret s3cret) only.
type pushFake struct {
	mu  sync.Mutex
	got map[string][]redfish.Event
}

// BMCEventContext implements BMCEventReceiver.
func (f *pushFake) BMCEventContext(host string) (string, bool) {
	if host == "h1" {
		return "s3cret", true
	}
	return "", false
}

// ReceiveBMCEvents implements BMCEventReceiver.
func (f *pushFake) ReceiveBMCEvents(_ context.Context, host string, evs []redfish.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.got == nil {
		f.got = map[string][]redfish.Event{}
	}
	f.got[host] = append(f.got[host], evs...)
}

// received returns the events taken for host.
func (f *pushFake) received(host string) []redfish.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]redfish.Event(nil), f.got[host]...)
}

// TestBMCEventReceiver: the receiver takes no API token, refuses unknown hosts, bad bodies and
// wrong contexts with errors that say what is wrong, and passes a good event on; the rest of
// the API still needs its token.
func TestBMCEventReceiver(t *testing.T) {
	pf := &pushFake{}
	h, err := NewServer(newFake(), ServerOptions{Token: apiToken, BMCEvents: pf})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	good := `{"Context":"s3cret","Events":[{"EventType":"ResourceUpdated","MessageId":"ResourceEvent.1.0.ResourceChanged","OriginOfCondition":{"@odata.id":"/redfish/v1/Systems/h1"}}]}`
	for _, tc := range []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"unknown host", "h9", good, http.StatusNotFound, `host \"h9\" takes no pushed BMC events`},
		{"not JSON", "h1", `hello`, http.StatusBadRequest, "pushed BMC event for host h1: not a Redfish Event"},
		{"no context", "h1", `{"Events":[]}`, http.StatusBadRequest, "has no Context"},
		{"wrong context", "h1", strings.Replace(good, "s3cret", "guess", 1), http.StatusUnauthorized, "is not the secret of host h1's current subscription"},
		{"prefix of the context", "h1", strings.Replace(good, "s3cret", "s3cre", 1), http.StatusUnauthorized, "not the secret"},
		{"too big", "h1", `{"Context":"s3cret","Events":[],"x":"` + strings.Repeat("a", redfish.MaxPushedEvent) + `"}`, http.StatusRequestEntityTooLarge, "larger than 65536 bytes"},
		{"good", "h1", good, http.StatusNoContent, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+BMCEventPath+tc.path, strings.NewReader(tc.body))
			req.Header.Set("Content-Type", "application/json")
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(string(b), tc.msg) {
				t.Errorf("POST %s: %d %s, want %d with %q", tc.path, resp.StatusCode, b, tc.status, tc.msg)
			}
		})
	}
	if got := pf.received("h1"); len(got) != 1 || got[0].Origin != "/redfish/v1/Systems/h1" {
		t.Errorf("events taken: %+v, want the good one only", got)
	}
	resp, err := srv.Client().Get(srv.URL + "/v1/hosts")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /v1/hosts without a token: %d, want 401", resp.StatusCode)
	}
}

// TestNoBMCEventReceiver: without a receiver the route is an ordinary protected /v1 path.
func TestNoBMCEventReceiver(t *testing.T) {
	h, err := NewServer(newFake(), ServerOptions{Token: apiToken})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+BMCEventPath+"h1", "application/json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("POST without a receiver: %d, want 401", resp.StatusCode)
	}
}

// FuzzBMCEventReceiver feeds arbitrary bodies to POST /v1/bmc-events/h1: the server never
// panics, answers 204 only for a Redfish Event carrying h1's secret (and then passes its
// records on), and otherwise 400, 401 or 413 with a JSON error.
func FuzzBMCEventReceiver(f *testing.F) {
	for _, seed := range []string{
		`{"Context":"s3cret","Events":[{"EventType":"StatusChange"}]}`, `{"Context":"s3cret","Events":[]}`,
		`{"Context":"x","Events":[]}`, `{"Context":null,"Events":[]}`, `{}`, `[]`, `null`, ``, `{"Context":"s3cret","Events":[]} x`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		pf := &pushFake{}
		h, err := NewServer(newFake(), ServerOptions{Token: apiToken, BMCEvents: pf})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodPost, BMCEventPath+"h1", strings.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		ev, perr := redfish.ParsePushedEvent([]byte(body))
		good := perr == nil && ev.Context == "s3cret" && len(body) <= redfish.MaxPushedEvent
		switch {
		case good && (rec.Code != http.StatusNoContent || len(pf.received("h1")) != len(ev.Events)):
			t.Fatalf("%q: %d, %d records passed on, want 204 and %d", body, rec.Code, len(pf.received("h1")), len(ev.Events))
		case !good && rec.Code != http.StatusBadRequest && rec.Code != http.StatusUnauthorized && rec.Code != http.StatusRequestEntityTooLarge:
			t.Fatalf("%q: %d %s, want 400, 401 or 413", body, rec.Code, rec.Body)
		case !good && len(pf.received("h1")) != 0:
			t.Fatalf("%q: refused, yet records were passed on", body)
		}
	})
}

// TestRefusedEventLogIsLimited: one log line per minute about refused pushed events, which
// says how many it stands for.
func TestRefusedEventLogIsLimited(t *testing.T) {
	var l logLimiter
	t0 := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	if n, ok := l.note(t0); !ok || n != 1 {
		t.Fatalf("first: %d %v", n, ok)
	}
	for i := 1; i <= 100; i++ {
		if _, ok := l.note(t0.Add(time.Duration(i) * 100 * time.Millisecond)); ok {
			t.Fatalf("refusal %d within the minute was logged", i)
		}
	}
	if n, ok := l.note(t0.Add(refusedLogEvery)); !ok || n != 101 {
		t.Errorf("after a minute: %d %v, want 101 true", n, ok)
	}
}
