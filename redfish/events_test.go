package redfish

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// watcher runs WatchEvents in the background and collects what it reports.
type watcher struct {
	events chan Event
	states chan StreamState
	done   chan error
	cancel context.CancelFunc
}

// watch starts c.WatchEvents with short backoffs; it stops when the test ends.
func watch(t *testing.T, c *Client, idle time.Duration) *watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w := &watcher{events: make(chan Event, 64), states: make(chan StreamState, 64), done: make(chan error, 1), cancel: cancel}
	go func() {
		w.done <- c.WatchEvents(ctx, WatchOptions{
			OnEvent: func(ev Event) { w.events <- ev }, OnState: func(s StreamState) { w.states <- s },
			IdleTimeout: idle, MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-w.done; !errors.Is(err, context.Canceled) {
			t.Errorf("WatchEvents ended with %v, want context.Canceled", err)
		}
	})
	return w
}

// state waits for the next stream state.
func (w *watcher) state(t *testing.T) StreamState {
	t.Helper()
	select {
	case s := <-w.states:
		return s
	case err := <-w.done:
		t.Fatalf("WatchEvents ended: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("no stream state change")
	}
	return StreamState{}
}

// waitUp waits until the stream is up, skipping the failures before.
func (w *watcher) waitUp(t *testing.T) {
	t.Helper()
	for !w.state(t).Up {
	}
}

// event waits for the next event.
func (w *watcher) event(t *testing.T) Event {
	t.Helper()
	select {
	case ev := <-w.events:
		return ev
	case <-time.After(time.Minute):
		t.Fatal("no event")
	}
	return Event{}
}

// eventClient is a client of s, closed when the test ends.
func eventClient(t *testing.T, s *bmc.Server, trust Trust, timeout time.Duration) *Client {
	t.Helper()
	c, err := New(s.URL(), "h1", Credentials{"admin", "pw"}, trust, timeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// pinned is a trust that accepts s's certificate only.
func pinned(s *bmc.Server) Trust {
	sum := sha256.Sum256(s.Certificate().Raw)
	return Trust{PinnedSHA256: hex.EncodeToString(sum[:])}
}

// TestWatchEventsPowerLoss: the client opens the BMC's SSE stream over the pinned TLS trust
// and its session token, and a power loss arrives as an event about the watched system.
func TestWatchEventsPowerLoss(t *testing.T) {
	s, p := startBMC(t)
	c := eventClient(t, s, pinned(s), 2*time.Second)
	if _, err := c.Status(context.Background()); err != nil {
		t.Fatal(err)
	}
	w := watch(t, c, 0)
	w.waitUp(t)

	p.mu.Lock()
	p.state = bmc.PowerOff // the plug is pulled; the lab tells the BMC
	p.mu.Unlock()
	s.PowerChanged()
	ev := w.event(t)
	if ev.Origin != "/redfish/v1/Systems/h1" || ev.MessageID != "ResourceEvent.1.0.ResourceChanged" || ev.ID != "1" ||
		ev.Type != "ResourceUpdated" || !strings.Contains(ev.Message, "Off") || !c.AboutSystem(ev) {
		t.Errorf("event %+v", ev)
	}
	if c.AboutSystem(Event{Origin: "/redfish/v1/Systems/h2"}) {
		t.Error("an event about another system counts as about h1")
	}
	if st := s.Stats(); st.BasicAuth != 0 || st.SessionsCreated != 1 {
		t.Errorf("the stream should use the client's one session: %+v", st)
	}
}

// TestWatchEventsReconnects: when the BMC ends the stream, the client reports it down,
// reconnects, and receives the next event.
func TestWatchEventsReconnects(t *testing.T) {
	s, _ := startBMC(t)
	c := eventClient(t, s, Trust{Insecure: true}, 2*time.Second)
	w := watch(t, c, 0)
	w.waitUp(t)
	s.DropEventStreams()
	if st := w.state(t); st.Up || st.Err == nil || !strings.Contains(st.Err.Error(), "ended") {
		t.Fatalf("after the drop: %+v, want down because the BMC ended it", st)
	}
	w.waitUp(t)
	s.SetHealth(bmc.HealthWarning, "fan 2")
	if ev := w.event(t); ev.MessageID != "ResourceEvent.1.0.ResourceStatusChangedWarning" || ev.Severity != "Warning" {
		t.Errorf("event after reconnect: %+v", ev)
	}
}

// TestWatchEventsLogsInAgain: a stream refused because the BMC forgot the session (it
// expired) makes the client log in again and reconnect.
func TestWatchEventsLogsInAgain(t *testing.T) {
	clk := &clock{t: time.Unix(1e9, 0)}
	s := startSessionBMC(t, clk, false)
	c := eventClient(t, s, Trust{Insecure: true}, 2*time.Second)
	w := watch(t, c, 0)
	w.waitUp(t)
	clk.add(2 * time.Minute) // the session expires
	s.DropEventStreams()
	var refused bool
	for st := w.state(t); !st.Up; st = w.state(t) {
		refused = refused || errors.Is(st.Err, ErrUnauthorized)
	}
	if !refused {
		t.Error("the stale session was never refused")
	}
	if st := s.Stats(); st.SessionsCreated != 2 || st.SessionsExpired != 1 {
		t.Errorf("want a second login after the expiry: %+v", st)
	}
}

// TestWatchEventsIdleTimeout: a BMC that stops answering leaves the stream silent; the idle
// timeout ends it, and the client reconnects once the BMC is back.
func TestWatchEventsIdleTimeout(t *testing.T) {
	s, _ := startBMC(t)
	c := eventClient(t, s, Trust{Insecure: true}, 500*time.Millisecond)
	w := watch(t, c, 200*time.Millisecond)
	w.waitUp(t)
	s.SetDown(true)
	if st := w.state(t); st.Up || !errors.Is(st.Err, context.DeadlineExceeded) {
		t.Fatalf("after the BMC died: %+v, want down, silent", st)
	}
	s.SetDown(false)
	w.waitUp(t)
}

// TestWatchEventsNoEventService: a BMC without an EventService makes WatchEvents return
// ErrNoEventService at once; polling still works.
func TestWatchEventsNoEventService(t *testing.T) {
	s, err := bmc.New(bmc.Config{SystemID: "h1", Username: "admin", Password: "pw", Power: &fakePower{state: bmc.PowerOn}, NoEventService: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := eventClient(t, s, Trust{Insecure: true}, 2*time.Second)
	var states int
	err = c.WatchEvents(context.Background(), WatchOptions{OnState: func(StreamState) { states++ }})
	if !errors.Is(err, ErrNoEventService) {
		t.Fatalf("WatchEvents: %v, want ErrNoEventService", err)
	}
	if states != 0 {
		t.Errorf("%d stream states reported for a BMC without a stream", states)
	}
	if st, err := c.Status(context.Background()); err != nil || st.Power != "on" {
		t.Errorf("polling after the fallback: %+v %v", st, err)
	}
}

func TestReadSSE(t *testing.T) {
	in := ": hello\n\nid: 7\ndata: {\"a\":\ndata: 1}\nevent: x\n\n:\r\nid: 8\r\ndata:{}\r\n\r\ndata: tail-without-blank-line"
	type msg struct{ id, data string }
	var got []msg
	alive := 0
	err := readSSE(strings.NewReader(in), func() { alive++ }, func(id, data string) error {
		got = append(got, msg{id, data})
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("end: %v, want EOF", err)
	}
	want := []msg{{"7", "{\"a\":\n1}"}, {"8", "{}"}}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("messages %q, want %q", got, want)
	}
	if alive != 12 {
		t.Errorf("alive called %d times, want once per line (12)", alive)
	}
	if _, err := decodeEvents("1", "not json"); !errors.Is(err, ErrBadAnswer) {
		t.Errorf("decode of garbage: %v, want ErrBadAnswer", err)
	}
}

// TestWatchEventsAfterLogout: a logout (a fence check ending its session) ends the stream the
// session carried; the client logs in again and reopens it.
func TestWatchEventsAfterLogout(t *testing.T) {
	s, _ := startBMC(t)
	c := eventClient(t, s, Trust{Insecure: true}, 2*time.Second)
	w := watch(t, c, 0)
	w.waitUp(t)
	c.Logout(context.Background())
	if st := w.state(t); st.Up {
		t.Fatal("the stream stayed up after its session was deleted")
	}
	w.waitUp(t)
	if st := s.Stats(); st.SessionsCreated != 2 || st.SessionsOpen != 1 {
		t.Errorf("want one new login for the reopened stream: %+v", st)
	}
}
