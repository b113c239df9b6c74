package alertmanager

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
)

// deliveryTimeout bounds the wait for one notification.
const deliveryTimeout = 15 * time.Second

// needBinary skips the test when Alertmanager is not installed, or fails it in CI (CI=true).
func needBinary(t *testing.T) {
	t.Helper()
	if _, err := FindBinary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Alertmanager is required in CI (scripts/install-deps.sh installs prometheus-alertmanager): %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// notification is what the webhook received: the payload and the Authorization header.
type notification struct {
	auth    string
	ctype   string
	payload webhookPayload
	err     error
}

// webhookPayload is the part of Alertmanager's version-4 webhook body the test checks.
type webhookPayload struct {
	Version  string `json:"version"`
	Status   string `json:"status"`
	Receiver string `json:"receiver"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		StartsAt    time.Time         `json:"startsAt"`
		EndsAt      time.Time         `json:"endsAt"`
		Fingerprint string            `json:"fingerprint"`
	} `json:"alerts"`
}

// startWith starts Alertmanager towards url with a bearer token file; Stop runs at cleanup.
func startWith(t *testing.T, url, token string) *Instance {
	t.Helper()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	am, err := Start(ctx, Options{Dir: dir, WebhookURL: url, TokenFile: tokenFile})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := am.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return am
}

// next waits for a notification.
func next(t *testing.T, ch <-chan notification, what string) notification {
	t.Helper()
	select {
	case n := <-ch:
		if n.err != nil {
			t.Fatalf("%s: %v", what, n.err)
		}
		return n
	case <-time.After(deliveryTimeout):
		t.Fatalf("no %s within %s", what, deliveryTimeout)
	}
	panic("unreachable")
}

func TestLabAlertmanagerDelivers(t *testing.T) {
	needBinary(t)
	const token = "am-test-token"
	got := make(chan notification, 16)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := notification{auth: r.Header.Get("Authorization"), ctype: r.Header.Get("Content-Type")}
		b, err := io.ReadAll(r.Body)
		if err == nil {
			err = json.Unmarshal(b, &n.payload)
		}
		n.err = err
		got <- n
	}))
	defer hook.Close()
	am := startWith(t, hook.URL+"/hook", token)

	alert := Alert{
		Labels:      map[string]string{"alertname": "NodeDiskErrors", "instance": "h1:9100", "severity": "critical"},
		Annotations: map[string]string{"summary": "disk errors on sda"},
	}
	start := time.Now()
	if err := am.Post(t.Context(), alert); err != nil {
		t.Fatal(err)
	}
	n := next(t, got, "firing notification")
	t.Logf("firing notification after %s", time.Since(start).Round(time.Millisecond))
	if n.auth != "Bearer "+token {
		t.Errorf("Authorization %q, want the bearer token", n.auth)
	}
	if n.ctype != "application/json" {
		t.Errorf("Content-Type %q", n.ctype)
	}
	p := n.payload
	if p.Version != "4" || p.Status != "firing" || p.Receiver != "lifeboat" || len(p.Alerts) != 1 {
		t.Fatalf("payload %+v", p)
	}
	a := p.Alerts[0]
	if a.Status != "firing" || a.Labels["alertname"] != "NodeDiskErrors" || a.Labels["instance"] != "h1:9100" ||
		a.Labels["severity"] != "critical" || a.Annotations["summary"] != "disk errors on sda" || a.Fingerprint == "" || a.StartsAt.IsZero() {
		t.Errorf("alert %+v", a)
	}

	if err := am.Resolve(t.Context(), alert); err != nil {
		t.Fatal(err)
	}
	n = next(t, got, "resolved notification")
	p = n.payload
	if p.Version != "4" || p.Status != "resolved" || len(p.Alerts) != 1 || p.Alerts[0].Status != "resolved" ||
		p.Alerts[0].Fingerprint != a.Fingerprint || p.Alerts[0].EndsAt.IsZero() {
		t.Errorf("resolved payload %+v", p)
	}
	if n.auth != "Bearer "+token {
		t.Errorf("resolved: Authorization %q", n.auth)
	}

	// Stop leaves nothing behind: the process is reaped and its port is closed.
	pid := am.cmd.Process.Pid
	if err := am.Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("pid %d after Stop: kill -0 says %v, want no such process", pid, err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, am.URL()+"/-/ready", nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("%s still answers after Stop", am.URL())
	}
}

// sink is an api.Backend that only takes alerts; its other methods are never called.
type sink struct {
	api.Backend
	got chan []api.AlertObservation
}

// ReceiveAlerts implements api.AlertReceiver.
func (s *sink) ReceiveAlerts(_ context.Context, alerts []api.AlertObservation) error {
	s.got <- alerts
	return nil
}

// TestLabAlertmanagerFeedsTheReceiver: lifeboat's receiver takes what the real Alertmanager
// sends, token and all.
func TestLabAlertmanagerFeedsTheReceiver(t *testing.T) {
	needBinary(t)
	const token = "receiver-token"
	s := &sink{got: make(chan []api.AlertObservation, 16)}
	h, err := api.NewServer(s, api.ServerOptions{Token: "api-token", Alerts: &api.AlertOptions{
		Token: token, Known: []string{"h1", "h2"}, Hosts: map[string]string{"bmc-h2": "h2"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	am := startWith(t, srv.URL+api.AlertmanagerPath, token)

	alerts := []Alert{
		{Labels: map[string]string{"alertname": "NodeDiskErrors", "instance": "h1:9100", "severity": "critical"}},
		{Labels: map[string]string{"alertname": "NodeDiskErrors", "instance": "bmc-h2", "severity": "warning"},
			Annotations: map[string]string{"description": "slow disk"}},
	}
	if err := am.Post(t.Context(), alerts...); err != nil {
		t.Fatal(err)
	}
	byHost := map[string]api.AlertObservation{}
	deadline := time.After(deliveryTimeout)
	for len(byHost) < 2 {
		select {
		case obs := <-s.got:
			for _, o := range obs {
				byHost[o.Host] = o
			}
		case <-deadline:
			t.Fatalf("the receiver got %v within %s, want alerts of h1 and h2", byHost, deliveryTimeout)
		}
	}
	if o := byHost["h1"]; !o.Firing || o.Severity != api.SeverityCritical || o.Name != "NodeDiskErrors" || o.Fingerprint == "" {
		t.Errorf("h1: %+v", o)
	}
	if o := byHost["h2"]; !o.Firing || o.Severity != api.SeverityWarning || o.Summary != "slow disk" {
		t.Errorf("h2: %+v", o)
	}
	if err := am.Resolve(t.Context(), alerts[0]); err != nil {
		t.Fatal(err)
	}
	deadline = time.After(deliveryTimeout)
	for {
		select {
		case obs := <-s.got:
			for _, o := range obs {
				if o.Host == "h1" && !o.Firing {
					if o.Fingerprint != byHost["h1"].Fingerprint {
						t.Errorf("resolved h1 fingerprint %s, firing %s", o.Fingerprint, byHost["h1"].Fingerprint)
					}
					return
				}
			}
		case <-deadline:
			t.Fatalf("no resolution of h1 within %s", deliveryTimeout)
		}
	}
}

func TestStartValidates(t *testing.T) {
	for _, o := range []Options{
		{WebhookURL: "http://127.0.0.1:1/"},
		{Dir: t.TempDir()},
		{Dir: t.TempDir(), WebhookURL: "http://127.0.0.1:1/", TokenFile: "/nonexistent/token"},
		{Dir: t.TempDir(), WebhookURL: "http://127.0.0.1:1/", GroupWait: -time.Second},
	} {
		if _, err := Start(t.Context(), o); err == nil {
			t.Errorf("Start(%+v) accepted", o)
		}
	}
	_, err := Start(t.Context(), Options{Dir: t.TempDir(), WebhookURL: "http://127.0.0.1:1/", Binary: filepath.Join(t.TempDir(), "missing")})
	if err == nil || errors.Is(err, ErrNoBinary) {
		t.Errorf("a missing explicit binary: %v", err)
	}
}
