package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	apiToken   = "api-token"
	alertToken = "alert-token"
)

// alertFake is a fakeBackend that also takes alerts.
type alertFake struct {
	*fakeBackend
	mu   sync.Mutex
	got  [][]AlertObservation
	fail error
}

// ReceiveAlerts implements AlertReceiver.
func (f *alertFake) ReceiveAlerts(_ context.Context, alerts []AlertObservation) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.got = append(f.got, alerts)
	return nil
}

// calls returns what ReceiveAlerts was given, call by call.
func (f *alertFake) calls() [][]AlertObservation {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([][]AlertObservation(nil), f.got...)
}

// serveAlerts starts a server with an API token and the alert receiver over the fake's hosts;
// it returns the server's URL.
func serveAlerts(t *testing.T, f *alertFake) string {
	t.Helper()
	h, err := NewServer(f, ServerOptions{Token: apiToken, Alerts: &AlertOptions{
		Token: alertToken,
		Hosts: map[string]string{"10.0.0.3:9100": "h3", "bmc-h2.lab": "h2"},
		Known: []string{"h1", "h2", "h3"},
	}})
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// postAlerts posts body with a token and content type; it returns the status and body.
func postAlerts(t *testing.T, url, token, ctype, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// amJSON builds a version-4 webhook body around alerts (JSON objects).
func amJSON(alerts ...string) string {
	return `{"version":"4","groupKey":"{}:{alertname=\"NodeDiskErrors\"}","truncatedAlerts":0,"status":"firing",
"receiver":"lifeboat","groupLabels":{"alertname":"NodeDiskErrors"},"commonLabels":{},"commonAnnotations":{},
"externalURL":"http://am:9093","alerts":[` + strings.Join(alerts, ",") + `]}`
}

// amAlertJSON is one alert of a webhook body.
func amAlertJSON(status, name, instance, severity, fingerprint string, annotations map[string]string) string {
	labels := map[string]string{"alertname": name, "severity": severity}
	if instance != "" {
		labels["instance"] = instance
	}
	al := map[string]any{
		"status": status, "labels": labels, "annotations": annotations,
		"startsAt": "2025-03-14T09:26:53.123Z", "endsAt": "0001-01-01T00:00:00Z",
		"generatorURL": "http://prom:9090/graph", "fingerprint": fingerprint,
	}
	if status == "resolved" {
		al["endsAt"] = "2025-03-14T09:30:00Z"
	}
	b, _ := json.Marshal(al)
	return string(b)
}

func TestAlertmanagerAppliesFiringAndResolved(t *testing.T) {
	f := &alertFake{fakeBackend: newFake()}
	url := serveAlerts(t, f) + AlertmanagerPath
	body := amJSON(
		amAlertJSON("firing", "NodeDiskErrors", "h1:9100", "Critical", "fp1", map[string]string{"summary": "disk errors on sda", "description": "long"}),
		amAlertJSON("resolved", "NodeMemoryECC", "10.0.0.3:9100", "warning", "", map[string]string{"description": "ECC errors"}),
		amAlertJSON("firing", "BMCFan", "bmc-h2.lab", "page", "fp3", nil),
	)
	code, resp := postAlerts(t, url, alertToken, "application/json", body)
	if code != http.StatusOK {
		t.Fatalf("POST: %d %s", code, resp)
	}
	var res AlertResult
	if err := json.Unmarshal([]byte(resp), &res); err != nil || res.Applied != 3 || len(res.Ignored) != 0 {
		t.Fatalf("result %+v, %v: %s", res, err, resp)
	}
	calls := f.calls()
	if len(calls) != 1 || len(calls[0]) != 3 {
		t.Fatalf("ReceiveAlerts calls: %+v", calls)
	}
	got := calls[0]
	want0 := AlertObservation{Host: "h1", Fingerprint: "fp1", Name: "NodeDiskErrors", Firing: true, Severity: SeverityCritical,
		Summary: "disk errors on sda", StartsAt: time.Date(2025, 3, 14, 9, 26, 53, 123e6, time.UTC)}
	if !got[0].StartsAt.Equal(want0.StartsAt) {
		t.Errorf("alert 0 starts at %v, want %v", got[0].StartsAt, want0.StartsAt)
	}
	got[0].StartsAt = want0.StartsAt
	if got[0] != want0 {
		t.Errorf("alert 0:\n got %+v\nwant %+v", got[0], want0)
	}
	if o := got[1]; o.Host != "h3" || o.Firing || o.Severity != SeverityWarning || o.Summary != "ECC errors" || len(o.Fingerprint) != 16 {
		t.Errorf("alert 1 (resolved, mapped, no fingerprint): %+v", o)
	}
	if o := got[2]; o.Host != "h2" || !o.Firing || o.Severity != SeverityWarning || o.Summary != "BMCFan" {
		t.Errorf("alert 2 (mapped by name, no annotations): %+v", o)
	}
	// The digest is stable: the same labels give the same fingerprint.
	if code, resp := postAlerts(t, url, alertToken, "application/json", body); code != http.StatusOK {
		t.Fatalf("second POST: %d %s", code, resp)
	}
	if fp := f.calls()[1][1].Fingerprint; fp != got[1].Fingerprint {
		t.Errorf("fingerprint digest changed between posts: %s, then %s", got[1].Fingerprint, fp)
	}
}

func TestAlertmanagerToken(t *testing.T) {
	f := &alertFake{fakeBackend: newFake()}
	base := serveAlerts(t, f)
	body := amJSON(amAlertJSON("firing", "NodeDiskErrors", "h1:9100", "critical", "fp1", nil))
	for _, tok := range []string{"", "wrong", apiToken, alertToken + "x"} {
		code, resp := postAlerts(t, base+AlertmanagerPath, tok, "application/json", body)
		if code != http.StatusUnauthorized {
			t.Errorf("token %q: %d, want 401: %s", tok, code, resp)
			continue
		}
		msg := decodeError(t, resp, CodeUnauthorized)
		if !strings.Contains(msg, "alerts.alertmanager.token_file") || strings.Contains(msg, alertToken) {
			t.Errorf("token %q: message %q", tok, msg)
		}
	}
	if n := len(f.calls()); n != 0 {
		t.Fatalf("%d ReceiveAlerts calls without the right token", n)
	}
	// The alert token does not open the API, and the API keeps its own token.
	if code, _, _ := get(t, base+"/v1/status", alertToken); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/status with the alert token: %d, want 401", code)
	}
	if code, _, _ := get(t, base+"/v1/status", apiToken); code != http.StatusOK {
		t.Errorf("GET /v1/status with the API token: %d, want 200", code)
	}
	if code, resp := postAlerts(t, base+AlertmanagerPath, alertToken, "application/json", body); code != http.StatusOK {
		t.Errorf("right token: %d %s", code, resp)
	}
	// A wrong method on the route is a 405 once the alert token is right.
	if code, _, _ := get(t, base+AlertmanagerPath, alertToken); code != http.StatusMethodNotAllowed {
		t.Errorf("GET %s: %d, want 405", AlertmanagerPath, code)
	}
}

func TestAlertmanagerRejectsBadPayloads(t *testing.T) {
	f := &alertFake{fakeBackend: newFake()}
	url := serveAlerts(t, f) + AlertmanagerPath
	good := amAlertJSON("firing", "NodeDiskErrors", "h1:9100", "critical", "fp1", nil)
	for _, tc := range []struct {
		name, ctype, body string
		status            int
		want              []string
	}{
		{"not JSON", "application/json", "<html>", http.StatusBadRequest, []string{"not valid JSON"}},
		{"trailing garbage", "application/json", amJSON(good) + "x", http.StatusBadRequest, []string{"not valid JSON"}},
		{"wrong type", "application/json", `{"version":"4","alerts":{}}`, http.StatusBadRequest, []string{"not valid JSON"}},
		{"version", "application/json", strings.Replace(amJSON(good), `"version":"4"`, `"version":"3"`, 1), http.StatusBadRequest, []string{`"3"`, `want "4"`}},
		{"no version", "application/json", `{"alerts":[` + good + `]}`, http.StatusBadRequest, []string{`version ""`}},
		{"no alerts", "application/json", amJSON(), http.StatusBadRequest, []string{"no alerts"}},
		{"status", "application/json", amJSON(amAlertJSON("pending", "X", "h1", "", "", nil)), http.StatusBadRequest, []string{"alert 0 (X)", `"pending"`, "firing or resolved"}},
		{"content type", "application/x-www-form-urlencoded", amJSON(good), http.StatusUnsupportedMediaType, []string{"application/json"}},
		{"oversize", "application/json", amJSON(good, `{"status":"firing","labels":{"instance":"h1","pad":"`+strings.Repeat("x", maxAlertBody)+`"}}`),
			http.StatusRequestEntityTooLarge, []string{"larger than 1048576 bytes"}},
	} {
		code, resp := postAlerts(t, url, alertToken, tc.ctype, tc.body)
		if code != tc.status {
			t.Errorf("%s: %d, want %d: %.300s", tc.name, code, tc.status, resp)
			continue
		}
		msg := decodeError(t, resp, CodeBadRequest)
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: message %q lacks %q", tc.name, msg, w)
			}
		}
	}
	if n := len(f.calls()); n != 0 {
		t.Fatalf("bad payloads reached the backend %d times", n)
	}
}

