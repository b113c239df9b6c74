package bmc

import (
	"errors"
	"net/http"
	"strings"
	"testing"
)

func TestServiceRootIsPublic(t *testing.T) {
	s, _ := startServer(t)
	for _, path := range []string{"/redfish/v1", "/redfish/v1/"} {
		r := do(t, s, http.MethodGet, path, "", false)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: status %d, body %s", path, r.status, r.body)
		}
		m := r.json(t)
		if m["RedfishVersion"] != "1.15.0" || m["@odata.id"] != "/redfish/v1" || m["@odata.type"] == nil {
			t.Errorf("GET %s: body %s", path, r.body)
		}
		if sys, _ := m["Systems"].(map[string]any); sys["@odata.id"] != "/redfish/v1/Systems" {
			t.Errorf("GET %s: Systems link %v", path, m["Systems"])
		}
		if r.header.Get("OData-Version") != "4.0" {
			t.Errorf("GET %s: OData-Version %q", path, r.header.Get("OData-Version"))
		}
	}
	if r := do(t, s, http.MethodGet, "/redfish", "", false); r.status != http.StatusOK || r.json(t)["v1"] != "/redfish/v1/" {
		t.Errorf("GET /redfish: status %d, body %s", r.status, r.body)
	}
}

func TestUnauthorized(t *testing.T) {
	s, power := startServer(t)
	cases := []struct{ name, method, path, user, pass string }{
		{"no credentials", http.MethodGet, "/redfish/v1/Systems", "", ""},
		{"wrong password", http.MethodGet, "/redfish/v1/Systems/h1", testUser, "wrong"},
		{"wrong user", http.MethodGet, "/redfish/v1/Systems/h1/", "root", testPass},
		{"reset", http.MethodPost, "/redfish/v1/Systems/h1/Actions/ComputerSystem.Reset", "", ""},
		{"unknown path", http.MethodGet, "/redfish/v1/Nope", "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequestWithContext(t.Context(), c.method, s.URL()+c.path, strings.NewReader(`{"ResetType":"ForceOff"}`))
			if err != nil {
				t.Fatal(err)
			}
			if c.user != "" {
				req.SetBasicAuth(c.user, c.pass)
			}
			resp, err := verifyingClient(t, s, 0).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", resp.StatusCode)
			}
			if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="lifeboat-bmc"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
			body := make([]byte, 4096)
			n, _ := resp.Body.Read(body)
			if id, _ := redfishError(t, response{status: resp.StatusCode, header: resp.Header, body: body[:n]}); id != msgNoValidSession {
				t.Errorf("MessageId %q", id)
			}
		})
	}
	if off, on := power.calls(); off+on != 0 || power.PowerState() != PowerOn {
		t.Errorf("unauthorized reset reached the power: off=%d on=%d state=%s", off, on, power.PowerState())
	}
}

func TestNotFound(t *testing.T) {
	s, _ := startServer(t)
	for _, path := range []string{"/", "/redfish/v1/Nope", "/redfish/v1/Systems/h2", "/redfish/v1/Chassis", "/redfish/v1/Systems/h1/Actions"} {
		r := do(t, s, http.MethodGet, path, "", true)
		if r.status != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", path, r.status)
			continue
		}
		if id, msg := redfishError(t, r); id != msgResourceMissingAtURI || !strings.Contains(msg, path) {
			t.Errorf("GET %s: MessageId %q, message %q", path, id, msg)
		}
	}
}

func TestMethodNotAllowed(t *testing.T) {
	s, _ := startServer(t)
	cases := []struct {
		method, path, allow string
		auth                bool
	}{
		{http.MethodPost, "/redfish/v1", "GET, HEAD", false},
		{http.MethodDelete, "/redfish/v1/Systems", "GET, HEAD", true},
		{http.MethodPatch, "/redfish/v1/Systems/h1/", "GET, HEAD", true},
		{http.MethodGet, "/redfish/v1/Systems/h1/Actions/ComputerSystem.Reset", "POST", true},
	}
	for _, c := range cases {
		r := do(t, s, c.method, c.path, "", c.auth)
		if r.status != http.StatusMethodNotAllowed {
			t.Errorf("%s %s: status %d, want 405", c.method, c.path, r.status)
			continue
		}
		if got := r.header.Get("Allow"); got != c.allow {
			t.Errorf("%s %s: Allow %q, want %q", c.method, c.path, got, c.allow)
		}
		if id, _ := redfishError(t, r); id != msgOperationNotAllowed {
			t.Errorf("%s %s: MessageId %q", c.method, c.path, id)
		}
	}
}

