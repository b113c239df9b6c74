package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/policy"
)

// planCLIFake is a cliFake with the approval mode.
type planCLIFake struct {
	*cliFake
	plans     []api.PlanView
	decisions []api.PlanDecision // as the backend received them
}

// newPlanCLIFake returns a fake with a pending evacuation (p-1, two moves, created 30s ago and
// lapsing in 10 minutes), a pending recovery (p-2) and a rejected failback (p-3).
func newPlanCLIFake() *planCLIFake {
	now := time.Now()
	return &planCLIFake{cliFake: newCLIFake(), plans: []api.PlanView{
		{ID: "p-1", Kind: "evacuation", Host: "h1", Group: "rack1", Mode: "approve", State: "pending",
			Summary: "h1 is degraded (BMC health Critical): move its 2 VMs off",
			Moves: []api.PlanMove{
				{VM: "web1", From: "h1", To: "h2", Why: "h2 has the most free memory in rack1"},
				{VM: "web2", From: "h1", To: "h3", Why: "anti-affinity with web1"},
			},
			Created: now.Add(-30 * time.Second), Expires: now.Add(10*time.Minute + 30*time.Second)},
		{ID: "p-2", Kind: "recovery", Host: "h2", Mode: "approve", State: "pending",
			Summary: "h2 failed: fence it, then restart db1 on h3", Fence: "h2",
			Moves:   []api.PlanMove{{VM: "db1", From: "h2", To: "h3", Why: "standby host"}},
			Created: now.Add(-time.Minute), Expires: now.Add(9 * time.Minute), Deadline: now.Add(4 * time.Minute)},
		{ID: "p-3", Kind: "failback", Host: "h2", Mode: "approve", State: "rejected",
			Summary: "h2 is back: move db1 home",
			Created: now.Add(-2 * time.Hour), Expires: now.Add(-110 * time.Minute),
			DecidedBy: "bob@ws2 (from 10.0.0.9)", DecidedAt: now.Add(-115 * time.Minute), DecisionReason: "change freeze"},
	}}
}

// Plans implements api.Planner.
func (f *planCLIFake) Plans(context.Context) ([]api.PlanView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.PlanView(nil), f.plans...), nil
}

// Plan implements api.Planner.
func (f *planCLIFake) Plan(_ context.Context, id string) (api.PlanView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.plans {
		if p.ID == id {
			return p, nil
		}
	}
	return api.PlanView{}, fmt.Errorf("unknown plan %q: %w", id, api.ErrNotFound)
}

// Approve implements api.Planner.
func (f *planCLIFake) Approve(_ context.Context, id string, d api.PlanDecision) (api.PlanView, error) {
	return f.decide(id, d, "running")
}

// Reject implements api.Planner.
func (f *planCLIFake) Reject(_ context.Context, id string, d api.PlanDecision) (api.PlanView, error) {
	return f.decide(id, d, "rejected")
}

// decide records a decision on a pending plan.
func (f *planCLIFake) decide(id string, d api.PlanDecision, state string) (api.PlanView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.decisions = append(f.decisions, d)
	for i := range f.plans {
		p := &f.plans[i]
		if p.ID != id {
			continue
		}
		if p.State != "pending" {
			return api.PlanView{}, fmt.Errorf("plan %s is %s, not pending: %w", id, p.State, api.ErrConflict)
		}
		p.State, p.DecidedBy, p.DecidedAt, p.DecisionReason = policy.PlanState(state), d.By, time.Now(), d.Reason
		return *p, nil
	}
	return api.PlanView{}, fmt.Errorf("unknown plan %q: %w", id, api.ErrNotFound)
}

