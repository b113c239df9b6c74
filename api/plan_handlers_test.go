package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// planFake is a fakeBackend with the approval mode.
type planFake struct {
	*fakeBackend
	plans     []PlanView
	decisions []PlanDecision // as the backend received them
}

// newPlanFake returns a fake with a pending evacuation (p-1), a pending recovery without moves
// (p-2) and a rejected failback (p-3).
func newPlanFake() *planFake {
	return &planFake{fakeBackend: newFake(), plans: []PlanView{
		{ID: "p-1", Kind: "evacuation", Host: "h1", Group: "rack1", Mode: "approve", State: "pending",
			Summary: "h1 is degraded (BMC health Critical): move web1 off it",
			Moves:   []PlanMove{{VM: "web1", From: "h1", To: "h3", Why: "h3 has the most free memory in rack1"}},
			Created: t0, Expires: t0.Add(10 * time.Minute)},
		{ID: "p-2", Kind: "recovery", Host: "h2", Mode: "approve", State: "pending",
			Summary: "h2 failed: fence it, then restart its VMs", Fence: "h2",
			Created: t0, Expires: t0.Add(10 * time.Minute), Deadline: t0.Add(5 * time.Minute)},
		{ID: "p-3", Kind: "failback", Host: "h2", Mode: "approve", State: "rejected",
			Summary: "h2 is back: move db1 home", Moves: []PlanMove{{VM: "db1", From: "h3", To: "h2", Why: "home host"}},
			Created: t0, Expires: t0.Add(10 * time.Minute),
			DecidedBy: "bob@ws2 (from 10.0.0.9)", DecidedAt: t0.Add(time.Minute), DecisionReason: "wait for the change window"},
	}}
}

// Plans implements Planner.
func (f *planFake) Plans(context.Context) ([]PlanView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	out := make([]PlanView, len(f.plans))
	for i, p := range f.plans {
		p.Moves = nil // the handler must still answer [] for every plan's moves
		out[i] = p
	}
	return out, nil
}

// Plan implements Planner.
func (f *planFake) Plan(_ context.Context, id string) (PlanView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.find(id)
	if err != nil {
		return PlanView{}, err
	}
	return f.plans[i], nil
}

// Approve implements Planner.
func (f *planFake) Approve(_ context.Context, id string, d PlanDecision) (PlanView, error) {
	return f.decide(id, d, "running")
}

// Reject implements Planner.
func (f *planFake) Reject(_ context.Context, id string, d PlanDecision) (PlanView, error) {
	if d.Reason == "" {
		return PlanView{}, fmt.Errorf("reject %s: a reason is required: %w", id, ErrBadRequest)
	}
	return f.decide(id, d, "rejected")
}

// decide records a decision on a pending plan.
func (f *planFake) decide(id string, d PlanDecision, state string) (PlanView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	i, err := f.find(id)
	if err != nil {
		return PlanView{}, err
	}
	p := &f.plans[i]
	if p.State != "pending" {
		return PlanView{}, fmt.Errorf("plan %s is %s, not pending: %w", id, p.State, ErrConflict)
	}
	f.decisions = append(f.decisions, d)
	p.State, p.DecidedBy, p.DecidedAt, p.DecisionReason = policy.PlanState(state), d.By, t0.Add(2*time.Minute), d.Reason
	return *p, nil
}

// find returns the index of a plan; f.mu is held.
func (f *planFake) find(id string) (int, error) {
	for i, p := range f.plans {
		if p.ID == id {
			return i, nil
		}
	}
	return 0, fmt.Errorf("plan %s: %w", id, ErrNotFound)
}