func TestAlertmanagerOneBadAlertChangesNothing(t *testing.T) {
	f := &alertFake{fakeBackend: newFake()}
	url := serveAlerts(t, f) + AlertmanagerPath
	body := amJSON(
		amAlertJSON("firing", "NodeDiskErrors", "h1:9100", "critical", "fp1", nil),
		amAlertJSON("firing", "NodeMemoryECC", "h3", "warning", "fp2", nil),
		amAlertJSON("pending", "NoHost", "h1", "warning", "fp3", nil),
		amAlertJSON("weird", "NodeFan", "h2", "warning", "fp4", nil),
	)
	code, resp := postAlerts(t, url, alertToken, "application/json; charset=utf-8", body)
	if code != http.StatusBadRequest {
		t.Fatalf("%d, want 400: %s", code, resp)
	}
	msg := decodeError(t, resp, CodeBadRequest)
	// Every problem is named, not just the first.
	for _, w := range []string{"alert 2 (NoHost)", "alert 3 (NodeFan)"} {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q lacks %q", msg, w)
		}
	}
	if n := len(f.calls()); n != 0 {
		t.Fatalf("a rejected payload reached the backend %d times", n)
	}
}

// TestAlertmanagerNoHostLabelIgnored: an alert without the host label is not a malformed
// payload: it is ignored and listed, and the group's other alerts still count (Alertmanager
// does not retry a refused notification).
func TestAlertmanagerNoHostLabelIgnored(t *testing.T) {
	f := &alertFake{fakeBackend: newFake()}
	url := serveAlerts(t, f) + AlertmanagerPath
	body := amJSON(amAlertJSON("firing", "NodeDiskErrors", "h1:9100", "critical", "fp1", nil),
		amAlertJSON("firing", "NodeDiskErrors", "", "critical", "fp2", nil))
	code, resp := postAlerts(t, url, alertToken, "application/json", body)
	if code != http.StatusOK || !strings.Contains(resp, `has no \"instance\" label`) || !strings.Contains(resp, `"applied":1`) {
		t.Fatalf("%d %s", code, resp)
	}
	if calls := f.calls(); len(calls) != 1 || len(calls[0]) != 1 || calls[0][0].Host != "h1" {
		t.Fatalf("backend got %+v", calls)
	}
}

