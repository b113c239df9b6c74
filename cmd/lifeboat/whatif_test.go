package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/policy"
)

// forecastCLIFake is a cliFake that answers what-if and capacity questions with the real policy
// functions over a snapshot: h1 and h2 active, h3 standby, 8 GiB each.
type forecastCLIFake struct {
	*cliFake
	snap policy.Snapshot
}

func newForecastCLIFake() *forecastCLIFake {
	host := func(name, role string) policy.HostView {
		return policy.HostView{Name: name, Role: role, Verdict: policy.Verdict{Host: name, State: policy.Healthy}, Libvirt: policy.ProbeOK,
			BMCConfigured: true, BMCReachable: true, Heard: true, MemoryMiB: 8192, VCPUs: 8, RecoveryMode: policy.ApprovalAutomatic}
	}
	vm := func(name, on string, mem, prio int) policy.VMView {
		return policy.VMView{Name: name, UUID: "uuid-" + name, Protected: true, Restartable: true, MemoryMiB: mem, VCPUs: 2, Priority: prio,
			Current: on, Home: on, State: "running"}
	}
	return &forecastCLIFake{cliFake: newCLIFake(), snap: policy.Snapshot{
		Config: policy.RecoveryConfig{Automatic: true, MassFailureFraction: 0.34, MassFailureWindow: 10 * time.Second, FenceWindow: 10 * time.Minute,
			RestartConcurrency: 4, Placement: policy.PlacementConfig{MemoryOvercommit: 1, CPUOvercommit: 4}},
		Hosts: []policy.HostView{host("h1", "active"), host("h2", "active"), host("h3", "standby")},
		VMs:   []policy.VMView{vm("web1", "h1", 2048, 0), vm("db1", "h1", 4096, 10), vm("big", "h2", 7168, 0)},
	}}
}

// WhatIf implements api.Forecaster.
func (f *forecastCLIFake) WhatIf(_ context.Context, fail []string) (api.WhatIfResult, error) {
	res, err := policy.WhatIf(f.snap, fail, time.Now())
	if errors.Is(err, policy.ErrUnknownHost) {
		return res, fmt.Errorf("%w: %w", api.ErrBadRequest, err)
	}
	return res, err
}

// Capacity implements api.Forecaster.
func (f *forecastCLIFake) Capacity(context.Context) (api.CapacityView, error) {
	return policy.FailoverCapacity(f.snap), nil
}

