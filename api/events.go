package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Limits of GET /v1/events without follow.
const (
	// DefaultEventsLimit is the number of events returned when the query has no limit.
	DefaultEventsLimit = 100
	// MaxEventsLimit is the largest limit accepted.
	MaxEventsLimit = 1000
)

// followBatch is how many events the stream reads from the Backend at a time.
const followBatch = 256

// eventsQuery is the parsed query of GET /v1/events.
type eventsQuery struct {
	After  uint64
	Limit  int
	Follow bool
	// Audit keeps only the audit trail (IsAudit).
	Audit bool
}

// AuditKinds are the journal kinds of the audit trail: API calls that change something
// ("audit"), and the daemon's own decisions and actions.
var AuditKinds = []string{"audit", "decision", "action"}

// IsAudit reports whether an event belongs to the audit trail.
func IsAudit(e Event) bool {
	for _, k := range AuditKinds {
		if e.Kind == k {
			return true
		}
	}
	return false
}

// parseEventsQuery parses the raw query of GET /v1/events; errors name the parameter at fault.
func parseEventsQuery(raw string) (eventsQuery, error) {
	q := eventsQuery{Limit: DefaultEventsLimit}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("query: %w", err)
	}
	hasLimit := false
	for key, vs := range vals {
		if len(vs) != 1 {
			return q, fmt.Errorf("query parameter %q given %d times: want it once", key, len(vs))
		}
		v := vs[0]
		switch key {
		case "after":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return q, fmt.Errorf("after %q: want a non-negative integer, the sequence number of the last event seen", v)
			}
			q.After = n
		case "limit":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > MaxEventsLimit {
				return q, fmt.Errorf("limit %q: want an integer from 1 to %d", v, MaxEventsLimit)
			}
			q.Limit, hasLimit = n, true
		case "follow":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return q, fmt.Errorf("follow %q: want true or false", v)
			}
			q.Follow = b
		case "audit":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return q, fmt.Errorf("audit %q: want true or false", v)
			}
			q.Audit = b
		default:
			return q, fmt.Errorf("unknown query parameter %q: want after, limit, follow or audit", key)
		}
	}
	if q.Follow && hasLimit {
		return q, errors.New("limit does not apply with follow=true: the stream holds every event after 'after'")
	}
	return q, nil
}

// handleEvents serves GET /v1/events: a JSON list, or with follow=true an NDJSON stream.
func (s *server) handleEvents(w http.ResponseWriter, r *http.Request) {
	q, err := parseEventsQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	if q.Follow {
		if s.streams.Add(1) > MaxEventStreams {
			s.streams.Add(-1)
			writeError(w, http.StatusServiceUnavailable, CodeInternal,
				fmt.Sprintf("too many event streams open (at most %d): try again later", MaxEventStreams))
			return
		}
		defer s.streams.Add(-1)
		s.followEvents(w, r, q.After, q.Audit)
		return
	}
	evs, err := s.events(r, q)
	if err != nil {
		s.backendError(w, r, "events", err)
		return
	}
	if evs == nil {
		evs = []Event{}
	}
	if len(evs) > q.Limit {
		evs = evs[:q.Limit]
	}
	s.writeJSON(w, r, evs)
}

// events reads the events a non-following query asks for; with Audit it reads on until it has
// Limit audit events or the journal ends.
func (s *server) events(r *http.Request, q eventsQuery) ([]Event, error) {
	if !q.Audit {
		return s.b.Events(r.Context(), q.After, q.Limit)
	}
	var out []Event
	after := q.After
	for len(out) < q.Limit {
		evs, err := s.b.Events(r.Context(), after, MaxEventsLimit)
		if err != nil {
			return nil, err
		}
		progressed := false
		for _, e := range evs {
			if e.Seq <= after {
				continue
			}
			after, progressed = e.Seq, true
			if IsAudit(e) && len(out) < q.Limit {
				out = append(out, e)
			}
		}
		if !progressed || len(evs) < MaxEventsLimit {
			break
		}
	}
	return out, nil
}

// followEvents streams every event (with audit, every audit event) with Seq > after as NDJSON, one event a line, flushing each
// batch, until the client goes away. A Backend failure after the stream has started ends it with
// one error line, {"error": "...", "code": "internal"}.
func (s *server) followEvents(w http.ResponseWriter, r *http.Request, after uint64, audit bool) {
	ctx := r.Context()
	// The first read happens before the status is sent, so that a failing Backend gets a proper
	// error response.
	evs, err := s.b.Events(ctx, after, followBatch)
	if err != nil {
		s.backendError(w, r, "events", err)
		return
	}
	rc := http.NewResponseController(w)
	// A stream outlives the http.Server's read and write timeouts; the client ends it, and
	// MaxEventStreams bounds how many there are.
	if err := rc.SetWriteDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.Warn("api: event stream: clear write deadline", "err", err)
	}
	if err := rc.SetReadDeadline(time.Time{}); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.Warn("api: event stream: clear read deadline", "err", err)
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	for {
		progressed := false
		for _, e := range evs {
			if e.Seq <= after {
				continue // never send an event twice or out of order
			}
			if !audit || IsAudit(e) {
				if err := enc.Encode(e); err != nil {
					return // the client went away
				}
			}
			after, progressed = e.Seq, true
		}
		if err := rc.Flush(); err != nil {
			return
		}
		if len(evs) < followBatch || !progressed {
			if err := s.b.WaitEvents(ctx, after); err != nil {
				if ctx.Err() == nil {
					s.streamError(enc, r, err)
				}
				return
			}
		}
		if evs, err = s.b.Events(ctx, after, followBatch); err != nil {
			if ctx.Err() == nil {
				s.streamError(enc, r, err)
			}
			return
		}
	}
}

// streamError ends an event stream with an error line.
func (s *server) streamError(enc *json.Encoder, r *http.Request, err error) {
	s.log.Error("api: event stream: backend failed", "path", r.URL.Path, "err", err)
	_ = enc.Encode(errorBody{Error: fmt.Sprintf("events: %v", err), Code: CodeInternal})
}
