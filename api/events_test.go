package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// within fails the test if cond does not hold within two seconds.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// streamLines GETs url and sends each line of the response body to the returned channel, which
// is closed when the body ends.
func streamLines(t *testing.T, ctx context.Context, url string) (*http.Response, <-chan string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	return resp, lines
}

// nextEvent reads one NDJSON line as an Event.
func nextEvent(t *testing.T, lines <-chan string) Event {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatal("the stream ended")
		}
		var e Event
		if err := json.Unmarshal([]byte(l), &e); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		return e
	case <-time.After(2 * time.Second):
		t.Fatal("no event within 2s")
	}
	return Event{}
}

func TestFollowStreamsInOrderAndStopsWhenTheClientGoes(t *testing.T) {
	f := newFake()
	h, err := NewServer(f, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	handlerDone := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		handlerDone <- struct{}{}
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	resp, lines := streamLines(t, ctx, srv.URL+"/v1/events?after=1&follow=true")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Fatalf("follow: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if e := nextEvent(t, lines); e.Seq != 2 || e.Message != "h2 failed" {
		t.Fatalf("first event %+v, want seq 2", e)
	}
	within(t, "the stream to wait for events", func() bool { return f.waiters() == 1 })
	go func() {
		for i := range 20 {
			f.add(Event{At: t0, Kind: "migration", VM: "web1", Message: "step " + string(rune('a'+i))})
		}
	}()
	for want := uint64(3); want <= 22; want++ {
		if e := nextEvent(t, lines); e.Seq != want {
			t.Fatalf("got seq %d, want %d", e.Seq, want)
		}
	}
	cancel()
	select {
	case <-handlerDone:
	case <-time.After(2 * time.Second):
		t.Fatal("the handler still streams after the client went away")
	}
	if n := f.waiters(); n != 0 {
		t.Errorf("%d WaitEvents calls left", n)
	}
}

func TestFollowSendsABacklogLargerThanABatch(t *testing.T) {
	f := newFake()
	for range 3*followBatch + 7 {
		f.add(Event{At: t0, Kind: "verdict", Host: "h1", Message: "flap"})
	}
	srv := serve(t, f, ServerOptions{})
	_, lines := streamLines(t, t.Context(), srv.URL+"/v1/events?follow=true")
	for want := uint64(1); want <= 3*followBatch+9; want++ {
		if e := nextEvent(t, lines); e.Seq != want {
			t.Fatalf("got seq %d, want %d", e.Seq, want)
		}
	}
}

func TestFollowOutlivesTheWriteTimeout(t *testing.T) {
	f := newFake()
	h, err := NewServer(f, ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Config.WriteTimeout = 100 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close) // after t.Context() is canceled, which ends the stream
	_, lines := streamLines(t, t.Context(), srv.URL+"/v1/events?after=2&follow=true")
	time.Sleep(300 * time.Millisecond)
	f.add(Event{At: t0, Kind: "fence", Host: "h2", Message: "fenced"})
	if e := nextEvent(t, lines); e.Seq != 3 {
		t.Fatalf("got %+v", e)
	}
}

func TestFollowEndsWithAnErrorLine(t *testing.T) {
	f := newFake()
	f.set(func(f *fakeBackend) { f.waitErr = errors.New("journal closed") })
	srv := serve(t, f, ServerOptions{})
	_, lines := streamLines(t, t.Context(), srv.URL+"/v1/events?after=0&follow=true")
	var got []string
	for l := range lines {
		got = append(got, l)
	}
	if len(got) != 3 || !strings.Contains(got[2], `"code":"internal"`) || !strings.Contains(got[2], "journal closed") {
		t.Fatalf("stream: %q", got)
	}

	c, err := NewClient(srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	err = c.FollowEvents(t.Context(), 0, func(Event) error { n++; return nil })
	var aerr *Error
	if !errors.As(err, &aerr) || !errors.Is(err, ErrInternal) || !strings.Contains(err.Error(), "journal closed") || n != 2 {
		t.Errorf("FollowEvents: %v after %d events", err, n)
	}
}