func startForecastDaemon(t *testing.T, f *forecastCLIFake) string {
	t.Helper()
	for _, env := range []string{envServer, envConfig, envToken} {
		t.Setenv(env, "")
	}
	h, err := api.NewServer(f, api.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestWhatIfCommand(t *testing.T) {
	url := startForecastDaemon(t, newForecastCLIFake())
	out, err := runCLI(t.Context(), "whatif", "--fail", "h1", "--server", url)
	if err != nil {
		t.Fatalf("whatif: %v\n%s", err, out)
	}
	for _, want := range []string{
		"If h1 lost power now (nothing was changed):",
		"Would fence (power off, verified): h1",
		"RESTART FROM TO WHY",
		"db1 h1 h3 db1 restarts on h3: h1 was fenced",
		"2 VMs would restart, 0 would find no room.",
	} {
		if !strings.Contains(squeeze(out), want) {
			t.Errorf("whatif output lacks %q:\n%s", want, out)
		}
	}
	// Priority first: db1 (10) before web1 (0).
	if strings.Index(out, "db1 ") > strings.Index(out, "web1 ") {
		t.Errorf("restarts out of priority order:\n%s", out)
	}

	out, err = runCLI(t.Context(), "whatif", "--fail", "h2,h1", "--server", url)
	if err != nil || !strings.Contains(out, "FROZEN: mass failure") || !strings.Contains(out, "No host would be fenced.") ||
		!strings.Contains(squeeze(out), "HELD CODE WHY") {
		t.Errorf("whatif h1,h2: %v\n%s", err, out)
	}

	out, err = runCLI(t.Context(), "whatif", "--fail", "h2", "--fail", "h2", "-o", "json", "--server", url)
	var res map[string]any
	if err != nil || json.Unmarshal([]byte(out), &res) != nil {
		t.Fatalf("whatif -o json: %v\n%s", err, out)
	}
	for _, k := range []string{"fail", "frozen", "reason", "fences", "restarts", "stuck", "held"} {
		if _, ok := res[k]; !ok {
			t.Errorf("whatif JSON lacks %q: %s", k, out)
		}
	}
	if rs, _ := res["restarts"].([]any); len(rs) != 1 || rs[0].(map[string]any)["vm"] != "big" || rs[0].(map[string]any)["to"] != "h3" || fmt.Sprint(res["fail"]) != "[h2]" {
		t.Errorf("whatif h2 JSON: %s", out)
	}

	// A VM too big for any host is reported, with the reason.
	f := newForecastCLIFake()
	f.snap.VMs = append(f.snap.VMs, policy.VMView{Name: "huge", UUID: "uuid-huge", Protected: true, Restartable: true, MemoryMiB: 9000, VCPUs: 1, Current: "h1", Home: "h1"})
	url = startForecastDaemon(t, f)
	out, err = runCLI(t.Context(), "whatif", "--fail", "h1", "--server", url)
	if err != nil || !strings.Contains(squeeze(out), "NO ROOM FROM WHY\nhuge h1 huge cannot restart yet") || !strings.Contains(out, "2 VMs would restart, 1 would find no room.") {
		t.Errorf("whatif with a VM too big: %v\n%s", err, out)
	}
}

func TestWhatIfCommandRejectsBadInput(t *testing.T) {
	url := startForecastDaemon(t, newForecastCLIFake())
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"whatif"}, "--fail is required"},
		{[]string{"whatif", "--fail", "h1,h9"}, `unknown host: "h9"`},
		{[]string{"whatif", "--fail", "h1", "-o", "xml"}, `-o "xml"`},
		{[]string{"whatif", "--fail", "h1", "extra"}, `unknown command "extra"`},
		{[]string{"capacity", "-o", "wide"}, `-o "wide"`},
	} {
		if _, err := runCLI(t.Context(), append(c.args, "--server", url)...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

func TestCapacityCommand(t *testing.T) {
	url := startForecastDaemon(t, newForecastCLIFake())
	out, err := runCLI(t.Context(), "capacity", "--server", url)
	if err != nil {
		t.Fatalf("capacity: %v\n%s", err, out)
	}
	// Losing h1 puts db1 and web1 on h3; losing h2 puts big on h3; losing both leaves no room.
	for _, want := range []string{
		"Tolerates: 1 host failure at once (exact)",
		"Worst: h1, h2",
		"HOST STATE MEMORY FREE VCPUS FREE",
		"h1 healthy 2048 MiB 28",
		"h3 healthy 8192 MiB 32",
	} {
		if !strings.Contains(squeeze(out), want) {
			t.Errorf("capacity output lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(t.Context(), "capacity", "-o", "json", "--server", url)
	var c map[string]any
	if err != nil || json.Unmarshal([]byte(out), &c) != nil || c["tolerates"] != float64(1) {
		t.Fatalf("capacity -o json: %v\n%s", err, out)
	}
	for _, k := range []string{"tolerates", "worst", "hosts", "exact", "reason"} {
		if _, ok := c[k]; !ok {
			t.Errorf("capacity JSON lacks %q: %s", k, out)
		}
	}
	hosts, _ := c["hosts"].([]any)
	if len(hosts) != 3 || hosts[0].(map[string]any)["memory_free_mib"] != float64(2048) {
		t.Errorf("capacity hosts JSON: %s", out)
	}
}

// squeeze joins each line's fields with single spaces.
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}
