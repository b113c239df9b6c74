package bmc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// sseMessage is one Server-Sent Events message.
type sseMessage struct {
	id   string
	data string
}

// sseReader reads an open event stream.
type sseReader struct {
	resp *http.Response
	br   *bufio.Reader
}

// openSSE opens the event stream of s with basic auth (auth false: with no credentials) and
// returns the response; the stream ends when the test does.
func openSSE(t *testing.T, s *Server, auth bool) *sseReader {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+pathSSE, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth {
		req.SetBasicAuth(testUser, testPass)
	}
	req.Header.Set("Accept", "text/event-stream")
	resp, err := verifyingClient(t, s, 0).Do(req)
	if err != nil {
		t.Fatalf("open SSE: %v", err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sseReader{resp: resp, br: bufio.NewReader(resp.Body)}
}

// next reads the next message, skipping comment lines (heartbeats); io.EOF when the stream ends.
func (r *sseReader) next() (sseMessage, error) {
	var m sseMessage
	for {
		line, err := r.br.ReadString('\n')
		if err != nil {
			return m, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if m.data != "" {
				return m, nil
			}
		case strings.HasPrefix(line, ":"):
		case strings.HasPrefix(line, "id: "):
			m.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			m.data += strings.TrimPrefix(line, "data: ")
		}
	}
}

// decodeEvent decodes an Event resource and checks it carries exactly one record.
func decodeEvent(t *testing.T, data string) (eventPayload, eventRecord) {
	t.Helper()
	var ev eventPayload
	dec := json.NewDecoder(strings.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		t.Fatalf("event %q: %v", data, err)
	}
	if ev.ODataType != "#Event.v1_7_0.Event" || len(ev.Events) != 1 || ev.Count != 1 {
		t.Fatalf("event %q: want one record in an #Event.v1_7_0.Event", data)
	}
	return ev, ev.Events[0]
}

func TestEventServiceResource(t *testing.T) {
	s, _ := startServer(t)
	root := do(t, s, http.MethodGet, pathRoot, "", false).json(t)
	if link, _ := root["EventService"].(map[string]any); link["@odata.id"] != pathEventService {
		t.Errorf("service root EventService = %v, want a link to %s", root["EventService"], pathEventService)
	}
	if r := do(t, s, http.MethodGet, pathEventService, "", false); r.status != http.StatusUnauthorized {
		t.Errorf("EventService without credentials: %d, want 401", r.status)
	}
	es := do(t, s, http.MethodGet, pathEventService, "", true).json(t)
	if es["ServerSentEventUri"] != pathSSE || es["ServiceEnabled"] != true {
		t.Errorf("EventService = %v, want ServerSentEventUri %s and ServiceEnabled", es, pathSSE)
	}
	if sub, _ := es["Subscriptions"].(map[string]any); sub["@odata.id"] != pathSubscriptions {
		t.Errorf("EventService Subscriptions = %v", es["Subscriptions"])
	}
}

func TestNoEventService(t *testing.T) {
	s, _ := startServer(t, func(c *Config) { c.NoEventService = true })
	if _, ok := do(t, s, http.MethodGet, pathRoot, "", false).json(t)["EventService"]; ok {
		t.Error("the service root links an EventService the BMC does not have")
	}
	for _, p := range []string{pathEventService, pathSSE, pathSubscriptions} {
		if r := do(t, s, http.MethodGet, p, "", true); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, r.status)
		}
	}
}

func TestSSERequiresCredentials(t *testing.T) {
	s, _ := startServer(t)
	r := openSSE(t, s, false)
	if r.resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("SSE without credentials: %d, want 401", r.resp.StatusCode)
	}
	body, _ := io.ReadAll(r.resp.Body)
	if !strings.Contains(string(body), msgNoValidSession) {
		t.Errorf("SSE without credentials: body %q, want %s", body, msgNoValidSession)
	}
}

