package redfish

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// ErrNoEventService means the BMC offers no Redfish event stream: no EventService, or one
// without a ServerSentEventUri, or one that is disabled. Poll it instead.
var ErrNoEventService = errors.New("the BMC offers no Redfish event stream (EventService.ServerSentEventUri)")

// Event is one record of a Redfish Event the BMC sent on its event stream. An event is a hint
// that something changed, never a verdict: read the system's Status to learn what.
type Event struct {
	// ID is the SSE message id (the Event resource's Id).
	ID string
	// Type is the record's EventType ("StatusChange", "ResourceUpdated", "Alert", ...).
	Type string
	// MessageID is the registry message, e.g. "ResourceEvent.1.0.ResourceChanged".
	MessageID string
	// Message is the human-readable text.
	Message string
	// Severity is the MessageSeverity (or the older Severity): "OK", "Warning", "Critical".
	Severity string
	// Origin is the @odata.id of the OriginOfCondition ("" if the BMC does not say).
	Origin string
}

// StreamState is a change of the event stream: up (connected, events flow) or down with the
// reason.
type StreamState struct {
	// Up is true once the stream is open.
	Up bool
	// Err says why the stream is down (nil while up).
	Err error
}

// WatchOptions configure WatchEvents.
type WatchOptions struct {
	// OnEvent receives each event, in order, on WatchEvents' goroutine: return quickly.
	OnEvent func(Event)
	// OnState receives each change of the stream's state, on WatchEvents' goroutine.
	OnState func(StreamState)
	// IdleTimeout ends a stream that carried nothing (no event, no heartbeat comment) for
	// that long, so a BMC that died silently is noticed; zero waits for ever.
	IdleTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnections (doubling, with
	// jitter); zero means 500 ms and 30 s.
	MinBackoff, MaxBackoff time.Duration
}

// sseTarget is where and how to open the event stream.
type sseTarget struct {
	url   string
	token string // X-Auth-Token, or "" for basic auth
}

// WatchEvents subscribes to the BMC's event stream (Redfish Server-Sent Events, over the
// client's trusted TLS configuration and its session) and passes every event to
// opts.OnEvent until ctx is done. When the stream fails or the BMC ends it, it reconnects
// with backoff, logging in again if the BMC forgot the session. It returns ctx's error when
// ctx is done, or an error wrapping ErrNoEventService at once when the BMC offers no stream,
// so the caller polls instead.
func (c *Client) WatchEvents(ctx context.Context, opts WatchOptions) error {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 500 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(30*time.Second, opts.MinBackoff)
	}
	state := func(s StreamState) {
		if opts.OnState != nil {
			opts.OnState(s)
		}
	}
	failures := 0
	for {
		tgt, err := c.sseTarget(ctx)
		if errors.Is(err, ErrNoEventService) {
			return err
		}
		if err == nil {
			var delivered bool
			delivered, err = c.stream(ctx, tgt, opts, func() { state(StreamState{Up: true}) })
			if delivered {
				failures = 0
			}
			if errors.Is(err, ErrUnauthorized) {
				c.forgetSession(tgt.token) // the BMC forgot the session: log in anew
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		state(StreamState{Err: err})
		d := min(opts.MaxBackoff, opts.MinBackoff<<min(failures, 16))
		d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1)) //nolint:gosec // jitter, not a secret
		failures++
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// sseTarget logs in if need be and finds the event stream's URI (once; it is remembered).
func (c *Client) sseTarget(ctx context.Context) (sseTarget, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	api, err := c.login(ctx)
	if err != nil {
		return sseTarget{}, err
	}
	if c.sseURI == "" {
		uri, err := c.findSSE(ctx)
		if err != nil {
			return sseTarget{}, err
		}
		c.sseURI = uri
	}
	tgt := sseTarget{url: c.sseURI}
	if !strings.HasPrefix(tgt.url, "http://") && !strings.HasPrefix(tgt.url, "https://") {
		tgt.url = c.endpoint + tgt.url
	}
	if sess, err := api.GetSession(); err == nil {
		tgt.token = sess.Token
	}
	return tgt, nil
}

// findSSE reads the service root and the EventService for the ServerSentEventUri. Caller
// holds c.mu.
func (c *Client) findSSE(ctx context.Context) (string, error) {
	var root struct {
		EventService struct {
			ID string `json:"@odata.id"`
		}
	}
	if err := c.getJSON(ctx, "/redfish/v1/", &root); err != nil {
		return "", err
	}
	if root.EventService.ID == "" {
		return "", fmt.Errorf("redfish: %s: %w: the service root links no EventService", c.endpoint, ErrNoEventService)
	}
	var es struct {
		ServiceEnabled     *bool
		ServerSentEventURI string `json:"ServerSentEventUri"`
	}
	if err := c.getJSON(ctx, root.EventService.ID, &es); err != nil {
		if code := httpStatus(err); code == http.StatusNotFound || code == http.StatusNotImplemented {
			return "", fmt.Errorf("redfish: %s: %w: %w", c.endpoint, ErrNoEventService, err)
		}
		return "", err
	}
	switch {
	case es.ServiceEnabled != nil && !*es.ServiceEnabled:
		return "", fmt.Errorf("redfish: %s: %w: the EventService is disabled", c.endpoint, ErrNoEventService)
	case es.ServerSentEventURI == "":
		return "", fmt.Errorf("redfish: %s: %w: the EventService has no ServerSentEventUri (push only)", c.endpoint, ErrNoEventService)
	}
	return es.ServerSentEventURI, nil
}

// getJSON GETs path with the logged-in API client and decodes the answer. Caller holds c.mu.
func (c *Client) getJSON(ctx context.Context, path string, v any) error {
	resp, err := c.api.WithContext(ctx).Get(path)
	if err != nil {
		return fmt.Errorf("redfish: %s: GET %s: %w", c.endpoint, path, wrapStatus(err))
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("redfish: %s: GET %s: %w: %w", c.endpoint, path, ErrBadAnswer, err)
	}
	return nil
}

// forgetSession drops the session whose token the BMC refused, so the next request logs in
// again; a session replaced meanwhile is kept.
func (c *Client) forgetSession(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.api == nil {
		return
	}
	if sess, err := c.api.GetSession(); err != nil || sess.Token == token {
		c.api = nil
	}
}

// streamError is a refused stream request, with its HTTP status.
type streamError struct {
	status int
	msg    string
}

func (e *streamError) Error() string { return e.msg }

// stream opens the event stream and reads it until it ends, calling up once it is open. It
// reports whether any event came (the stream was worth keeping) and why it ended.
func (c *Client) stream(ctx context.Context, tgt sseTarget, opts WatchOptions, up func()) (bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, tgt.url, nil)
	if err != nil {
		return false, fmt.Errorf("redfish: %s: event stream: %w", c.endpoint, err)
	}
	req.Header.Set("Accept", "text/event-stream")
	if tgt.token != "" {
		req.Header.Set("X-Auth-Token", tgt.token)
	} else {
		req.SetBasicAuth(c.creds.Username, c.creds.Password)
	}
	resp, err := c.streamHTTP.Do(req)
	if err != nil {
		return false, fmt.Errorf("redfish: %s: event stream: %w", c.endpoint, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		se := &streamError{status: resp.StatusCode, msg: fmt.Sprintf("redfish: %s: event stream: HTTP %s", c.endpoint, resp.Status)}
		if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden {
			return false, fmt.Errorf("%w: %w", se, ErrUnauthorized)
		}
		return false, se
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		return false, fmt.Errorf("redfish: %s: event stream: %w: Content-Type %q", c.endpoint, ErrBadAnswer, ct)
	}
	up()
	var idle *time.Timer
	if opts.IdleTimeout > 0 {
		idle = time.AfterFunc(opts.IdleTimeout, cancel)
		defer idle.Stop()
	}
	delivered := false
	err = readSSE(resp.Body, func() {
		if idle != nil {
			idle.Reset(opts.IdleTimeout)
		}
	}, func(id, data string) error {
		evs, err := decodeEvents(id, data)
		if err != nil {
			return fmt.Errorf("redfish: %s: event stream: %w", c.endpoint, err)
		}
		delivered = true
		for _, ev := range evs {
			if opts.OnEvent != nil {
				opts.OnEvent(ev)
			}
		}
		return nil
	})
	switch {
	case err == nil || errors.Is(err, io.EOF):
		err = fmt.Errorf("redfish: %s: event stream: the BMC ended it", c.endpoint)
	case ctx.Err() != nil && opts.IdleTimeout > 0:
		err = fmt.Errorf("redfish: %s: event stream: silent for %s: %w", c.endpoint, opts.IdleTimeout, context.DeadlineExceeded)
	}
	return delivered, err
}

// maxSSELine bounds one line of the stream.
const maxSSELine = 1 << 20

// readSSE parses a text/event-stream: it calls alive for every line and msg for every message
// (its last id and its data lines joined by newlines), until the stream or msg fails.
func readSSE(r io.Reader, alive func(), msg func(id, data string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSSELine)
	var id string
	var data []string
	for sc.Scan() {
		alive()
		line := sc.Text()
		if line == "" {
			if len(data) > 0 {
				if err := msg(id, strings.Join(data, "\n")); err != nil {
					return err
				}
			}
			data = data[:0]
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue // a comment: a heartbeat
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		switch field {
		case "id":
			id = value
		case "data":
			data = append(data, value)
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return io.EOF
}

// rfEvent is the part of a Redfish Event resource lifeboat reads.
type rfEvent struct {
	ID     string `json:"Id"`
	Events []struct {
		EventType         string
		EventID           string `json:"EventId"`
		MessageID         string `json:"MessageId"`
		Message           string
		MessageSeverity   string
		Severity          string
		OriginOfCondition struct {
			ID string `json:"@odata.id"`
		}
	}
}

// decodeEvents decodes one SSE message's data, a Redfish Event, into its records.
func decodeEvents(id, data string) ([]Event, error) {
	var ev rfEvent
	if err := json.Unmarshal([]byte(data), &ev); err != nil {
		return nil, fmt.Errorf("%w: an event that is not a Redfish Event: %w", ErrBadAnswer, err)
	}
	return records(id, ev), nil
}

// records turns an Event resource's records into Events, each with the message id id (or the
// resource's Id when id is empty).
func records(id string, ev rfEvent) []Event {
	if id == "" {
		id = ev.ID
	}
	out := make([]Event, 0, len(ev.Events))
	for _, r := range ev.Events {
		sev := r.MessageSeverity
		if sev == "" {
			sev = r.Severity
		}
		out = append(out, Event{ID: id, Type: r.EventType, MessageID: r.MessageID, Message: r.Message,
			Severity: sev, Origin: r.OriginOfCondition.ID})
	}
	return out
}

// AboutSystem reports whether ev may concern the system the client watches: only an event
// whose origin is another ComputerSystem of the same BMC does not (one about the system, a
// resource below it, a chassis or no origin at all may).
func (c *Client) AboutSystem(ev Event) bool {
	c.mu.Lock()
	sys := c.sysPath
	c.mu.Unlock()
	if ev.Origin == "" || sys == "" {
		return true
	}
	o := strings.TrimSuffix(ev.Origin, "/")
	s := strings.TrimSuffix(sys, "/")
	return o == s || strings.HasPrefix(o, s+"/") || !strings.HasPrefix(o, "/redfish/v1/Systems/")
}