func TestSystemsCollection(t *testing.T) {
	s, _ := startServer(t)
	for _, path := range []string{"/redfish/v1/Systems", "/redfish/v1/Systems/"} {
		r := do(t, s, http.MethodGet, path, "", true)
		if r.status != http.StatusOK {
			t.Fatalf("GET %s: status %d", path, r.status)
		}
		m := r.json(t)
		members, _ := m["Members"].([]any)
		if len(members) != 1 || m["Members@odata.count"] != 1.0 {
			t.Fatalf("GET %s: body %s", path, r.body)
		}
		if id := members[0].(map[string]any)["@odata.id"]; id != "/redfish/v1/Systems/h1" {
			t.Errorf("member %v", id)
		}
	}
}

// getSystem fetches the ComputerSystem resource.
func getSystem(t *testing.T, s *Server) map[string]any {
	t.Helper()
	r := do(t, s, http.MethodGet, "/redfish/v1/Systems/h1", "", true)
	if r.status != http.StatusOK {
		t.Fatalf("GET system: status %d, body %s", r.status, r.body)
	}
	return r.json(t)
}

func TestSystemResource(t *testing.T) {
	s, power := startServer(t)
	m := getSystem(t, s)
	if m["Id"] != "h1" || m["@odata.id"] != "/redfish/v1/Systems/h1" || m["PowerState"] != "On" {
		t.Fatalf("system: %v", m)
	}
	status := m["Status"].(map[string]any)
	if status["State"] != "Enabled" || status["Health"] != "OK" || status["HealthRollup"] != "OK" || status["Conditions"] != nil {
		t.Errorf("Status %v", status)
	}
	reset := m["Actions"].(map[string]any)["#ComputerSystem.Reset"].(map[string]any)
	if reset["target"] != "/redfish/v1/Systems/h1/Actions/ComputerSystem.Reset" {
		t.Errorf("reset target %v", reset["target"])
	}
	if got := reset["ResetType@Redfish.AllowableValues"]; len(got.([]any)) != 3 {
		t.Errorf("allowable values %v", got)
	}

	if err := power.ForceOff(t.Context()); err != nil {
		t.Fatal(err)
	}
	status = getSystem(t, s)["Status"].(map[string]any)
	if status["State"] != "StandbyOffline" {
		t.Errorf("off: Status %v", status)
	}

	r := do(t, s, http.MethodHead, "/redfish/v1/Systems/h1", "", true)
	if r.status != http.StatusOK || len(r.body) != 0 {
		t.Errorf("HEAD: status %d, body %q", r.status, r.body)
	}
}

func TestHealthConditions(t *testing.T) {
	s, _ := startServer(t)
	for _, h := range []Health{HealthWarning, HealthCritical} {
		s.SetHealth(h, "fan 2 failed")
		if got, reason := s.Health(); got != h || reason != "fan 2 failed" {
			t.Errorf("Health() = %s, %q", got, reason)
		}
		status := getSystem(t, s)["Status"].(map[string]any)
		if status["Health"] != string(h) || status["HealthRollup"] != string(h) || status["State"] != "Enabled" {
			t.Errorf("%s: Status %v", h, status)
		}
		conds, _ := status["Conditions"].([]any)
		if len(conds) != 1 {
			t.Fatalf("%s: Conditions %v", h, status["Conditions"])
		}
		c := conds[0].(map[string]any)
		if c["Message"] != "fan 2 failed" || c["Severity"] != string(h) || c["MessageId"] != "ResourceEvent.1.0.ResourceStatusChanged"+string(h) || c["Timestamp"] == nil {
			t.Errorf("%s: condition %v", h, c)
		}
	}
	s.SetHealth(HealthOK, "ignored")
	if got, reason := s.Health(); got != HealthOK || reason != "" {
		t.Errorf("after OK: Health() = %s, %q", got, reason)
	}
	status := getSystem(t, s)["Status"].(map[string]any)
	if status["Health"] != "OK" || status["Conditions"] != nil {
		t.Errorf("after OK: Status %v", status)
	}
}

