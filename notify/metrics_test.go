package notify

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A webhook that always fails counts one retry per extra try and one final failure; a full
// queue counts a drop.
func TestWebhookCountsFailures(t *testing.T) {
	tries := make(chan struct{}, 8)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		tries <- struct{}{}
		http.Error(w, "down", http.StatusInternalServerError)
	}))
	defer srv.Close()
	reg := prometheus.NewRegistry()
	w, err := NewWebhook(srv.URL, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Retries = 1
	w.Metrics = NewMetrics(reg)
	if err := w.deliver(context.Background(), Notification{Kind: "fence_failed", At: time.Now(), Message: "m"}); err == nil {
		t.Fatal("delivery to a failing webhook succeeded")
	}
	if len(tries) != 2 {
		t.Fatalf("%d tries, want 2", len(tries))
	}
	// Run counts the final failure; drive it with a queued notification and a full queue.
	w.Retries = 0
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	w.queue = make(chan Notification, 1)
	w.Notify(Notification{Kind: "a", Message: "first"})
	w.Notify(Notification{Kind: "b", Message: "dropped"})
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	<-tries
	<-tries
	want := `
# HELP lifeboat_webhook_failures_total Failed webhook deliveries, by stage: retry (a try failed, another follows), final (given up after the last try), queue_full (dropped unsent).
# TYPE lifeboat_webhook_failures_total counter
lifeboat_webhook_failures_total{stage="final"} 1
lifeboat_webhook_failures_total{stage="queue_full"} 1
lifeboat_webhook_failures_total{stage="retry"} 1
`
	// The final failure is counted just after the last try answers: poll until it shows.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := testutil.GatherAndCompare(reg, strings.NewReader(want), "lifeboat_webhook_failures_total")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}
