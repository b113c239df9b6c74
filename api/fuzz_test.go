package api

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
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

// FuzzDecodeBody feeds arbitrary request bodies to decodeOne: it never panics, and what it
// accepts is exactly one JSON value of the request type with nothing but white space after.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		``, `{}`, `{"reason":"x"}`, `{"reason":"x"} {}`, `{"reason":"x"}x`, `{"reason":1}`, `[]`, `null`,
		`{"reason":"x","extra":1}`, "{\"reason\":\"\\u001b\"}\n", `{"reason":"x"}` + "\t\r\n ", `{"reason":"x"}/`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req DegradeRequest
		if err := decodeOne(b, &req); err != nil {
			return
		}
		if !json.Valid(b) {
			t.Fatalf("accepted %q, which is not one JSON value", b)
		}
	})
}

// FuzzAlertmanager posts arbitrary bodies to the Alertmanager receiver: it never panics, answers
// 200 or a 4xx JSON error, and whatever it hands the backend names a known host and carries no
// control characters and no text over the limit.
func FuzzAlertmanager(f *testing.F) {
	f.Add(amJSON(amAlertJSON("firing", "NodeDown", "h1:9100", "critical", "fp1", map[string]string{"summary": "down"})))
	f.Add(amJSON(amAlertJSON("resolved", "X", "10.0.0.3:9100", "warning", "", nil)))
	f.Add(amJSON(amAlertJSON("firing", "Evil\x1b[2J", "h2", "critical", "fp\n2", map[string]string{"summary": "a\nforged line"})))
	f.Add(`{"version":"4","alerts":[{"status":"firing","labels":{"instance":"[::1]:9100"}}]}`)
	f.Add(`{"version":"4","alerts":[]} trailing`)
	f.Add(`{"version":"3"}`)
	af := &alertFake{fakeBackend: newFake()}
	h, err := NewServer(af, ServerOptions{Alerts: &AlertOptions{
		Token: alertToken, Hosts: map[string]string{"10.0.0.3:9100": "h3"}, Known: []string{"h1", "h2", "h3"},
	}})
	if err != nil {
		f.Fatal(err)
	}
	known := map[string]bool{"h1": true, "h2": true, "h3": true}
	f.Fuzz(func(t *testing.T, body string) {
		before := len(af.calls())
		req := httptest.NewRequest(http.MethodPost, AlertmanagerPath, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+alertToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		calls := af.calls()
		if rec.Code != http.StatusOK {
			var eb errorBody
			if rec.Code < 400 || rec.Code >= 500 || json.Unmarshal(rec.Body.Bytes(), &eb) != nil || eb.Error == "" {
				t.Fatalf("%q: %d %q, want 200 or a 4xx JSON error", body, rec.Code, rec.Body)
			}
			if len(calls) != before {
				t.Fatalf("%q: refused with %d, but the backend got alerts", body, rec.Code)
			}
			return
		}
		for _, c := range calls[before:] {
			for _, o := range c {
				if !known[o.Host] {
					t.Fatalf("%q: an alert for unknown host %q reached the backend", body, o.Host)
				}
				for _, s := range []string{o.Name, o.Summary, o.Fingerprint} {
					if CheckText("alert text", s, MaxAlertTextLen+1) != nil {
						t.Fatalf("%q: unsafe alert text %q reached the backend", body, s)
					}
				}
			}
		}
	})
}

// FuzzPrintable: Printable never lets a control or format character through, and leaves text
// without them alone.
func FuzzPrintable(f *testing.F) {
	for _, seed := range []string{"", "plain", "a\nb", "\x1b[31m", "\u202e", "\xff", "tab\t", "\u0085"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := Printable(s)
		if err := CheckText("printable", p, len(p)+1); err != nil {
			t.Fatalf("Printable(%q) = %q: %v", s, p, err)
		}
		if CheckText("s", s, len(s)+1) == nil && p != s {
			t.Fatalf("Printable(%q) changed safe text to %q", s, p)
		}
		if c := SanitizeText(s, 50); CheckText("sanitized", c, 51) != nil {
			t.Fatalf("SanitizeText(%q) = %q is not safe", s, c)
		}
	})
}

// FuzzParseUsers: the users file parser never panics, and what it accepts has valid names,
// roles and hashes.
func FuzzParseUsers(f *testing.F) {
	f.Add("alice operator sha256:" + strings.Repeat("ab", 32) + "\n# c\n\nbob viewer sha256:" + strings.Repeat("01", 32))
	f.Add("alice operator")
	f.Add("x admin sha256:")
	f.Fuzz(func(t *testing.T, body string) {
		us, err := ParseUsers([]byte(body))
		if err != nil {
			return
		}
		for _, u := range us.list {
			if CheckUserName(u.Name) != nil || u.Role < RoleViewer || u.Role > RoleAdmin {
				t.Fatalf("%q: accepted %+v", body, u)
			}
		}
	})
}

// FuzzAuthorizationHeader: whatever the Authorization header holds, the server answers 401
// unless it is exactly a configured token, and never panics.
func FuzzAuthorizationHeader(f *testing.F) {
	us, err := ParseUsers([]byte("otto operator sha256:" + strings.Repeat("ab", 32)))
	if err != nil {
		f.Fatal(err)
	}
	h, err := NewServer(newFake(), ServerOptions{Token: "admin-token", Users: us})
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{"", "Bearer admin-token", "bearer admin-token", "Bearer  admin-token ", "Basic YWRtaW4=", "Bearer", "Bearer ", "admin-token", "Bearer admin-tokenx", "Bearer \x00"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, header string) {
		req := httptest.NewRequest(http.MethodGet, "/v1/status", nil)
		req.Header["Authorization"] = []string{header}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		scheme, tok, _ := strings.Cut(header, " ")
		valid := strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(tok) == "admin-token"
		if valid != (rec.Code == http.StatusOK) || (!valid && rec.Code != http.StatusUnauthorized) {
			t.Fatalf("Authorization %q: %d", header, rec.Code)
		}
	})
}

// FuzzFollowEventsStream feeds arbitrary stream bodies to the client's event stream decoder: it
// never panics, and a stream that ends (or holds garbage, or an error line) ends with an error
// rather than hanging or passing for a normal end.
func FuzzFollowEventsStream(f *testing.F) {
	f.Add("{\"seq\":1,\"at\":\"2025-03-14T09:26:53Z\",\"kind\":\"verdict\",\"message\":\"x\"}\n")
	f.Add("{\"error\":\"events: boom\",\"code\":\"internal\"}\n")
	f.Add("{\"seq\":1}\n{\"seq\":\n")
	f.Add("not json")
	f.Add("")
	f.Fuzz(func(t *testing.T, body string) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/x-ndjson")
			_, _ = w.Write([]byte(body))
		}))
		defer srv.Close()
		c, err := NewClient(srv.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = c.FollowEvents(t.Context(), 0, func(Event) error { n++; return nil })
		if err == nil {
			t.Fatalf("%q: the stream ended without an error after %d events", body, n)
		}
	})
}