// TestSSEPowerAndHealthEvents: a ForceOff through the reset action, a power loss the lab
// reports with PowerChanged, and a health change each arrive on the stream as one Redfish
// Event whose OriginOfCondition is the system, numbered in order.
func TestSSEPowerAndHealthEvents(t *testing.T) {
	s, power := startServer(t)
	r := openSSE(t, s, true)
	if r.resp.StatusCode != http.StatusOK || !strings.HasPrefix(r.resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("SSE: %d %q, want 200 text/event-stream", r.resp.StatusCode, r.resp.Header.Get("Content-Type"))
	}
	waitStreams(t, s, 1)

	if res := do(t, s, http.MethodPost, s.resetPath(), `{"ResetType":"ForceOff"}`, true); res.status != http.StatusNoContent {
		t.Fatalf("ForceOff: %d %s", res.status, res.body)
	}
	m, err := r.next()
	if err != nil {
		t.Fatal(err)
	}
	_, rec := decodeEvent(t, m.data)
	if m.id != "1" || rec.EventID != "1" || rec.MessageID != msgResourceChanged || rec.EventType != eventResourceUpdated ||
		rec.OriginOfCondition.ID != s.systemPath() || !strings.Contains(rec.Message, "PowerState of system h1 is now Off") {
		t.Errorf("power event: id %q %+v", m.id, rec)
	}

	// Power restored behind the emulator's back (the lab boots the host), then reported.
	power.mu.Lock()
	power.state = PowerOn
	power.mu.Unlock()
	s.PowerChanged()
	s.PowerChanged() // nothing changed since: no event
	s.SetHealth(HealthCritical, "PSU 2 failed")
	m, err = r.next()
	if err != nil {
		t.Fatal(err)
	}
	if _, rec = decodeEvent(t, m.data); m.id != "2" || !strings.Contains(rec.Message, "is now On") {
		t.Errorf("power-on event: id %q %+v", m.id, rec)
	}
	m, err = r.next()
	if err != nil {
		t.Fatal(err)
	}
	_, rec = decodeEvent(t, m.data)
	if m.id != "3" || rec.MessageID != "ResourceEvent.1.0.ResourceStatusChangedCritical" || rec.EventType != eventStatusChange ||
		rec.MessageSeverity != HealthCritical || len(rec.MessageArgs) != 2 || rec.MessageArgs[1] != "OK" {
		t.Errorf("health event (the repeated PowerChanged must not send one before it): id %q %+v", m.id, rec)
	}
	if st := s.EventStats(); st.Emitted != 3 || st.Streams != 1 {
		t.Errorf("EventStats = %+v, want 3 emitted on 1 stream", st)
	}
}

// TestSSESessionToken: a session's X-Auth-Token opens the stream too, and the stream ends when
// the session is deleted (logout).
func TestSSESessionToken(t *testing.T) {
	s, _ := startServer(t)
	login := do(t, s, http.MethodPost, pathSessions, `{"UserName":"`+testUser+`","Password":"`+testPass+`"}`, false)
	token := login.header.Get(authTokenHeader)
	if login.status != http.StatusCreated || token == "" {
		t.Fatalf("login: %d", login.status)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, s.URL()+pathSSE, nil)
	req.Header.Set(authTokenHeader, token)
	resp, err := verifyingClient(t, s, 0).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SSE with a session token: %d", resp.StatusCode)
	}
	waitStreams(t, s, 1)
	if r := do(t, s, http.MethodDelete, login.header.Get("Location"), "", true); r.status != http.StatusNoContent {
		t.Fatalf("logout: %d", r.status)
	}
	if _, err := (&sseReader{resp: resp, br: bufio.NewReader(resp.Body)}).next(); err != io.EOF {
		t.Fatalf("after logout the stream: %v, want io.EOF", err)
	}
}

// TestDropEventStreams: the emulator can end its streams (an event service restart); the
// client sees the stream end.
func TestDropEventStreams(t *testing.T) {
	s, _ := startServer(t)
	r := openSSE(t, s, true)
	waitStreams(t, s, 1)
	s.DropEventStreams()
	if _, err := r.next(); err != io.EOF {
		t.Fatalf("after DropEventStreams: %v, want io.EOF", err)
	}
	waitStreams(t, s, 0)
}

// TestSSEHeartbeat: an idle stream carries comment lines.
func TestSSEHeartbeat(t *testing.T) {
	s, _ := startServer(t, func(c *Config) { c.SSEHeartbeat = time.Millisecond })
	r := openSSE(t, s, true)
	line, err := r.br.ReadString('\n')
	if err != nil || line != ":\n" {
		t.Fatalf("first line of an idle stream: %q %v, want a comment", line, err)
	}
}

// waitStreams waits until s has n open streams.
func waitStreams(t *testing.T, s *Server, n int) {
	t.Helper()
	waitEventStats(t, s, fmt.Sprintf("%d streams", n), func(st EventStats) bool { return st.Streams == n })
}

// receiver is an HTTP event receiver (a push subscription's Destination).
type receiver struct {
	srv *httptest.Server
	got chan []byte
}

