package daemon

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// fakeClock is an injected clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newTestDaemon(t *testing.T, cfg config.Config, clk *fakeClock) *Daemon {
	t.Helper()
	d, err := New(context.Background(), cfg, Options{Dial: fleet.New(1).Dial, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestPlansLifecycle walks plans through the approval mode's states on an injected clock: a
// plan per situation, rejection with a reason, expiry after the TTL, a recovery proceeding at
// its deadline, and plans kept across a daemon restart.
func TestPlansLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := fleetConfig(dir, 3)
	cfg.Hosts[2].Group = "rack9"
	cfg.Approval = config.Approval{Mode: config.ApprovalApprove, TTL: config.Duration(10 * time.Minute),
		RecoveryDeadline: config.Duration(time.Minute),
		Kinds:            map[string]config.ApprovalMode{"failback": config.ApprovalAutomatic},
		Groups:           map[string]config.ApprovalMode{"rack9": config.ApprovalNotifyOnly}}
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	d := newTestDaemon(t, cfg, clk)
	// The situations the plans are about: sim00000 degraded, sim00001 failed.
	d.hosts[0].health.track.Degraded = true
	d.hosts[1].verdict.State = policy.Failed

	evac := planSpec{Kind: "evacuation", Host: "sim00000", Key: "evacuation/sim00000/1", Summary: "evacuation of sim00000",
		Moves: []api.PlanMove{{VM: "vm1", From: "sim00000", To: "sim00001", Why: "most room"}}}
	for range 2 { // asked twice: still one plan
		if d.gate(ctx, evac) {
			t.Fatal("an evacuation ran without approval")
		}
	}
	ps, _ := d.Plans(ctx)
	if len(ps) != 1 || ps[0].State != "pending" || ps[0].Moves[0].To != "sim00001" || !ps[0].Expires.Equal(clk.Now().Add(10*time.Minute)) {
		t.Fatalf("want one pending plan with its diff and TTL, got %+v", ps)
	}
	id := ps[0].ID
	if _, err := d.Reject(ctx, id, api.PlanDecision{By: "bob"}); !errors.Is(err, api.ErrBadRequest) {
		t.Fatalf("reject without a reason: %v", err)
	}
	if p, err := d.Reject(ctx, id, api.PlanDecision{By: "bob", Reason: "change freeze"}); err != nil || p.State != "rejected" || p.DecidedBy != "bob" {
		t.Fatalf("reject: %+v %v", p, err)
	}
	if d.gate(ctx, evac) {
		t.Fatal("a rejected plan ran")
	}
	if _, err := d.Approve(ctx, id, api.PlanDecision{By: "alice"}); !errors.Is(err, api.ErrConflict) {
		t.Fatalf("approving a rejected plan: %v", err)
	}
	if _, err := d.Approve(ctx, "p-999", api.PlanDecision{By: "alice"}); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("approving an unknown plan: %v", err)
	}

	// A new situation gets a new plan; nobody decides; it expires and never runs.
	evac2 := evac
	evac2.Key = "evacuation/sim00000/2"
	d.gate(ctx, evac2)
	clk.Add(10*time.Minute + time.Second)
	d.plansOnce(ctx)
	if d.gate(ctx, evac2) {
		t.Fatal("an expired plan ran")
	}
	p2, _ := d.Plan(ctx, "p-2")
	if p2.State != "expired" || p2.DecidedBy != "ttl" {
		t.Fatalf("after the TTL: %+v", p2)
	}

	// Approved: it runs, once.
	evac3 := evac
	evac3.Key = "evacuation/sim00000/3"
	d.gate(ctx, evac3)
	if p, err := d.Approve(ctx, "p-3", api.PlanDecision{By: "alice@ws1"}); err != nil || p.State != "approved" {
		t.Fatalf("approve: %+v %v", p, err)
	}
	for range 2 { // approved, then running
		if !d.gate(ctx, evac3) {
			t.Fatal("an approved plan did not run")
		}
	}
	if p, _ := d.Plan(ctx, "p-3"); p.State != "running" || p.DecidedBy != "alice@ws1" {
		t.Fatalf("approved plan: %+v", p)
	}
	d.finishPlanFor(ctx, "evacuation", "sim00000", policy.PlanDone, "the host is empty")
	if p, _ := d.Plan(ctx, "p-3"); p.State != "done" || p.Result != "the host is empty" {
		t.Fatalf("finished plan: %+v", p)
	}

	// A recovery waits for approval until its deadline, then proceeds and says so.
	rec := planSpec{Kind: "recovery", Host: "sim00001", Key: "recovery/sim00001/1", Fence: "sim00001", Summary: "recovery of sim00001"}
	if d.gate(ctx, rec) {
		t.Fatal("a recovery ran without approval")
	}
	clk.Add(59 * time.Second)
	d.plansOnce(ctx)
	if d.gate(ctx, rec) {
		t.Fatal("a recovery ran before its deadline")
	}
	clk.Add(2 * time.Second)
	d.plansOnce(ctx)
	if !d.gate(ctx, rec) {
		t.Fatal("a recovery did not proceed at its deadline")
	}
	if p, _ := d.Plan(ctx, "p-4"); p.DecidedBy != "deadline" || p.Fence != "sim00001" {
		t.Fatalf("recovery plan after the deadline: %+v", p)
	}
	evs, _ := d.Events(ctx, 0, 1000)
	said := false
	for _, e := range evs {
		said = said || e.Reason == "plan_deadline"
	}
	if !said {
		t.Error("the journal does not say the recovery proceeded without approval")
	}

	// Kind and group overrides: failback is automatic; rack9 is notify-only.
	if !d.gate(ctx, planSpec{Kind: "failback", Host: "sim00000", Key: "failback/sim00000/1"}) {
		t.Fatal("failback is automatic by its kind override")
	}
	if d.gate(ctx, planSpec{Kind: "failback", Host: "sim00002", Group: "rack9", Key: "failback/sim00002/1"}) {
		t.Fatal("a notify-only plan ran")
	}
	if p, _ := d.Plan(ctx, "p-5"); p.State != "running" || p.Mode != "automatic" || p.DecidedBy != "lifeboat" {
		t.Fatalf("automatic plan (lifeboat approves its own plans): %+v", p)
	}
	if p, _ := d.Plan(ctx, "p-6"); p.State != "notified" || p.Mode != "notify-only" {
		t.Fatalf("notify-only plan: %+v", p)
	}

	// A situation that persists past approval.ttl after a rejection is proposed again.
	clk.Add(10 * time.Minute)
	if d.gate(ctx, evac) {
		t.Fatal("a re-proposed plan ran")
	}
	if p, _ := d.Plan(ctx, "p-7"); p.State != "pending" || p.Kind != "evacuation" {
		t.Fatalf("re-proposal: %+v", p)
	}
	// A pending plan whose situation passed expires without moving anything.
	d.hosts[0].health.track.Degraded = false
	d.plansOnce(ctx)
	if p, _ := d.Plan(ctx, "p-7"); p.State != "expired" || p.DecisionReason != "no longer needed" {
		t.Fatalf("plan of a passed situation: %+v", p)
	}

	// Plans survive a restart.
	d.db.Close()
	d2 := newTestDaemon(t, cfg, clk)
	defer d2.db.Close()
	ps2, _ := d2.Plans(ctx)
	if len(ps2) != 7 {
		t.Fatalf("after a restart %d plans, want 7", len(ps2))
	}
}

