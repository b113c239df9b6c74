// Package notify delivers lifeboat's notifications (failovers, fences, stuck VMs, freezes) to a
// webhook as JSON, signed with HMAC-SHA256, with retries.
package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
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

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the body under the shared secret.
const SignatureHeader = "X-Lifeboat-Signature"

// Webhook posts notifications to a URL from a queue, retrying failed deliveries.
type Webhook struct {
	url    string
	secret []byte
	client *http.Client
	queue  chan Notification
	log    *slog.Logger
	// Retries is how many times a delivery is retried after the first try (backoff doubling
	// from one second).
	Retries int
	// Metrics counts failed deliveries (nil: not counted).
	Metrics *Metrics
}

// NewWebhook makes a webhook; secretFile may be empty (unsigned).
func NewWebhook(url, secretFile string, log *slog.Logger) (*Webhook, error) {
	w := &Webhook{url: url, client: &http.Client{Timeout: 5 * time.Second}, queue: make(chan Notification, 256), log: log, Retries: 3}
	if secretFile != "" {
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return nil, fmt.Errorf("notify: secret file: %w", err)
		}
		w.secret = []byte(strings.TrimSpace(string(b)))
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	return w, nil
}

// Sign returns the signature header value for a body.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
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
		if len(w.secret) > 0 {
			req.Header.Set(SignatureHeader, Sign(w.secret, body))
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