func TestAlertmanagerUnknownHostIgnored(t *testing.T) {
	f := &alertFake{fakeBackend: newFake()}
	url := serveAlerts(t, f) + AlertmanagerPath
	// Only unknown hosts: 200, nothing applied, the backend not called.
	code, resp := postAlerts(t, url, alertToken, "application/json",
		amJSON(amAlertJSON("firing", "NodeDiskErrors", "h9:9100", "critical", "fp1", nil)))
	var res AlertResult
	if code != http.StatusOK || json.Unmarshal([]byte(resp), &res) != nil || res.Applied != 0 || len(res.Ignored) != 1 {
		t.Fatalf("%d %s", code, resp)
	}
	want := "alert NodeDiskErrors: instance=h9:9100 matches no host; map it under alerts.alertmanager.hosts"
	if res.Ignored[0] != want {
		t.Errorf("ignored %q, want %q", res.Ignored[0], want)
	}
	if n := len(f.calls()); n != 0 {
		t.Errorf("backend called %d times for no known host", n)
	}
	// Mixed: the known host's alert is applied, the other listed.
	code, resp = postAlerts(t, url, alertToken, "application/json", amJSON(
		amAlertJSON("firing", "NodeDiskErrors", "H1:9100", "critical", "fp1", nil), // names match exactly
		amAlertJSON("firing", "NodeDiskErrors", "h2:9100", "critical", "fp2", nil),
	))
	res = AlertResult{}
	if code != http.StatusOK || json.Unmarshal([]byte(resp), &res) != nil || res.Applied != 1 || len(res.Ignored) != 1 ||
		!strings.Contains(res.Ignored[0], "instance=H1:9100") {
		t.Fatalf("%d %s", code, resp)
	}
	if calls := f.calls(); len(calls) != 1 || len(calls[0]) != 1 || calls[0][0].Host != "h2" {
		t.Errorf("calls %+v", calls)
	}
}