// TestOperatorMarkSurvivesRestart: an operator's degraded mark and a firing alert are stored
// with the host; a repair clears both, for good.
func TestOperatorMarkSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	cfg := fleetConfig(t.TempDir(), 2)
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	d := newTestDaemon(t, cfg, clk)
	if err := d.Degrade(ctx, "sim00001", "fan 3 failing"); err != nil {
		t.Fatal(err)
	}
	if err := d.ReceiveAlerts(ctx, []api.AlertObservation{{Host: "sim00001", Fingerprint: "fp1", Name: "NodeDiskErrors", Firing: true, Severity: "critical", Summary: "sdb"}}); err != nil {
		t.Fatal(err)
	}
	d.db.Close()
	d2 := newTestDaemon(t, cfg, clk)
	defer d2.db.Close()
	w := d2.byName["sim00001"]
	if !w.sig.Operator.Degraded || w.sig.Operator.DegradedReason != "fan 3 failing" {
		t.Fatalf("after a restart the mark is %+v", w.sig.Operator)
	}
	if o, ok := w.health.events["alert:fp1"]; !ok || o.Severity != policy.SeverityCritical || !strings.Contains(o.Reason, "NodeDiskErrors") {
		t.Fatalf("after a restart the firing alert is %+v", w.health.events)
	}
	if err := d2.Repair(ctx, "sim00001"); err != nil {
		t.Fatal(err)
	}
	d2.db.Close()
	d3 := newTestDaemon(t, cfg, clk)
	defer d3.db.Close()
	if w := d3.byName["sim00001"]; w.sig.Operator.Degraded || len(w.health.events) != 0 {
		t.Fatal("the repair (mark and latched alert) did not survive a restart")
	}
}