const resetPath = "/redfish/v1/Systems/h1/Actions/ComputerSystem.Reset"

func TestResetBadRequests(t *testing.T) {
	s, power := startServer(t)
	cases := []struct{ name, body, messageID, mention string }{
		{"malformed", `{"ResetType":`, msgMalformedJSON, "malformed"},
		{"not an object", `"ForceOff"`, msgMalformedJSON, "malformed"},
		{"empty", " ", msgMalformedJSON, "empty"},
		{"trailing data", `{"ResetType":"On"} {}`, msgMalformedJSON, "after the JSON object"},
		{"missing", `{}`, msgActionParameterMiss, "ResetType"},
		{"unknown", `{"ResetType":"PowerCycle"}`, msgActionParameterValue, "PowerCycle"},
		{"wrong case", `{"ResetType":"forceoff"}`, msgActionParameterValue, "forceoff"},
		{"wrong type", `{"ResetType":1}`, msgActionParameterType, "ResetType"},
		{"unknown field", `{"ResetType":"On","Delay":3}`, msgActionParameterUnk, "Delay"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := do(t, s, http.MethodPost, resetPath, c.body, true)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", r.status, r.body)
			}
			if id, msg := redfishError(t, r); id != c.messageID || !strings.Contains(msg, c.mention) {
				t.Errorf("MessageId %q, message %q; want %q mentioning %q", id, msg, c.messageID, c.mention)
			}
		})
	}
	t.Run("too large", func(t *testing.T) {
		body := `{"ResetType":"ForceOff","x":"` + strings.Repeat("a", 64<<10) + `"}`
		r := do(t, s, http.MethodPost, resetPath, body, true)
		if r.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d, want 413", r.status)
		}
		if id, _ := redfishError(t, r); id != msgPayloadTooLarge {
			t.Errorf("MessageId %q", id)
		}
	})
	if off, on := power.calls(); off+on != 0 {
		t.Errorf("bad requests reached the power: off=%d on=%d", off, on)
	}
}

func TestResetPowerFailure(t *testing.T) {
	s, power := startServer(t)
	power.fail(errors.New("qemu refused to die"))
	r := do(t, s, http.MethodPost, resetPath, `{"ResetType":"ForceOff"}`, true)
	if r.status != http.StatusInternalServerError {
		t.Fatalf("status %d, want 500", r.status)
	}
	if id, msg := redfishError(t, r); id != msgInternalError || !strings.Contains(msg, "qemu refused to die") {
		t.Errorf("MessageId %q, message %q", id, msg)
	}
}

func TestResetActions(t *testing.T) {
	s, power := startServer(t)
	steps := []struct {
		resetType         string
		wantState         PowerState
		wantOff, wantOnes int
	}{
		{"On", PowerOn, 0, 0},           // already on: no-op
		{"ForceOff", PowerOff, 1, 0},    // turns off
		{"ForceOff", PowerOff, 1, 0},    // already off: no-op
		{"ForceRestart", PowerOn, 1, 1}, // off: just on
		{"ForceRestart", PowerOn, 2, 2}, // on: off then on
		{"ForceOff", PowerOff, 3, 2},
		{"On", PowerOn, 3, 3},
	}
	for i, st := range steps {
		path := resetPath
		if i%2 == 1 {
			path += "/"
		}
		r := do(t, s, http.MethodPost, path, `{"ResetType":"`+st.resetType+`"}`, true)
		if r.status != http.StatusNoContent || len(r.body) != 0 {
			t.Fatalf("step %d %s: status %d, body %s", i, st.resetType, r.status, r.body)
		}
		off, on := power.calls()
		if power.PowerState() != st.wantState || off != st.wantOff || on != st.wantOnes {
			t.Fatalf("step %d %s: state %s off=%d on=%d; want %s off=%d on=%d",
				i, st.resetType, power.PowerState(), off, on, st.wantState, st.wantOff, st.wantOnes)
		}
		if got := getSystem(t, s)["PowerState"]; got != string(st.wantState) {
			t.Fatalf("step %d: PowerState %v", i, got)
		}
	}
}