func TestAlertmanagerBackendError(t *testing.T) {
	f := &alertFake{fakeBackend: newFake(), fail: fmt.Errorf("journal full: %w", ErrConflict)}
	url := serveAlerts(t, f) + AlertmanagerPath
	code, resp := postAlerts(t, url, alertToken, "application/json",
		amJSON(amAlertJSON("firing", "NodeDiskErrors", "h1", "critical", "fp1", nil)))
	if code != http.StatusConflict {
		t.Fatalf("%d, want 409: %s", code, resp)
	}
	if msg := decodeError(t, resp, CodeConflict); !strings.Contains(msg, "journal full") {
		t.Errorf("message %q", msg)
	}
}

func TestAlertmanagerOptions(t *testing.T) {
	f := &alertFake{fakeBackend: newFake()}
	if _, err := NewServer(f, ServerOptions{Token: apiToken, Alerts: &AlertOptions{}}); err == nil || !strings.Contains(err.Error(), "needs a token") {
		t.Errorf("no alert token: %v", err)
	}
	if _, err := NewServer(f, ServerOptions{Alerts: &AlertOptions{Token: "a b"}}); err == nil || !strings.Contains(err.Error(), "white space") {
		t.Errorf("alert token with a space: %v", err)
	}
	if _, err := NewServer(newFake(), ServerOptions{Alerts: &AlertOptions{Token: alertToken}}); err == nil || !strings.Contains(err.Error(), "does not take alerts") {
		t.Errorf("backend without ReceiveAlerts: %v", err)
	}
	if _, err := NewServer(f, ServerOptions{Alerts: &AlertOptions{Token: alertToken, Known: []string{"h1"}, Hosts: map[string]string{"x": "h7"}}}); err == nil || !strings.Contains(err.Error(), `"h7"`) {
		t.Errorf("mapping to an unknown host: %v", err)
	}
	// Without Alerts the route does not exist (and stays behind the API token).
	srv := serve(t, newFake(), ServerOptions{})
	if code, _ := postAlerts(t, srv.URL+AlertmanagerPath, alertToken, "application/json", amJSON()); code != http.StatusNotFound {
		t.Errorf("route without Alerts: %d, want 404", code)
	}
	// Custom labels; an API server without a token still checks the alert token.
	h, err := NewServer(f, ServerOptions{Alerts: &AlertOptions{Token: alertToken, HostLabel: "node", SeverityLabel: "level", Known: []string{"h1"}}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	defer ts.Close()
	body := `{"version":"4","alerts":[{"status":"firing","labels":{"alertname":"A","node":"h1","level":"CRITICAL","severity":"warning"}}]}`
	if code, resp := postAlerts(t, ts.URL+AlertmanagerPath, "", "", body); code != http.StatusUnauthorized {
		t.Errorf("no token on a tokenless API: %d %s", code, resp)
	}
	if code, resp := postAlerts(t, ts.URL+AlertmanagerPath, alertToken, "", body); code != http.StatusOK {
		t.Fatalf("custom labels: %d %s", code, resp)
	}
	if calls := f.calls(); len(calls) != 1 || calls[0][0].Host != "h1" || calls[0][0].Severity != SeverityCritical {
		t.Errorf("custom labels: %+v", calls)
	}
}

func TestStripPort(t *testing.T) {
	for in, want := range map[string]string{
		"h1:9100": "h1", "h1": "h1", "10.0.0.1:9100": "10.0.0.1", "[fe80::1]:9100": "fe80::1",
		"fe80::1": "fe80::1", "h1:": "h1:", "h1:http": "h1:http", "": "",
	} {
		if got := stripPort(in); got != want {
			t.Errorf("stripPort(%q) = %q, want %q", in, got, want)
		}
	}
}
