package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// FuzzEventsQuery feeds arbitrary queries to GET /v1/events: the server must never panic, and
// must answer 200 with a JSON list (or an event stream) or 400 with a JSON error.
func FuzzEventsQuery(f *testing.F) {
	for _, seed := range []string{
		"", "after=1", "after=abc", "limit=-1", "limit=1000", "limit=1001", "after=2&limit=3",
		"follow=true", "follow=1&after=5", "follow=true&limit=1", "after=%zz", "after=1&after=2",
		"x=y", "after=18446744073709551615", "after=18446744073709551616", ";", "&&&", "limit=+5",
	} {
		f.Add(seed)
	}
	h, err := NewServer(newFake(), ServerOptions{})
	if err != nil {
		f.Fatal(err)
	}
	// A canceled context ends a follow stream at once instead of waiting for events.
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	f.Fuzz(func(t *testing.T, raw string) {
		q, perr := parseEventsQuery(raw)
		if perr == nil && (q.Limit < 1 || q.Limit > MaxEventsLimit) {
			t.Fatalf("%q: accepted limit %d", raw, q.Limit)
		}
		req := httptest.NewRequestWithContext(canceled, http.MethodGet, "/v1/events", nil)
		req.URL.RawQuery = raw
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch {
		case perr != nil:
			var eb errorBody
			if rec.Code != http.StatusBadRequest || json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Code != CodeBadRequest || eb.Error == "" {
				t.Fatalf("%q: %d %q, want a 400 JSON error", raw, rec.Code, rec.Body)
			}
		case q.Follow:
			if rec.Code != http.StatusOK && rec.Code != 0 {
				t.Fatalf("%q: follow answered %d", raw, rec.Code)
			}
		default:
			var evs []Event
			if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &evs) != nil || len(evs) > q.Limit {
				t.Fatalf("%q: %d %q", raw, rec.Code, rec.Body)
			}
		}
	})
}