// newReceiver starts a receiver that answers status to each POST.
func newReceiver(t *testing.T, status int) *receiver {
	t.Helper()
	rc := &receiver{got: make(chan []byte, 16)}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("receiver got %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		rc.got <- b
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// next waits for the next delivered event.
func (rc *receiver) next(t *testing.T) []byte {
	t.Helper()
	select {
	case b := <-rc.got:
		return b
	case <-time.After(30 * time.Second):
		t.Fatal("no event delivered")
		return nil
	}
}

// TestPushSubscription: a subscription is created (201, Location), read back, receives the
// events its filter passes, with its Context, and receives nothing once deleted.
func TestPushSubscription(t *testing.T) {
	s, _ := startServer(t)
	rc := newReceiver(t, http.StatusNoContent)
	body := `{"Destination":"` + rc.srv.URL + `/events","Protocol":"Redfish","Context":"lifeboat-h1","EventTypes":["StatusChange"],"RegistryPrefixes":["ResourceEvent"]}`
	res := do(t, s, http.MethodPost, pathSubscriptions, body, true)
	loc := res.header.Get("Location")
	if res.status != http.StatusCreated || loc != pathSubscriptions+"/1" {
		t.Fatalf("create: %d Location %q %s", res.status, loc, res.body)
	}
	got := do(t, s, http.MethodGet, loc, "", true).json(t)
	if got["Destination"] != rc.srv.URL+"/events" || got["Context"] != "lifeboat-h1" || got["Protocol"] != "Redfish" {
		t.Errorf("subscription = %v", got)
	}
	coll := do(t, s, http.MethodGet, pathSubscriptions, "", true).json(t)
	if coll["Members@odata.count"] != float64(1) {
		t.Errorf("collection = %v, want 1 member", coll)
	}

	// The power event is filtered out (EventTypes StatusChange only); deliveries keep their
	// order, so the first one delivered must be the health event.
	if r := do(t, s, http.MethodPost, s.resetPath(), `{"ResetType":"ForceOff"}`, true); r.status != http.StatusNoContent {
		t.Fatalf("ForceOff: %d", r.status)
	}
	s.SetHealth(HealthWarning, "fan 3 slow")
	ev, rec := decodeEvent(t, string(rc.next(t)))
	if ev.Context != "lifeboat-h1" || rec.MessageID != "ResourceEvent.1.0.ResourceStatusChangedWarning" || rec.OriginOfCondition.ID != s.systemPath() {
		t.Errorf("delivered %+v %+v", ev, rec)
	}

	if r := do(t, s, http.MethodDelete, loc, "", true); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d", r.status)
	}
	if r := do(t, s, http.MethodGet, loc, "", true); r.status != http.StatusNotFound {
		t.Errorf("GET after delete: %d, want 404", r.status)
	}
	if r := do(t, s, http.MethodDelete, loc, "", true); r.status != http.StatusNotFound {
		t.Errorf("second delete: %d, want 404", r.status)
	}
	s.SetHealth(HealthOK, "")
	// A second subscription, made after the change, shows that deliveries still run; the
	// deleted one must not have been sent the change.
	res = do(t, s, http.MethodPost, pathSubscriptions, `{"Destination":"`+rc.srv.URL+`","Protocol":"Redfish"}`, true)
	if res.status != http.StatusCreated {
		t.Fatalf("second create: %d %s", res.status, res.body)
	}
	s.SetHealth(HealthCritical, "PSU failed")
	_, rec = decodeEvent(t, string(rc.next(t)))
	if rec.MessageID != "ResourceEvent.1.0.ResourceStatusChangedCritical" {
		t.Errorf("after delete, the first delivery is %s: the deleted subscription got the OK event", rec.MessageID)
	}
	waitEventStats(t, s, "2 delivered, 1 subscription", func(st EventStats) bool {
		return st.Delivered == 2 && st.DeliveryFailures == 0 && st.Subscriptions == 1
	})
}

func TestPushSubscriptionRequiresCredentials(t *testing.T) {
	s, _ := startServer(t)
	r := do(t, s, http.MethodPost, pathSubscriptions, `{"Destination":"http://127.0.0.1:1/","Protocol":"Redfish"}`, false)
	if r.status != http.StatusUnauthorized {
		t.Fatalf("subscribe without credentials: %d, want 401", r.status)
	}
	if n := s.EventStats().Subscriptions; n != 0 {
		t.Errorf("%d subscriptions made without credentials", n)
	}
}

// TestPushSubscriptionBadRequests: each bad request gets a Redfish error that names the
// property at fault, and creates nothing.
func TestPushSubscriptionBadRequests(t *testing.T) {
	s, _ := startServer(t)
	for _, tc := range []struct {
		body, msgID, names string
	}{
		{`{"Protocol":"Redfish"}`, msgPropertyMissing, "Destination"},
		{`{"Destination":"http://127.0.0.1:9/"}`, msgPropertyMissing, "Protocol"},
		{`{"Destination":"http://127.0.0.1:9/","Protocol":"SNMPv2c"}`, msgPropertyNotInList, "Protocol"},
		{`{"Destination":"ftp://127.0.0.1/","Protocol":"Redfish"}`, msgPropertyFormat, "Destination"},
		{`{"Destination":"/relative","Protocol":"Redfish"}`, msgPropertyFormat, "Destination"},
		{`{"Destination":7,"Protocol":"Redfish"}`, msgPropertyType, "Destination"},
		{`{"Destination":"http://127.0.0.1:9/","Protocol":"Redfish","EventTypes":"Alert"}`, msgPropertyType, "EventTypes"},
		{`{"Destination":"http://127.0.0.1:9/","Protocol":"Redfish","EventTypes":["MetricReport"]}`, msgPropertyNotInList, "EventTypes"},
		{`{"Destination":"http://127.0.0.1:9/","Protocol":"Redfish","RegistryPrefixes":["Base"]}`, msgPropertyNotInList, "RegistryPrefixes"},
		{`{"Destination":"http://127.0.0.1:9/","Protocol":"Redfish","Colour":"red"}`, msgPropertyUnknown, "Colour"},
		{`{"Destination":"http://127.0.0.1:9/",`, msgMalformedJSON, "malformed"},
		{`[1]`, msgMalformedJSON, "malformed"},
	} {
		r := do(t, s, http.MethodPost, pathSubscriptions, tc.body, true)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", tc.body, r.status)
			continue
		}
		id, msg := redfishError(t, r)
		if id != tc.msgID || !strings.Contains(msg, tc.names) {
			t.Errorf("%s: %s %q, want %s naming %s", tc.body, id, msg, tc.msgID, tc.names)
		}
	}
	if n := s.EventStats().Subscriptions; n != 0 {
		t.Errorf("%d subscriptions made by bad requests", n)
	}
}

