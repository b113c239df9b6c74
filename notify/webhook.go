// Package notify delivers lifeboat's notifications (failovers, fences, stuck VMs, freezes) to a
// webhook as JSON, signed with HMAC-SHA256 over an id, a timestamp and the body (the Standard
// Webhooks convention), with retries.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/secret"
)

// Notification is one message to people.
type Notification struct {
	Kind    string    `json:"kind"`
	At      time.Time `json:"at"`
	Cluster string    `json:"cluster,omitempty"`
	Host    string    `json:"host,omitempty"`
	VM      string    `json:"vm,omitempty"`
	Message string    `json:"message"`
}

// The Standard Webhooks headers (https://www.standardwebhooks.com) every signed delivery carries.
const (
	// IDHeader carries the notification's id, the same for every retry of one notification, so
	// a receiver can drop duplicates.
	IDHeader = "webhook-id"
	// TimestampHeader carries the time of the delivery attempt, in Unix seconds.
	TimestampHeader = "webhook-timestamp"
	// SignatureHeader carries "v1," and the base64 HMAC-SHA256, under the shared key, of
	// "ID.TIMESTAMP.BODY". A receiver recomputes it, compares in constant time, and refuses a
	// timestamp more than a few minutes from its clock (so a captured delivery cannot be
	// replayed later) and an id it has seen.
	SignatureHeader = "webhook-signature"
)

// secretPrefix starts a key in the Standard Webhooks form, whsec_ and base64.
const secretPrefix = "whsec_"

// Webhook posts notifications to a URL from a queue, retrying failed deliveries.
type Webhook struct {
	url    string
	key    []byte // the HMAC key; nil: deliveries are not signed
	client *http.Client
	queue  chan Notification
	log    *slog.Logger
	// Retries is how many times a delivery is retried after the first try (backoff doubling
	// from one second).
	Retries int
	// Metrics counts failed deliveries (nil: not counted).
	Metrics *Metrics
	// Now is the clock the timestamps come from (time.Now unless a test sets it).
	Now func() time.Time
}

// NewWebhook makes a webhook. secretFile holds the signing key (see ParseKey); an empty
// secretFile means unsigned deliveries, while a secret file that is empty, or readable by
// others, is an error.
func NewWebhook(url, secretFile string, log *slog.Logger) (*Webhook, error) {
	w := &Webhook{url: url, client: &http.Client{Timeout: 5 * time.Second}, queue: make(chan Notification, 256), log: log, Retries: 3, Now: time.Now}
	if secretFile != "" {
		s, err := secret.ReadString(secretFile)
		if err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		if w.key, err = ParseKey(s); err != nil {
			return nil, fmt.Errorf("notify: secret file %s: %w", secretFile, err)
		}
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	return w, nil
}

// ParseKey turns the secret file's text into the HMAC key: a key in the Standard Webhooks form
// (whsec_ followed by base64, as their libraries generate) is the decoded bytes, so those
// libraries verify lifeboat's deliveries as they are; any other text is the key as it is.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("the signing key is empty")
	}
	if rest, ok := strings.CutPrefix(s, secretPrefix); ok {
		key, err := base64.StdEncoding.DecodeString(rest)
		if err != nil || len(key) == 0 {
			return nil, errors.New("a key starting with whsec_ must continue in base64")
		}
		return key, nil
	}
	return []byte(s), nil
}

// Sign returns the webhook-signature header value for a delivery: "v1," and the base64
// HMAC-SHA256 of "id.timestamp.body" under key.
func Sign(key []byte, id string, timestamp int64, body []byte) string {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, timestamp)
	m.Write(body)
	return "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Verify checks a delivery's headers against key, as a receiver should: the signature (in
// constant time), and a timestamp within tolerance of now. It is the reference for receivers
// written in Go.
func Verify(key []byte, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	id, ts := h.Get(IDHeader), h.Get(TimestampHeader)
	if id == "" || ts == "" || h.Get(SignatureHeader) == "" {
		return errors.New("missing webhook-id, webhook-timestamp or webhook-signature")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("webhook-timestamp %q is not Unix seconds", ts)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("webhook-timestamp is %s away from now (tolerance %s): a replay or a wrong clock", d.Round(time.Second), tolerance)
	}
	want := Sign(key, id, sec, body)
	for _, sig := range strings.Fields(h.Get(SignatureHeader)) {
		if hmac.Equal([]byte(sig), []byte(want)) {
			return nil
		}
	}
	return errors.New("no webhook-signature matches")
}

// newID returns a random notification id, "msg_" and 32 hex digits.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "msg_" + hex.EncodeToString(b[:])
}

// Notify queues a notification without blocking; when the queue is full it is dropped and logged.
func (w *Webhook) Notify(n Notification) {
	select {
	case w.queue <- n:
	default:
		w.Metrics.failed(StageQueueFull)
		w.log.Error("notification dropped: the webhook queue is full", "kind", n.Kind, "message", n.Message)
	}
}

// Run delivers queued notifications until ctx ends.
func (w *Webhook) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case n := <-w.queue:
			if err := w.deliver(ctx, n); err != nil {
				if ctx.Err() == nil {
					w.Metrics.failed(StageFinal)
				}
				w.log.Error("notification not delivered", "kind", n.Kind, "err", err)
			}
		}
	}
}

// deliver posts one notification, retrying with backoff.
func (w *Webhook) deliver(ctx context.Context, n Notification) error {
	body, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("notify: encode: %w", err)
	}
	id := newID()
	backoff := time.Second
	var last error
	for try := 0; try <= w.Retries; try++ {
		if try > 0 {
			w.Metrics.failed(StageRetry)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff *= 2
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("notify: %w", err)
		}
		req.Header.Set("Content-Type", "application/json")
		if w.key != nil {
			ts := w.Now().Unix()
			req.Header.Set(IDHeader, id)
			req.Header.Set(TimestampHeader, strconv.FormatInt(ts, 10))
			req.Header.Set(SignatureHeader, Sign(w.key, id, ts, body))
		}
		resp, err := w.client.Do(req)
		if err != nil {
			last = err
			continue
		}
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			return nil
		}
		last = fmt.Errorf("webhook answered %s", resp.Status)
	}
	return fmt.Errorf("notify: %d tries: %w", w.Retries+1, last)
}
