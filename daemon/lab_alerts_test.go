package daemon

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/alertmanager"
)

// TestLabAlertmanagerDegrades: Debian's real Alertmanager, fed an alert through its API, sends
// its webhook to lifeboat, which maps the alert's instance label to h1: h1 turns degraded and
// its guest live-migrates off. When the alert resolves, h1 is healthy again. Unauthenticated
// and malformed payloads are refused with a clear error and change nothing; an alert without the
// host label is ignored and listed.
func TestLabAlertmanagerDegrades(t *testing.T) {
	testenv.Parallel(t)
	if _, err := alertmanager.FindBinary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI: %v (scripts/install-deps.sh installs prometheus-alertmanager)", err)
		}
		t.Skipf("no Alertmanager: %v (run scripts/install-deps.sh)", err)
	}
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "am.token")
	if err := os.WriteFile(tokenFile, []byte("am-secret-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2}, func(cfg *config.Config) {
		cfg.Alerts.Alertmanager.TokenFile = tokenFile
		cfg.Alerts.Alertmanager.Hosts = map[string]string{"node-h1.example": "h1"}
		cfg.Failback.Enabled = false
	})
	stop := invariantWatch(t, l)
	defer stop()
	ctx := context.Background()
	url := c.Server() + "/v1/alerts/alertmanager"

	// Bad payloads first: each is refused, and h1 stays healthy with a zero score.
	post := func(token, body string) (int, string) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good := `{"version":"4","status":"firing","receiver":"lifeboat","alerts":[{"status":"firing","labels":{"alertname":"X","instance":"h1:9100","severity":"critical"},"annotations":{},"startsAt":"2026-11-26T00:00:00Z","endsAt":"0001-01-01T00:00:00Z","fingerprint":"f1"}]}`
	for _, bad := range []struct {
		name, token, body string
		code              int
		says              string
	}{
		{"no token", "", good, http.StatusUnauthorized, "token"},
		{"wrong token", "nope", good, http.StatusUnauthorized, "token"},
		{"not JSON", "am-secret-token", `{"version":"4","alerts":[`, http.StatusBadRequest, "JSON"},
		{"wrong version", "am-secret-token", strings.Replace(good, `"version":"4"`, `"version":"3"`, 1), http.StatusBadRequest, "version"},
		{"no alerts", "am-secret-token", `{"version":"4","status":"firing","alerts":[]}`, http.StatusBadRequest, "no alerts"},
		{"bad status", "am-secret-token", strings.Replace(good, `"status":"firing","labels"`, `"status":"burning","labels"`, 1), http.StatusBadRequest, "status"},
	} {
		code, body := post(bad.token, bad.body)
		if code != bad.code || !strings.Contains(body, bad.says) {
			t.Errorf("%s: %d %s; want %d mentioning %q", bad.name, code, body, bad.code, bad.says)
		}
	}
	if code, body := post("am-secret-token", strings.Replace(good, `"instance":"h1:9100",`, ``, 1)); code != http.StatusOK || !strings.Contains(body, "instance") || !strings.Contains(body, `"applied":0`) {
		t.Errorf("alert without the host label: %d %s; want 200, ignored and named", code, body)
	}
	holdNot(t, c, "h1", 2*time.Second, "degraded")
	ex, err := c.ExplainHost(ctx, "h1")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range ex.Signals {
		if s.Name == "health_score" && s.Value != "0" {
			t.Fatalf("a refused payload changed h1's health: %+v", s)
		}
	}

	am, err := alertmanager.Start(ctx, alertmanager.Options{Dir: dir, WebhookURL: url, TokenFile: tokenFile})
	if err != nil {
		t.Fatal(err)
	}
	defer am.Stop()
	alert := alertmanager.Alert{
		Labels:      map[string]string{"alertname": "NodeDiskErrors", "instance": "node-h1.example:9100", "severity": "critical"},
		Annotations: map[string]string{"summary": "disk sdb reports I/O errors"},
	}
	g := guestsOf(l, "h1")[0]
	start := time.Now()
	if err := am.Post(ctx, alert); err != nil {
		t.Fatal(err)
	}
	took := waitState(t, c, "h1", "degraded", 15*time.Second)
	if h := hostState(t, c, "h1"); !strings.Contains(h.Message, "NodeDiskErrors") || !strings.Contains(h.Message, "disk sdb") {
		t.Errorf("degraded verdict does not name the alert: %q", h.Message)
	}
	waitElsewhere(t, l, []testenv.Guest{g}, "h1", time.Minute)
	t.Logf("Alertmanager alert → h1 degraded in %s, empty after %s", took.Round(100*time.Millisecond), time.Since(start).Round(100*time.Millisecond))
	if err := am.Resolve(ctx, alert); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "healthy", 20*time.Second)
	if !journalHas(t, c, "observation", "alert_firing", "h1") || !journalHas(t, c, "observation", "alert_resolved", "h1") {
		t.Error("the journal lacks the alert's firing and resolution")
	}
}
