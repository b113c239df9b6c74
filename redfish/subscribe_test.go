package redfish

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// pushReceiver is a real HTTPS endpoint that collects the events BMCs push to it.
func pushReceiver(t *testing.T) (*httptest.Server, chan PushedEvent) {
	t.Helper()
	got := make(chan PushedEvent, 64)
	rs := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, MaxPushedEvent))
		ev, err := ParsePushedEvent(body)
		if err != nil {
			t.Errorf("pushed event: %v (%s)", err, body)
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- ev
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rs.Close)
	return rs, got
}

// pushOnlyBMC is an emulated BMC with subscriptions but no SSE stream (as HPE iLO).
func pushOnlyBMC(t *testing.T) (*bmc.Server, *fakePower) {
	t.Helper()
	p := &fakePower{state: bmc.PowerOn}
	s, err := bmc.New(bmc.Config{SystemID: "h1", Username: "admin", Password: "pw", Power: p, NoSSE: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, p
}

// TestSubscribePushLifecycle: on a push-only BMC, WatchEvents says there is no stream, while
// Subscribe creates a subscription whose events (a power loss) reach the destination over
// HTTPS with the context; SubscriptionExists follows the BMC dropping it; a new Subscribe
// replaces a stale one to the same destination; Unsubscribe leaves none.
func TestSubscribePushLifecycle(t *testing.T) {
	s, p := pushOnlyBMC(t)
	c := eventClient(t, s, pinned(s), 2*time.Second)
	ctx := context.Background()
	if err := c.WatchEvents(ctx, WatchOptions{}); !errors.Is(err, ErrNoEventService) {
		t.Fatalf("WatchEvents on a push-only BMC: %v, want ErrNoEventService", err)
	}
	rs, got := pushReceiver(t)
	dest := rs.URL + "/v1/bmc-events/h1"
	sub, err := c.Subscribe(ctx, dest, "secret-1")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(sub.URI, "/redfish/v1/EventService/Subscriptions/") || sub.Destination != dest {
		t.Errorf("subscription %+v", sub)
	}
	if err := c.SubscriptionExists(ctx, sub); err != nil {
		t.Errorf("SubscriptionExists right after Subscribe: %v", err)
	}
	if _, err := c.Status(ctx); err != nil { // learn the system's path, for AboutSystem
		t.Fatal(err)
	}
	p.mu.Lock()
	p.state = bmc.PowerOff
	p.mu.Unlock()
	s.PowerChanged()
	select {
	case ev := <-got:
		if ev.Context != "secret-1" || len(ev.Events) != 1 || ev.Events[0].Origin != "/redfish/v1/Systems/h1" ||
			ev.Events[0].Type != "ResourceUpdated" || !c.AboutSystem(ev.Events[0]) {
			t.Errorf("pushed event %+v", ev)
		}
	case <-time.After(time.Minute):
		t.Fatal("no pushed event")
	}

	s.DropSubscriptions() // the BMC rebooted
	if err := c.SubscriptionExists(ctx, sub); !errors.Is(err, ErrSubscriptionGone) {
		t.Errorf("SubscriptionExists after the BMC dropped it: %v, want ErrSubscriptionGone", err)
	}
	if _, err := c.Subscribe(ctx, dest, "secret-2"); err != nil {
		t.Fatal(err)
	}
	sub3, err := c.Subscribe(ctx, dest, "secret-3") // as after a crash: the one before is stale
	if err != nil {
		t.Fatal(err)
	}
	if n := s.EventStats().Subscriptions; n != 1 {
		t.Errorf("%d subscriptions after subscribing twice to one destination, want 1", n)
	}
	if err := c.Unsubscribe(ctx, sub3); err != nil {
		t.Fatal(err)
	}
	if n := s.EventStats().Subscriptions; n != 0 {
		t.Errorf("%d subscriptions after Unsubscribe", n)
	}
	if err := c.Unsubscribe(ctx, sub3); err != nil {
		t.Errorf("Unsubscribe of a gone subscription: %v, want nil", err)
	}
	if st := s.Stats(); st.BasicAuth != 0 || st.SessionsCreated != 1 {
		t.Errorf("subscriptions should use the client's one session: %+v", st)
	}
}

// TestSubscribeNoEventService: a BMC without an EventService takes no subscriptions.
func TestSubscribeNoEventService(t *testing.T) {
	s, err := bmc.New(bmc.Config{SystemID: "h1", Username: "admin", Password: "pw", Power: &fakePower{state: bmc.PowerOn}, NoEventService: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := eventClient(t, s, Trust{Insecure: true}, 2*time.Second)
	if _, err := c.Subscribe(context.Background(), "https://127.0.0.1:1/v1/bmc-events/h1", "x"); !errors.Is(err, ErrNoSubscriptions) {
		t.Fatalf("Subscribe: %v, want ErrNoSubscriptions", err)
	}
}

// TestParsePushedEvent: what a receiver accepts, and what it refuses with which reason.
func TestParsePushedEvent(t *testing.T) {
	for _, tc := range []struct {
		name, body, err string
		events          int
	}{
		{"event", `{"Id":"7","Context":"c","Events":[{"EventType":"ResourceUpdated","MessageId":"ResourceEvent.1.0.ResourceChanged","OriginOfCondition":{"@odata.id":"/redfish/v1/Systems/h1"}}]}`, "", 1},
		{"no records", `{"Context":"c","Events":[]}`, "", 0},
		{"not JSON", `Events`, "not a Redfish Event (JSON object)", 0},
		{"array", `[]`, "not a Redfish Event (JSON object)", 0},
		{"two objects", `{"Context":"c","Events":[]}{}`, "unexpected data after the JSON object", 0},
		{"no context", `{"Events":[]}`, "no Context", 0},
		{"no events", `{"Context":"c"}`, "no Events array", 0},
		{"events not a list", `{"Context":"c","Events":{}}`, "not a Redfish Event", 0},
		{"empty", ``, "not a Redfish Event", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := ParsePushedEvent([]byte(tc.body))
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("ParsePushedEvent: %v", err)
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Fatalf("ParsePushedEvent: %v, want %q", err, tc.err)
			case tc.err == "" && (len(ev.Events) != tc.events || ev.Context != "c"):
				t.Errorf("ParsePushedEvent = %+v", ev)
			}
		})
	}
}
