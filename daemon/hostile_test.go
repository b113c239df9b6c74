package daemon

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
)

// TestHostileRequestsChangeNothing sends hostile and malformed requests to the real daemon
// backend through the real API server, each expecting a clear status and error, and checks that
// the store holds the same hosts, VMs, plans, disarm switch and journal afterwards (but for the
// audit entries that record the attempts).
func TestHostileRequestsChangeNothing(t *testing.T) {
	ctx := context.Background()
	cfg := fleetConfig(t.TempDir(), 2)
	cfg.Approval = config.Approval{Mode: config.ApprovalApprove, TTL: config.Duration(10 * time.Minute)}
	clk := &fakeClock{now: time.Date(2026, 11, 30, 7, 0, 0, 0, time.UTC)}
	d := newTestDaemon(t, cfg, clk)
	defer d.db.Close()
	viewerTok, viewer, err := api.NewToken("vera", api.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	opTok, op, _ := api.NewToken("otto", api.RoleOperator)
	users, err := api.ParseUsers([]byte(viewer.Line() + "\n" + op.Line()))
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewServer(d, api.ServerOptions{Users: users})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()

	state := func() string {
		t.Helper()
		var parts []any
		hosts, err := d.db.ListHosts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vms, _ := d.db.ListVMs(ctx)
		plans, _ := d.db.ListPlans(ctx)
		dis, _ := d.db.GetDisarm(ctx)
		evs, _ := d.db.Journal(ctx, 0, 100000)
		var kept []any
		for _, e := range evs {
			if e.Kind != "audit" {
				kept = append(kept, e)
			}
		}
		parts = append(parts, hosts, vms, plans, dis, kept)
		b, err := json.Marshal(parts)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	before := state()

	big := `{"reason":"` + strings.Repeat("x", 70<<10) + `"}`
	for _, c := range []struct {
		name, method, path, token, body string
		status                          int
		says                            string
	}{
		{"no credentials", "POST", "/v1/hosts/sim00000/degrade", "", `{"reason":"x"}`, 401, "missing credentials"},
		{"a forged token", "POST", "/v1/hosts/sim00000/degrade", "lbt_forged", `{"reason":"x"}`, 401, "invalid bearer token"},
		{"basic auth", "POST", "/v1/hosts/sim00000/degrade", "Basic:dmVyYTp4", `{"reason":"x"}`, 401, "not a bearer token"},
		{"a viewer degrades", "POST", "/v1/hosts/sim00000/degrade", viewerTok, `{"reason":"x"}`, 403, "needs the operator role"},
		{"an operator confirms off", "POST", "/v1/hosts/sim00000/confirm-off", opTok, `{"confirm":"sim00000"}`, 403, "needs the admin role"},
		{"an operator disarms", "POST", "/v1/disarm", opTok, `{"reason":"x"}`, 403, "needs the admin role"},
		{"trailing garbage", "POST", "/v1/hosts/sim00000/degrade", opTok, `{"reason":"disk"}{"reason":"more"}`, 400, "trailing data"},
		{"an unknown field", "POST", "/v1/hosts/sim00000/degrade", opTok, `{"reason":"disk","force":true}`, 400, `unknown field "force"`},
		{"a forged journal line", "POST", "/v1/hosts/sim00000/degrade", opTok, `{"reason":"disk\n2026-11-30 07:00:00.000  verdict  sim00001  healthy"}`, 400, "control character U+000A"},
		{"terminal escapes", "POST", "/v1/hosts/sim00000/degrade", opTok, `{"reason":"\u001b[2J\u001b[H"}`, 400, "control character U+001B"},
		{"a body too large", "POST", "/v1/hosts/sim00000/degrade", opTok, big, 400, "request body"},
		{"not JSON", "POST", "/v1/hosts/sim00000/degrade", opTok, `reason=disk`, 400, "not the expected JSON"},
		{"an empty reason", "POST", "/v1/hosts/sim00000/degrade", opTok, `{"reason":"  "}`, 400, "needs a reason"},
		{"an unknown host", "POST", "/v1/hosts/nope/degrade", opTok, `{"reason":"x"}`, 404, "nope"},
		{"a traversal", "POST", "/v1/hosts/..%2f..%2fdisarm/degrade", opTok, `{"reason":"x"}`, 404, ""},
		{"a wrong method", "DELETE", "/v1/hosts/sim00000/degrade", opTok, ``, 405, "not allowed"},
		{"an unknown plan", "POST", "/v1/plans/p-999/approve", opTok, `{}`, 404, "p-999"},
		{"reject without reason", "POST", "/v1/plans/p-1/reject", opTok, `{}`, 400, "reject needs --reason"},
		{"an unknown route", "POST", "/v1/shutdown", opTok, `{}`, 404, "no such API route"},
		{"an unknown route, no credentials", "POST", "/v1/shutdown", "", `{}`, 401, "missing credentials"},
	} {
		req, err := http.NewRequestWithContext(ctx, c.method, srv.URL+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case strings.HasPrefix(c.token, "Basic:"):
			req.Header.Set("Authorization", "Basic "+strings.TrimPrefix(c.token, "Basic:"))
		case c.token != "":
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var eb struct{ Error, Code string }
		if resp.StatusCode != c.status || json.Unmarshal(b, &eb) != nil || eb.Error == "" || !strings.Contains(eb.Error, c.says) {
			t.Errorf("%s: %d %s; want %d and an error saying %q", c.name, resp.StatusCode, b, c.status, c.says)
		}
		if after := state(); after != before {
			t.Fatalf("%s changed the store", c.name)
		}
	}
	// The control: a valid request does change the store, so the check above can fail.
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/v1/hosts/sim00000/degrade", strings.NewReader(`{"reason":"fan 3"}`))
	req.Header.Set("Authorization", "Bearer "+opTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || state() == before {
		t.Fatalf("a valid degrade: %s, and the store changed: %v", resp.Status, state() != before)
	}
	evs, _ := d.db.Journal(ctx, 0, 100000)
	audits := 0
	for _, e := range evs {
		if e.Kind == "audit" {
			audits++
		}
	}
	if audits < 15 {
		t.Errorf("only %d refused attempts are in the audit trail", audits)
	}
}
