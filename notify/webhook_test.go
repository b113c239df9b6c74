package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWebhookSignsAndRetries(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	var calls atomic.Int32
	got := make(chan Notification, 1)
	ids := make(chan string, 2)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ids <- r.Header.Get(IDHeader)
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if err := Verify([]byte("s3cret"), r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var n Notification
		json.Unmarshal(body, &n)
		got <- n
	}))
	defer srv.Close()
	w, err := NewWebhook(srv.URL, secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	w.Notify(Notification{Kind: "fence", Host: "h1", Message: "h1 fenced", At: time.Now()})
	select {
	case n := <-got:
		if n.Kind != "fence" || n.Host != "h1" {
			t.Fatalf("got %+v", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("not delivered after a retry")
	}
	if calls.Load() != 2 {
		t.Fatalf("%d calls, want 2 (one failure, one retry)", calls.Load())
	}
	if a, b := <-ids, <-ids; a == "" || a != b {
		t.Fatalf("webhook-id %q then %q: want one id for a notification and its retries", a, b)
	}
}

// TestSignMatchesStandardWebhooks checks Sign and ParseKey against the test vector of the
// Standard Webhooks reference libraries, so their verifiers accept lifeboat's deliveries.
func TestSignMatchesStandardWebhooks(t *testing.T) {
	key, err := ParseKey("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	if err != nil {
		t.Fatal(err)
	}
	got := Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, []byte(`{"test": 2432232314}`))
	if want := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

// TestVerifyRefusesReplaysAndForgeries: a delivery verifies within the tolerance, and not with a
// stale timestamp, a changed body, a changed id or another key.
func TestVerifyRefusesReplaysAndForgeries(t *testing.T) {
	key := []byte("s3cret")
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"kind":"fence"}`)
	h := http.Header{}
	h.Set(IDHeader, "msg_1")
	h.Set(TimestampHeader, "1800000000")
	h.Set(SignatureHeader, Sign(key, "msg_1", now.Unix(), body))
	if err := Verify(key, h, body, now.Add(time.Minute), 5*time.Minute); err != nil {
		t.Fatalf("a fresh delivery: %v", err)
	}
	if err := Verify(key, h, body, now.Add(time.Hour), 5*time.Minute); err == nil || !strings.Contains(err.Error(), "replay") {
		t.Errorf("replayed an hour later: %v", err)
	}
	if err := Verify(key, h, []byte(`{"kind":"none"}`), now, 5*time.Minute); err == nil {
		t.Error("a changed body verified")
	}
	if err := Verify([]byte("other"), h, body, now, 5*time.Minute); err == nil {
		t.Error("another key verified")
	}
	h.Set(IDHeader, "msg_2")
	if err := Verify(key, h, body, now, 5*time.Minute); err == nil {
		t.Error("a changed id verified")
	}
}

func TestNewWebhookRefusesBadSecrets(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		body string
		mode os.FileMode
		want string
	}{
		"empty":     {" \n", 0o600, "empty"},
		"exposed":   {"s3cret", 0o644, "mode 0644"},
		"bad-whsec": {"whsec_***", 0o600, "base64"},
	} {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(c.body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, c.mode); err != nil {
			t.Fatal(err)
		}
		if _, err := NewWebhook("http://127.0.0.1:1/", p, nil); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: %v, want an error naming %s and %q", name, err, p, c.want)
		}
	}
}