// startPlanDaemon serves the fake through the real API server and returns its URL, with the
// environment cleared of LIFEBOAT_* variables.
func startPlanDaemon(t *testing.T, f *planCLIFake) string {
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

// fields joins a line's whitespace-separated fields with single spaces.
func fields(line string) string { return strings.Join(strings.Fields(line), " ") }

func TestPlansTableAndJSON(t *testing.T) {
	url := startPlanDaemon(t, newPlanCLIFake())
	out, err := runCLI(t.Context(), "plans", "--server", url)
	if err != nil {
		t.Fatalf("plans: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || fields(lines[0]) != "ID KIND HOST STATE MOVES CREATED EXPIRES SUMMARY" {
		t.Fatalf("plans table:\n%s", out)
	}
	for i, re := range []string{
		`^p-1 evacuation h1 pending 2 3\ds in 10m\d+s h1 is degraded \(BMC health Critical\): move its 2 VMs off$`,
		`^p-2 recovery h2 pending 1 1m\ds in [89]m\d+s h2 failed: fence it, then restart db1 on h3$`,
		`^p-3 failback h2 rejected 0 2h0m - h2 is back: move db1 home$`,
	} {
		if !regexp.MustCompile(re).MatchString(fields(lines[i+1])) {
			t.Errorf("line %d = %q, want %s", i+1, fields(lines[i+1]), re)
		}
	}

	out, err = runCLI(t.Context(), "plans", "--server", url, "-o", "json")
	var ps []map[string]any
	if err != nil || json.Unmarshal([]byte(out), &ps) != nil || len(ps) != 3 {
		t.Fatalf("plans -o json: %v\n%s", err, out)
	}
	for _, k := range []string{"id", "kind", "host", "mode", "state", "summary", "moves", "created", "expires"} {
		if _, ok := ps[0][k]; !ok {
			t.Errorf("plan JSON lacks %q: %v", k, ps[0])
		}
	}
	if ps[2]["decision_reason"] != "change freeze" {
		t.Errorf("p-3 JSON: %v", ps[2])
	}
}

func TestPlansEmpty(t *testing.T) {
	f := newPlanCLIFake()
	f.plans = nil
	url := startPlanDaemon(t, f)
	if out, err := runCLI(t.Context(), "plans", "--server", url, "-o", "json"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Errorf("plans -o json with no plans: %v %q", err, out)
	}
	if out, err := runCLI(t.Context(), "plans", "--server", url); err != nil || strings.Count(out, "\n") != 1 {
		t.Errorf("plans with no plans: %v %q", err, out)
	}
}

func TestPlanShow(t *testing.T) {
	url := startPlanDaemon(t, newPlanCLIFake())
	out, err := runCLI(t.Context(), "plan", "show", "p-2", "--server", url)
	if err != nil {
		t.Fatalf("plan show p-2: %v\n%s", err, out)
	}
	for _, re := range []string{
		`(?m)^id: +p-2$`, `(?m)^kind: +recovery$`, `(?m)^host: +h2$`, `(?m)^group: +-$`, `(?m)^mode: +approve$`,
		`(?m)^state: +pending$`, `(?m)^summary: +h2 failed: fence it, then restart db1 on h3$`,
		`(?m)^fence: +h2 \(powered off and verified before any restart\)$`,
		`(?m)^created: +\S+ \S+ \(1m\ds ago\)$`, `(?m)^expires: +\S+ \S+ \(in [89]m\d+s\)$`,
		`(?m)^deadline: +\S+ \S+ \(in [34]m\d+s\): proceeds without approval unless rejected$`,
		`(?m)^decided: +-$`, `(?m)^reason: +-$`, `(?m)^result: +-$`,
		`(?m)^VM +FROM +TO +WHY\ndb1 +h2 +h3 +standby host$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("plan show p-2 does not match %s:\n%s", re, out)
		}
	}

	out, err = runCLI(t.Context(), "plan", "show", "p-3", "--server", url)
	if err != nil || !regexp.MustCompile(`(?m)^decided: +by bob@ws2 \(from 10\.0\.0\.9\) at \S+ \S+$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^reason: +change freeze$`).MatchString(out) || !strings.Contains(out, "\nno VM moves\n") {
		t.Errorf("plan show p-3: %v\n%s", err, out)
	}

	out, err = runCLI(t.Context(), "plan", "show", "p-1", "--server", url, "-o", "json")
	var p api.PlanView
	if err != nil || json.Unmarshal([]byte(out), &p) != nil || p.ID != "p-1" || len(p.Moves) != 2 || p.Moves[1].Why != "anti-affinity with web1" {
		t.Errorf("plan show p-1 -o json: %v\n%s", err, out)
	}
	// A plan without moves shows [] in JSON.
	if out, err := runCLI(t.Context(), "plan", "show", "p-3", "--server", url, "-o", "json"); err != nil || !strings.Contains(out, `"moves": []`) {
		t.Errorf("plan show p-3 -o json: %v\n%s", err, out)
	}
}

func TestApproveAndRejectCommands(t *testing.T) {
	f := newPlanCLIFake()
	url := startPlanDaemon(t, f)
	out, err := runCLI(t.Context(), "approve", "p-1", "--by", "alice@ws1", "--server", url)
	if err != nil || out != "plan p-1 approved by alice@ws1 (unauthenticated, from 127.0.0.1): running\n" {
		t.Errorf("approve p-1: %v %q", err, out)
	}
	out, err = runCLI(t.Context(), "reject", "p-2", "--by", "alice@ws1", "--reason", "the BMC lies; checking by hand", "--server", url)
	if err != nil || out != "plan p-2 rejected by alice@ws1 (unauthenticated, from 127.0.0.1): rejected\n" {
		t.Errorf("reject p-2: %v %q", err, out)
	}
	if len(f.decisions) != 2 || f.decisions[1].Reason != "the BMC lies; checking by hand" {
		t.Errorf("the backend got %+v", f.decisions)
	}
	// A decided plan conflicts; an unknown one is named, with a hint.
	if _, err := runCLI(t.Context(), "approve", "p-1", "--by", "alice", "--server", url); err == nil || !strings.Contains(err.Error(), "plan p-1 is running, not pending") {
		t.Errorf("approve p-1 again: %v", err)
	}
	if _, err := runCLI(t.Context(), "reject", "p-9", "--reason", "x", "--server", url); err == nil ||
		!strings.Contains(err.Error(), `unknown plan "p-9"`) || !strings.HasSuffix(err.Error(), "'lifeboat plans' lists them") {
		t.Errorf("reject p-9: %v", err)
	}
	if _, err := runCLI(t.Context(), "plan", "show", "p-9", "--server", url); err == nil || !strings.Contains(err.Error(), `unknown plan "p-9"`) {
		t.Errorf("plan show p-9: %v", err)
	}
}

func TestDeciderDefaultsToUserAtHost(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Skipf("no host name: %v", err)
	}
	f := newPlanCLIFake()
	url := startPlanDaemon(t, f)
	t.Setenv("SUDO_USER", "")
	t.Setenv("USER", "carol")
	out, err := runCLI(t.Context(), "approve", "p-1", "--server", url)
	if want := "plan p-1 approved by carol@" + host + " (unauthenticated, from 127.0.0.1): running\n"; err != nil || out != want {
		t.Errorf("approve without --by: %v %q, want %q", err, out, want)
	}
	// sudo: the person, not root.
	t.Setenv("SUDO_USER", "dave")
	t.Setenv("USER", "root")
	out, err = runCLI(t.Context(), "reject", "p-2", "--reason", "no", "--server", url)
	if want := "plan p-2 rejected by dave@" + host + " (unauthenticated, from 127.0.0.1): rejected\n"; err != nil || out != want {
		t.Errorf("reject under sudo: %v %q, want %q", err, out, want)
	}
}

func TestPlanCommandsRejectBadInput(t *testing.T) {
	f := newPlanCLIFake()
	url := startPlanDaemon(t, f)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"reject", "p-1"}, "reject p-1: --reason is required"},
		{[]string{"reject", "p-1", "--reason", "  "}, "reject p-1: --reason is required"},
		{[]string{"approve", "p-1", "--by", ""}, "--by is empty"},
		{[]string{"approve", "p-1", "--by", "alice\nroot"}, "by contains the control character U+000A"},
		{[]string{"approve", "p-1", "--by", strings.Repeat("a", 201)}, "by is too long"},
		{[]string{"approve"}, "want one plan ID, got 0 arguments; 'lifeboat plans' lists them"},
		{[]string{"reject", "p-1", "p-2", "--reason", "x"}, "want one plan ID, got 2 arguments"},
		{[]string{"plan", "show"}, "want one plan ID, got 0 arguments"},
		{[]string{"plans", "-o", "xml"}, `-o "xml"`},
		{[]string{"plan", "show", "p-1", "-o", "wide"}, `-o "wide"`},
		{[]string{"plans", "p-1"}, `unknown command "p-1"`},
	}
	for _, c := range cases {
		_, err := runCLI(t.Context(), append(c.args, "--server", url)...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error containing %q", c.args, err, c.want)
		}
	}
	if len(f.decisions) != 0 {
		t.Errorf("refused commands reached the backend: %+v", f.decisions)
	}
}
