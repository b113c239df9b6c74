package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// forecastFake is a fakeBackend that answers what-if and capacity questions with the real
// policy functions over a small snapshot: two active hosts and a standby.
type forecastFake struct {
	*fakeBackend
	snap  policy.Snapshot
	asked [][]string // the fail lists the backend received
}

func newForecastFake() *forecastFake {
	host := func(name, role string) policy.HostView {
		return policy.HostView{Name: name, Role: role, Verdict: policy.Verdict{Host: name, State: policy.Healthy}, Libvirt: policy.ProbeOK,
			BMCConfigured: true, BMCReachable: true, Heard: true, MemoryMiB: 8192, VCPUs: 8, RecoveryMode: policy.ApprovalAutomatic}
	}
	vm := func(name, on string, mem int) policy.VMView {
		return policy.VMView{Name: name, UUID: "uuid-" + name, Protected: true, Restartable: true, MemoryMiB: mem, VCPUs: 1, Current: on, Home: on, State: "running"}
	}
	return &forecastFake{fakeBackend: newFake(), snap: policy.Snapshot{
		Config: policy.RecoveryConfig{Automatic: true, MassFailureFraction: 0.34, MassFailureWindow: 10e9, FenceWindow: 600e9, RestartConcurrency: 4,
			Placement: policy.PlacementConfig{MemoryOvercommit: 1, CPUOvercommit: 4}},
		Hosts: []policy.HostView{host("h1", "active"), host("h2", "active"), host("h3", "standby")},
		VMs:   []policy.VMView{vm("web1", "h1", 2048), vm("db1", "h2", 7168)},
	}}
}

// WhatIf implements Forecaster.
func (f *forecastFake) WhatIf(_ context.Context, fail []string) (WhatIfResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return WhatIfResult{}, f.fail
	}
	f.asked = append(f.asked, fail)
	res, err := policy.WhatIf(f.snap, fail, t0)
	if errors.Is(err, policy.ErrUnknownHost) {
		return res, fmt.Errorf("%w: %w", ErrBadRequest, err)
	}
	return res, err
}

// Capacity implements Forecaster.
func (f *forecastFake) Capacity(context.Context) (CapacityView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return CapacityView{}, f.fail
	}
	return policy.FailoverCapacity(f.snap), nil
}

