package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// Events returns at most limit events with Seq > after, oldest first; limit 0 means the
// server's default (DefaultEventsLimit).
func (c *Client) Events(ctx context.Context, after uint64, limit int) ([]Event, error) {
	return c.events(ctx, after, limit, false)
}

// AuditEvents returns at most limit events of the audit trail (IsAudit) with Seq > after,
// oldest first.
func (c *Client) AuditEvents(ctx context.Context, after uint64, limit int) ([]Event, error) {
	return c.events(ctx, after, limit, true)
}

// events gets GET /v1/events.
func (c *Client) events(ctx context.Context, after uint64, limit int, audit bool) ([]Event, error) {
	q := url.Values{"after": {strconv.FormatUint(after, 10)}}
	if audit {
		q.Set("audit", "true")
	}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var evs []Event
	err := c.getJSON(ctx, "/v1/events", q, &evs)
	return evs, err
}

// streamLine is one line of the event stream: an event, or an error that ends the stream.
type streamLine struct {
	Event
	Error string `json:"error"`
	Code  string `json:"code"`
}

// FollowEvents calls fn with every event with Seq > after, oldest first, as the daemon journals
// them, until ctx ends (it then returns ctx.Err()), fn returns an error (returned as is), or the
// stream breaks.
func (c *Client) FollowEvents(ctx context.Context, after uint64, fn func(Event) error) error {
	return c.follow(ctx, after, false, fn)
}

// FollowAuditEvents is FollowEvents for the audit trail only (IsAudit).
func (c *Client) FollowAuditEvents(ctx context.Context, after uint64, fn func(Event) error) error {
	return c.follow(ctx, after, true, fn)
}

// follow reads the event stream.
func (c *Client) follow(ctx context.Context, after uint64, audit bool, fn func(Event) error) error {
	q := url.Values{"after": {strconv.FormatUint(after, 10)}, "follow": {"true"}}
	if audit {
		q.Set("audit", "true")
	}
	resp, err := c.get(ctx, "/v1/events", q)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	dec := json.NewDecoder(resp.Body)
	for {
		var line streamLine
		if err := dec.Decode(&line); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("the event stream from the lifeboat daemon at %s broke after event %d: %w", c.base, after, err)
		}
		if line.Error != "" {
			return &Error{Status: http.StatusInternalServerError, Code: line.Code, Message: line.Error}
		}
		if line.Seq <= after {
			continue
		}
		after = line.Seq
		if err := fn(line.Event); err != nil {
			return err
		}
	}
}