// servePlans starts an httptest server over a planFake and returns its URL.
func servePlans(t *testing.T, f *planFake, opts ServerOptions) string {
	t.Helper()
	h, err := NewServer(f, opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// post sends a POST with a raw body and returns the status and body.
func post(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
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

func TestPlansListAndShow(t *testing.T) {
	url := servePlans(t, newPlanFake(), ServerOptions{})
	code, body, ctype := get(t, url+"/v1/plans", "")
	if code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("GET /v1/plans: %d %q %s", code, ctype, body)
	}
	var list []map[string]any
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 3 {
		t.Fatalf("GET /v1/plans: %v: %s", err, body)
	}
	for _, p := range list {
		for _, k := range []string{"id", "kind", "host", "mode", "state", "summary", "moves", "created", "expires"} {
			if _, ok := p[k]; !ok {
				t.Errorf("plan %v lacks %q", p["id"], k)
			}
		}
		if moves, ok := p["moves"].([]any); !ok || len(moves) != 0 {
			t.Errorf("plan %v: moves = %#v, want []", p["id"], p["moves"])
		}
	}

	code, body, _ = get(t, url+"/v1/plans/p-1", "")
	var p PlanView
	if err := json.Unmarshal([]byte(body), &p); code != http.StatusOK || err != nil || p.ID != "p-1" || len(p.Moves) != 1 || p.Moves[0].To != "h3" || !p.Expires.Equal(t0.Add(10*time.Minute)) {
		t.Errorf("GET /v1/plans/p-1: %d %v %+v", code, err, p)
	}
	// A plan without moves shows [], not null.
	if _, body, _ = get(t, url+"/v1/plans/p-2", ""); !strings.Contains(body, `"moves":[]`) || !strings.Contains(body, `"fence":"h2"`) {
		t.Errorf("GET /v1/plans/p-2: %s", body)
	}
	code, body, _ = get(t, url+"/v1/plans/p-9", "")
	if msg := decodeError(t, body, CodeNotFound); code != http.StatusNotFound || !strings.Contains(msg, "p-9") {
		t.Errorf("GET /v1/plans/p-9: %d %s", code, body)
	}
}

func TestPlansEmptyListIsNotNull(t *testing.T) {
	f := newPlanFake()
	f.plans = nil
	url := servePlans(t, f, ServerOptions{})
	if _, body, _ := get(t, url+"/v1/plans", ""); strings.TrimSpace(body) != "[]" {
		t.Errorf("GET /v1/plans = %q, want []", body)
	}
}

func TestApproveAndReject(t *testing.T) {
	f := newPlanFake()
	url := servePlans(t, f, ServerOptions{})

	code, body := post(t, url+"/v1/plans/p-1/approve", `{"by":"  alice@ws1 "}`)
	var p PlanView
	if err := json.Unmarshal([]byte(body), &p); code != http.StatusOK || err != nil || p.State != "running" {
		t.Fatalf("approve p-1: %d %v %s", code, err, body)
	}
	if p.DecidedBy != "alice@ws1 (unauthenticated, from 127.0.0.1)" {
		t.Errorf("approve p-1: decided_by %q, want the claimed name marked unauthenticated and the caller's address", p.DecidedBy)
	}
	code, body = post(t, url+"/v1/plans/p-2/reject", `{"by":"bob@ws2","reason":"the BMC is lying; checking by hand"}`)
	if err := json.Unmarshal([]byte(body), &p); code != http.StatusOK || err != nil || p.State != "rejected" || p.DecisionReason != "the BMC is lying; checking by hand" {
		t.Fatalf("reject p-2: %d %v %s", code, err, body)
	}
	if len(f.decisions) != 2 || f.decisions[1].By != "bob@ws2 (unauthenticated, from 127.0.0.1)" {
		t.Errorf("the backend got %+v", f.decisions)
	}

	// Decided plans conflict; unknown ones are not found.
	for _, c := range []struct {
		path, body string
		status     int
		code, want string
	}{
		{"/v1/plans/p-1/approve", `{"by":"alice@ws1"}`, http.StatusConflict, CodeConflict, "approve p-1: plan p-1 is running, not pending"},
		{"/v1/plans/p-3/reject", `{"by":"alice@ws1","reason":"x"}`, http.StatusConflict, CodeConflict, "not pending"},
		{"/v1/plans/p-9/approve", `{"by":"alice@ws1"}`, http.StatusNotFound, CodeNotFound, "p-9"},
		{"/v1/plans/p-9/reject", `{"by":"alice@ws1","reason":"x"}`, http.StatusNotFound, CodeNotFound, "p-9"},
	} {
		code, body := post(t, url+c.path, c.body)
		if msg := decodeError(t, body, c.code); code != c.status || !strings.Contains(msg, c.want) {
			t.Errorf("POST %s: %d %q, want %d containing %q", c.path, code, msg, c.status, c.want)
		}
	}
	if len(f.decisions) != 2 {
		t.Errorf("refused decisions reached the backend: %+v", f.decisions)
	}
}

func TestDecisionValidation(t *testing.T) {
	f := newPlanFake()
	url := servePlans(t, f, ServerOptions{})
	long := strings.Repeat("é", 201)
	for _, c := range []struct {
		verb, body, want string
	}{
		{"approve", `{"by":"` + long + `"}`, "by is too long (201 characters, at most 200)"},
		{"approve", `{"by":"alice\nroot@ws1"}`, "by contains the control character U+000A"},
		{"approve", `{"by":"alice\u001b[31m"}`, "by contains the control character U+001B"},
		{"approve", `{"by":"alice","force":true}`, `unknown field "force"`},
		{"approve", `{"by":`, "request body is not the expected JSON"},
		{"approve", `{"by":"alice","reason":"ok\u0000"}`, "reason contains the control character U+0000"},
		{"reject", `{"by":"alice@ws1"}`, "reject needs --reason"},
		{"reject", `{"by":"alice@ws1","reason":" \t "}`, "reject needs --reason"},
		{"reject", `{"by":"alice","reason":"` + strings.Repeat("x", 1001) + `"}`, "reason is too long"},
	} {
		code, body := post(t, url+"/v1/plans/p-1/"+c.verb, c.body)
		if msg := decodeError(t, body, CodeBadRequest); code != http.StatusBadRequest || !strings.Contains(msg, c.want) {
			t.Errorf("%s %q: %d %q, want 400 containing %q", c.verb, c.body, code, msg, c.want)
		}
	}
	if len(f.decisions) != 0 {
		t.Errorf("invalid decisions reached the backend: %+v", f.decisions)
	}
	// Exactly 200 characters is fine.
	if code, body := post(t, url+"/v1/plans/p-1/approve", `{"by":"`+long[len("é"):]+`"}`); code != http.StatusOK {
		t.Errorf("approve with a 200-character by: %d %s", code, body)
	}
}

func TestPlanRoutesNeedAPlanner(t *testing.T) {
	srv := serve(t, newFake(), ServerOptions{})
	code, body, _ := get(t, srv.URL+"/v1/plans", "")
	if msg := decodeError(t, body, CodeNotFound); code != http.StatusNotFound || !strings.Contains(msg, "no such API route") {
		t.Errorf("GET /v1/plans without a Planner: %d %s", code, body)
	}
}

func TestPlanRoutesNeedTheToken(t *testing.T) {
	url := servePlans(t, newPlanFake(), ServerOptions{Token: "tok"})
	if code, _, _ := get(t, url+"/v1/plans", ""); code != http.StatusUnauthorized {
		t.Errorf("GET /v1/plans without the token: %d", code)
	}
	if code, _ := post(t, url+"/v1/plans/p-1/approve", `{"by":"alice"}`); code != http.StatusUnauthorized {
		t.Errorf("approve without the token: %d", code)
	}
	if code, _, _ := do(t, http.MethodGet, url+"/v1/plans/p-1/approve", "tok"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET on approve: %d, want 405", code)
	}
}

func TestPlanClientRoundTrip(t *testing.T) {
	f := newPlanFake()
	c := newTestClient(t, servePlans(t, f, ServerOptions{Token: "tok"}), "tok")
	ctx := t.Context()

	ps, err := c.Plans(ctx)
	if err != nil || len(ps) != 3 || ps[0].ID != "p-1" || ps[2].DecisionReason != "wait for the change window" || ps[1].Moves == nil {
		t.Fatalf("Plans: %+v, %v", ps, err)
	}
	p, err := c.Plan(ctx, "p-2")
	if err != nil || p.Kind != "recovery" || p.Fence != "h2" || !p.Deadline.Equal(t0.Add(5*time.Minute)) {
		t.Errorf("Plan(p-2): %+v, %v", p, err)
	}
	// With authentication, the decider is the credential's identity, whatever by says.
	p, err = c.Approve(ctx, "p-1", PlanDecision{By: "alice@ws1"})
	if err != nil || p.State != "running" || p.DecidedBy != "token (from 127.0.0.1)" {
		t.Errorf("Approve(p-1): %+v, %v", p, err)
	}
	p, err = c.Reject(ctx, "p-2", PlanDecision{By: "alice@ws1", Reason: "not now"})
	if err != nil || p.State != "rejected" || p.DecisionReason != "not now" {
		t.Errorf("Reject(p-2): %+v, %v", p, err)
	}

	var aerr *Error
	if _, err := c.Plan(ctx, "p-9"); !errors.Is(err, ErrNotFound) || !errors.As(err, &aerr) || aerr.Status != http.StatusNotFound {
		t.Errorf("Plan(p-9): %v", err)
	}
	if _, err := c.Approve(ctx, "p-1", PlanDecision{By: "alice@ws1"}); !errors.Is(err, ErrConflict) {
		t.Errorf("Approve(p-1) again: %v", err)
	}
	if _, err := c.Reject(ctx, "p-3", PlanDecision{By: "alice@ws1"}); !errors.Is(err, ErrBadRequest) || err.Error() != "reject needs --reason" {
		t.Errorf("Reject without a reason: %v", err)
	}
	for _, id := range []string{"", ".", ".."} {
		if _, err := c.Plan(ctx, id); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Plan(%q): %v", id, err)
		}
		if _, err := c.Approve(ctx, id, PlanDecision{By: "alice"}); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Approve(%q): %v", id, err)
		}
	}
	// An id with a slash stays one path segment.
	if _, err := c.Plan(ctx, "p-1/approve"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Plan(p-1/approve): %v", err)
	}
}