// serveForecast starts an httptest server over a forecastFake and returns its URL.
func serveForecast(t *testing.T, f *forecastFake, opts ServerOptions) string {
	t.Helper()
	h, err := NewServer(f, opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestWhatIfHandler(t *testing.T) {
	f := newForecastFake()
	url := serveForecast(t, f, ServerOptions{})

	code, body := post(t, url+"/v1/whatif", `{"fail":["h1"]}`)
	var res map[string]any
	if err := json.Unmarshal([]byte(body), &res); code != http.StatusOK || err != nil {
		t.Fatalf("POST /v1/whatif: %d %v %s", code, err, body)
	}
	for _, k := range []string{"fail", "frozen", "reason", "fences", "restarts", "stuck", "held"} {
		if _, ok := res[k]; !ok {
			t.Errorf("what-if JSON lacks %q: %s", k, body)
		}
	}
	var typed WhatIfResult
	if err := json.Unmarshal([]byte(body), &typed); err != nil || !slices.Equal(typed.Fences, []string{"h1"}) || len(typed.Restarts) != 1 ||
		typed.Restarts[0].VM != "web1" || typed.Restarts[0].To != "h3" || typed.Frozen {
		t.Errorf("POST /v1/whatif h1: %v %+v", err, typed)
	}
	// Empty lists are [], not null.
	if code, body = post(t, url+"/v1/whatif", `{"fail":["h3"]}`); code != http.StatusOK || !strings.Contains(body, `"restarts":[]`) || !strings.Contains(body, `"stuck":[]`) {
		t.Errorf("POST /v1/whatif h3: %d %s", code, body)
	}

	for _, tc := range []struct{ body, want string }{
		{`{"fail":["h1"],"dry":true}`, `unknown field "dry"`},
		{`{"fail":["h1"]} {"fail":["h2"]}`, "more after its JSON value"},
		{`{"fail":["h1"]}x`, "more after its JSON value"},
		{`{"fail":"h1"}`, "cannot unmarshal string"},
		{`{"fail":[]}`, "fail is required"},
		{``, "fail is required"},
		{`{"fail":["h1",""]}`, "fail[1] is empty"},
		{`{"fail":["h1","h9","zz"]}`, `unknown host: "h9", "zz"`},
	} {
		n := len(f.asked)
		code, body := post(t, url+"/v1/whatif", tc.body)
		if msg := decodeError(t, body, CodeBadRequest); code != http.StatusBadRequest || !strings.Contains(msg, tc.want) {
			t.Errorf("POST /v1/whatif %s: %d %s, want 400 naming %q", tc.body, code, body, tc.want)
		}
		if tc.want != `unknown host: "h9", "zz"` && len(f.asked) != n {
			t.Errorf("POST /v1/whatif %s reached the backend", tc.body)
		}
	}
	// Trailing white space is no trailing garbage.
	if code, body := post(t, url+"/v1/whatif", "{\"fail\":[\"h2\"]}\n  \n"); code != http.StatusOK {
		t.Errorf("POST /v1/whatif with a trailing newline: %d %s", code, body)
	}
	if code, _, _ := get(t, url+"/v1/whatif", ""); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /v1/whatif: %d", code)
	}
	f.set(func(fb *fakeBackend) { fb.fail = errors.New("store closed") })
	if code, body := post(t, url+"/v1/whatif", `{"fail":["h1"]}`); code != http.StatusInternalServerError || !strings.Contains(body, "store closed") {
		t.Errorf("POST /v1/whatif on a failing backend: %d %s", code, body)
	}
}

func TestCapacityHandlerAndClient(t *testing.T) {
	f := newForecastFake()
	url := serveForecast(t, f, ServerOptions{Token: strings.Repeat("k", 32)})
	code, body, ctype := get(t, url+"/v1/capacity", strings.Repeat("k", 32))
	var raw map[string]any
	if err := json.Unmarshal([]byte(body), &raw); code != http.StatusOK || ctype != "application/json" || err != nil {
		t.Fatalf("GET /v1/capacity: %d %s %v %s", code, ctype, err, body)
	}
	for _, k := range []string{"tolerates", "worst", "hosts", "exact", "reason"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("capacity JSON lacks %q: %s", k, body)
		}
	}
	if !strings.Contains(body, `"memory_free_mib":6144`) || !strings.Contains(body, `"vcpus_free":31`) {
		t.Errorf("capacity hosts: %s", body)
	}
	if code, _, _ := get(t, url+"/v1/capacity", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/capacity without a token: %d", code)
	}

	c, err := NewClient(url, strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	cv, err := c.Capacity(t.Context())
	// Losing h1 puts web1 (2048) on h3; losing h2 puts db1 (7168) on h3; both at once do not fit.
	if err != nil || cv.Tolerates != 1 || !slices.Equal(cv.Worst, []string{"h1", "h2"}) || !cv.Exact || len(cv.Hosts) != 3 {
		t.Errorf("Capacity: %v %+v", err, cv)
	}
	res, err := c.WhatIf(t.Context(), []string{"h2"})
	if err != nil || len(res.Restarts) != 1 || res.Restarts[0].VM != "db1" || res.Restarts[0].From != "h2" {
		t.Errorf("WhatIf h2: %v %+v", err, res)
	}
	if _, err := c.WhatIf(t.Context(), []string{"nope"}); !errors.Is(err, ErrBadRequest) || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("WhatIf nope: %v", err)
	}
	if !slices.Equal(f.asked[len(f.asked)-1], []string{"nope"}) {
		t.Errorf("the backend got %v", f.asked)
	}
}