// TestPushDeliveryFailureCounted: a destination that refuses (500) counts as a failed
// delivery; the subscription stays.
func TestPushDeliveryFailureCounted(t *testing.T) {
	s, _ := startServer(t)
	rc := newReceiver(t, http.StatusInternalServerError)
	if r := do(t, s, http.MethodPost, pathSubscriptions, `{"Destination":"`+rc.srv.URL+`","Protocol":"Redfish"}`, true); r.status != http.StatusCreated {
		t.Fatalf("create: %d", r.status)
	}
	s.SetHealth(HealthWarning, "x")
	rc.next(t)
	waitEventStats(t, s, "1 failure, the subscription kept", func(st EventStats) bool {
		return st.DeliveryFailures == 1 && st.Subscriptions == 1 && st.Delivered == 0
	})
}

// waitEventStats waits until s's EventStats satisfy ok.
func waitEventStats(t *testing.T, s *Server, what string, ok func(EventStats) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	for !ok(s.EventStats()) {
		if ctx.Err() != nil {
			t.Fatalf("EventStats = %+v, want %s", s.EventStats(), what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPushOnlyAndDropSubscriptions: a NoSSE emulator has an EventService with subscriptions
// but no SSE stream; DropSubscriptions forgets every subscription, as a BMC reboot does.
func TestPushOnlyAndDropSubscriptions(t *testing.T) {
	s, _ := startServer(t, func(c *Config) { c.NoSSE = true })
	es := do(t, s, http.MethodGet, pathEventService, "", true).json(t)
	if _, ok := es["ServerSentEventUri"]; ok || es["Subscriptions"] == nil {
		t.Errorf("a push-only EventService = %v", es)
	}
	if r := do(t, s, http.MethodGet, pathSSE, "", true); r.status != http.StatusNotFound {
		t.Errorf("GET %s on a push-only BMC: %d, want 404", pathSSE, r.status)
	}
	rc := newReceiver(t, http.StatusNoContent)
	res := do(t, s, http.MethodPost, pathSubscriptions, `{"Destination":"`+rc.srv.URL+`","Protocol":"Redfish"}`, true)
	if res.status != http.StatusCreated {
		t.Fatalf("create: %d %s", res.status, res.body)
	}
	s.DropSubscriptions()
	if r := do(t, s, http.MethodGet, res.header.Get("Location"), "", true); r.status != http.StatusNotFound {
		t.Errorf("GET of a dropped subscription: %d, want 404", r.status)
	}
	if st := s.EventStats(); st.Subscriptions != 0 {
		t.Errorf("%d subscriptions after DropSubscriptions", st.Subscriptions)
	}
}

// TestSSEOnly: a NoPush emulator has an EventService with an SSE stream but no Subscriptions
// collection, and refuses to create one.
func TestSSEOnly(t *testing.T) {
	s, _ := startServer(t, func(c *Config) { c.NoPush = true })
	es := do(t, s, http.MethodGet, pathEventService, "", true).json(t)
	if _, ok := es["Subscriptions"]; ok || es["ServerSentEventUri"] == nil {
		t.Errorf("an SSE-only EventService = %v", es)
	}
	if r := do(t, s, http.MethodPost, pathSubscriptions, `{"Destination":"https://127.0.0.1:1/","Protocol":"Redfish"}`, true); r.status != http.StatusNotFound {
		t.Errorf("POST %s on an SSE-only BMC: %d, want 404", pathSubscriptions, r.status)
	}
}
