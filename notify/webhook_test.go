package notify

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func TestWebhookSignsAndRetries(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("s3cret\n"), 0o600)
	var calls atomic.Int32
	got := make(chan Notification, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		if r.Header.Get(SignatureHeader) != Sign([]byte("s3cret"), body) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
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
}
