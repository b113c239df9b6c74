package daemon

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
	"github.com/lifeboat-ha/lifeboat/testenv/guest"
)

// notifications collects the webhook notifications the daemon sends.
type notifications struct {
	mu    sync.Mutex
	kinds []string
	srv   *httptest.Server
}

func collectNotifications(t *testing.T) *notifications {
	n := &notifications{}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Kind string `json:"kind"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err == nil {
			n.mu.Lock()
			n.kinds = append(n.kinds, body.Kind)
			n.mu.Unlock()
		}
	}))
	t.Cleanup(n.srv.Close)
	return n
}

// missing returns the kinds not received (within a few seconds, for deliveries under way).
func (n *notifications) missing(kinds ...string) []string {
	var out []string
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		out = out[:0]
		n.mu.Lock()
		for _, k := range kinds {
			if !slices.Contains(n.kinds, k) {
				out = append(out, k)
			}
		}
		n.mu.Unlock()
		if len(out) == 0 || time.Now().After(end) {
			return out
		}
	}
}

// shortFailback makes failback quick enough for a lab test.
func shortFailback(stable time.Duration) func(*config.Config) {
	return func(c *config.Config) {
		c.Failback.Enabled = true
		c.Failback.StableFor = config.Duration(stable)
		c.Failback.WaveInterval = config.Duration(time.Second)
		c.Failback.WaveSize = 1
	}
}

// waitOn waits until the guest runs on exactly the host; it returns the time taken.
func waitOn(t *testing.T, l *testenv.Lab, g testenv.Guest, host string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		on, _ := l.RunningOn(g.Name)
		if len(on) == 1 && on[0] == host {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Fatalf("%s not on %s after %s (on %v)", g.Name, host, within, on)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// uptime reads a guest's uptime from its agent.
func uptime(t *testing.T, g testenv.Guest) float64 {
	t.Helper()
	st, err := guest.GetStatus(context.Background(), guest.Addr(g.IP))
	if err != nil {
		t.Fatalf("%s: %v", g.Name, err)
	}
	return st.UptimeSeconds
}

// migrationsOf counts the successful migrations of a VM out of and into a host.
func migrationsOf(t *testing.T, c *api.Client, vm, host string) (out, in int) {
	t.Helper()
	ms, err := c.Migrations(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.VM != vm || m.State != "succeeded" {
			continue
		}
		if m.From == host {
			out++
		}
		if m.To == host {
			in++
		}
	}
	return out, in
}

// TestLabDegradeEvacuateFailback: the BMC of h1 reports Critical; h1 turns degraded within the
// BMC interval, its guests live-migrate off (ping shows they stay up, their uptime goes on).
// After the repair and failback.stable_for, they come home by live migration, except the one
// set nofailback, which stays where it landed.
func TestLabDegradeEvacuateFailback(t *testing.T) {
	testenv.Parallel(t)
	const stable = 4 * time.Second
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 4}, func(cfg *config.Config) {
		shortFailback(stable)(cfg)
		cfg.Failback.NoFailbackVMs = []string{"g3"}
	})
	stop := invariantWatch(t, l)
	defer stop()
	ctx := context.Background()
	gs := guestsOf(l, "h1")
	if len(gs) != 2 || !slices.ContainsFunc(gs, func(g testenv.Guest) bool { return g.Name == "g3" }) {
		t.Fatalf("want g1 and g3 at home on h1, got %+v", gs)
	}
	ups := map[string]float64{}
	var pingers []*testenv.Pinger
	for _, g := range gs {
		ups[g.Name] = uptime(t, g)
		p, err := testenv.StartPinger(ctx, g.IP, 20*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		defer p.Stop()
		pingers = append(pingers, p)
	}
	start := time.Now()
	if err := l.Degrade("h1", bmc.HealthCritical, "PSU 2 lost input"); err != nil {
		t.Fatal(err)
	}
	detect := waitState(t, c, "h1", "degraded", 5*time.Second)
	if h := hostState(t, c, "h1"); !strings.Contains(h.Message, "PSU 2 lost input") {
		t.Errorf("degraded verdict does not give the BMC's reason: %q", h.Message)
	}
	waitElsewhere(t, l, gs, "h1", 2*time.Minute)
	empty := time.Since(start)
	for _, g := range gs {
		if u := uptime(t, g); u < ups[g.Name] {
			t.Fatalf("%s was restarted, not live-migrated: uptime %.1f s, then %.1f s", g.Name, ups[g.Name], u)
		}
	}
	t.Logf("BMC Critical: degraded after %s, h1 empty after %s", detect.Round(100*time.Millisecond), empty.Round(100*time.Millisecond))
	// Quarantine: nothing returns while h1 is degraded.
	holdNot(t, c, "h1", 3*time.Second, "healthy")
	for _, g := range gs {
		if on, _ := l.RunningOn(g.Name); slices.Contains(on, "h1") {
			t.Fatalf("%s went back to degraded h1", g.Name)
		}
	}

	repaired := time.Now()
	if err := l.Repair("h1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "healthy", 15*time.Second)
	g1 := gs[slices.IndexFunc(gs, func(g testenv.Guest) bool { return g.Name == "g1" })]
	back := waitOn(t, l, g1, "h1", 2*time.Minute)
	if since := time.Since(repaired); since < stable {
		t.Fatalf("g1 came home %s after the repair, before failback.stable_for %s", since, stable)
	}
	if u := uptime(t, g1); u < ups["g1"] {
		t.Fatalf("g1 was restarted on the way home")
	}
	t.Logf("failback: g1 home %s after the host was healthy again", back.Round(100*time.Millisecond))
	// g3 is nofailback: it stays.
	time.Sleep(3 * time.Second)
	if on, _ := l.RunningOn("g3"); len(on) != 1 || on[0] == "h1" {
		t.Fatalf("nofailback g3 is on %v, want where it landed", on)
	}
	for _, p := range pingers {
		t.Logf("longest ping gap %s", p.MaxGap().Round(time.Millisecond))
		if p.MaxGap() > 5*time.Second {
			t.Errorf("a guest stopped answering for %s", p.MaxGap())
		}
	}
	if !journalHas(t, c, "decision", "failback", "") {
		t.Error("no failback in the journal")
	}
}

// TestLabDegradeFlap: degrade, repair, degrade again inside the failback window, repair: every
// guest leaves once and comes home at most once.
func TestLabDegradeFlap(t *testing.T) {
	testenv.Parallel(t)
	const stable = 8 * time.Second
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2}, shortFailback(stable))
	stop := invariantWatch(t, l)
	defer stop()
	ctx := context.Background()
	g := guestsOf(l, "h1")[0]
	if err := c.Degrade(ctx, "h1", "flap test 1"); err != nil {
		t.Fatal(err)
	}
	waitElsewhere(t, l, []testenv.Guest{g}, "h1", time.Minute)
	if err := c.Repair(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "healthy", 10*time.Second)
	time.Sleep(stable / 3)
	if err := c.Degrade(ctx, "h1", "flap test 2"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "degraded", 5*time.Second)
	time.Sleep(stable) // the first window would have ended here: nothing goes back to a degraded host
	if on, _ := l.RunningOn(g.Name); slices.Contains(on, "h1") {
		t.Fatalf("%s went back to h1 while it degraded again", g.Name)
	}
	if err := c.Repair(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	waitOn(t, l, g, "h1", time.Minute)
	time.Sleep(3 * time.Second)
	out, in := migrationsOf(t, c, g.Name, "h1")
	if out != 1 || in != 1 {
		t.Fatalf("%s left h1 %d times and came back %d times; want once each", g.Name, out, in)
	}
}

// TestLabApprovalMode: with approval mode approve, an evacuation waits as a pending plan and
// nothing moves; a rejected plan moves nothing; an approved one runs and records who approved
// it; a plan nobody decides expires and moves nothing.
func TestLabApprovalMode(t *testing.T) {
	testenv.Parallel(t)
	notes := collectNotifications(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2}, func(cfg *config.Config) {
		cfg.Approval.Mode = config.ApprovalApprove
		cfg.Approval.TTL = config.Duration(8 * time.Second)
		cfg.Failback.Enabled = false
		cfg.Notify.WebhookURL = notes.srv.URL
	})
	stop := invariantWatch(t, l)
	defer stop()
	ctx := context.Background()
	g := guestsOf(l, "h1")[0]
	pending := func(kind string) api.PlanView {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			ps, err := c.Plans(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps {
				if p.State == "pending" && string(p.Kind) == kind {
					return p
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no pending %s plan: %+v", kind, ps)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	stays := func(d time.Duration) {
		t.Helper()
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			if on, _ := l.RunningOn(g.Name); len(on) != 1 || on[0] != "h1" {
				t.Fatalf("%s moved without approval: on %v", g.Name, on)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	// 1. Rejected.
	if err := c.Degrade(ctx, "h1", "approval test: rejected"); err != nil {
		t.Fatal(err)
	}
	p := pending("evacuation")
	if len(p.Moves) != 1 || p.Moves[0].VM != g.Name || p.Moves[0].From != "h1" || p.Moves[0].To == "" || p.Moves[0].Why == "" {
		t.Fatalf("plan diff: %+v", p.Moves)
	}
	stays(2 * time.Second)
	if _, err := c.Reject(ctx, p.ID, api.PlanDecision{By: "bob@test"}); err == nil {
		t.Fatal("a reject without a reason was accepted")
	}
	rp, err := c.Reject(ctx, p.ID, api.PlanDecision{By: "bob@test", Reason: "not now"})
	if err != nil || rp.State != "rejected" {
		t.Fatalf("reject: %+v %v", rp, err)
	}
	stays(3 * time.Second)
	if _, err := c.Approve(ctx, p.ID, api.PlanDecision{By: "bob@test"}); err == nil {
		t.Fatal("a rejected plan was approved")
	}
	if err := c.Repair(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "healthy", 10*time.Second)

	// 2. Expired: nobody decides within the TTL.
	if err := c.Degrade(ctx, "h1", "approval test: expired"); err != nil {
		t.Fatal(err)
	}
	p = pending("evacuation")
	stays(9 * time.Second)
	if ep, _ := c.Plan(ctx, p.ID); ep.State != "expired" {
		t.Fatalf("plan %s after its TTL: %s", p.ID, ep.State)
	}
	if err := c.Repair(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "healthy", 10*time.Second)

	// 3. Approved: it runs, and says who approved it.
	if err := c.Degrade(ctx, "h1", "approval test: approved"); err != nil {
		t.Fatal(err)
	}
	p = pending("evacuation")
	stays(time.Second)
	ap, err := c.Approve(ctx, p.ID, api.PlanDecision{By: "alice@test"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ap.DecidedBy, "alice@test") {
		t.Fatalf("approved by %q", ap.DecidedBy)
	}
	waitElsewhere(t, l, []testenv.Guest{g}, "h1", time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for {
		dp, _ := c.Plan(ctx, p.ID)
		if dp.State == "done" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("approved plan ends %s", dp.State)
		}
		time.Sleep(200 * time.Millisecond)
	}
	evs, err := c.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range evs {
		found = found || (e.Reason == "plan_approved" && strings.Contains(e.Message, "alice@test") && strings.Contains(e.Message, p.ID))
	}
	if !found {
		t.Error("the journal does not record who approved the plan")
	}

	// 4. A switchover is a plan too.
	other := guestsOf(l, "h2")[0]
	res, err := c.Switchover(ctx, api.SwitchoverRequest{VM: other.Name})
	if err != nil {
		t.Fatal(err)
	}
	if res.Plan == "" || res.PlanState != "pending" || res.Migration != "" {
		t.Fatalf("switchover under approval: %+v", res)
	}
	time.Sleep(time.Second)
	if on, _ := l.RunningOn(other.Name); len(on) != 1 || on[0] != "h2" {
		t.Fatalf("%s moved before approval: %v", other.Name, on)
	}
	if _, err := c.Approve(ctx, res.Plan, api.PlanDecision{By: "alice@test"}); err != nil {
		t.Fatal(err)
	}
	waitElsewhere(t, l, []testenv.Guest{other}, "h2", time.Minute)
	t.Logf("switchover plan %s approved and run", res.Plan)
	if m := notes.missing("plan_pending", "plan_rejected", "plan_expired", "plan_approved", "evacuation", "evacuation_complete"); len(m) > 0 {
		t.Errorf("no notification of kind %v (got %v)", m, notes.kinds)
	}
}

// TestLabApprovalRecoveryDeadline: with recovery under approval and a deadline, a host's power
// loss becomes a pending recovery plan (fence, then restarts) and nothing is fenced or restarted;
// at the deadline the recovery proceeds without approval, and the journal says so.
func TestLabApprovalRecoveryDeadline(t *testing.T) {
	testenv.Parallel(t)
	const deadline = 6 * time.Second
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 2}, func(cfg *config.Config) {
		cfg.Approval.Kinds = map[string]config.ApprovalMode{"recovery": config.ApprovalApprove}
		cfg.Approval.RecoveryDeadline = config.Duration(deadline)
		shortFailback(3 * time.Second)(cfg)
	})
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	gs := guestsOf(l, "h1")
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	var plan api.PlanView
	for end := time.Now().Add(15 * time.Second); plan.ID == ""; {
		ps, err := c.Plans(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps {
			if p.Kind == "recovery" && p.State == "pending" {
				plan = p
			}
		}
		if time.Now().After(end) {
			t.Fatalf("no pending recovery plan: %+v", ps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if plan.Fence != "h1" || plan.Deadline.IsZero() || len(plan.Moves) != len(gs) {
		t.Fatalf("recovery plan: %+v", plan)
	}
	for time.Until(plan.Deadline) > 500*time.Millisecond {
		if journalHas(t, c, "action", "fence_started", "h1") {
			t.Fatal("h1 was fenced before the plan was approved or its deadline")
		}
		if on, _ := l.RunningOn(gs[0].Name); len(on) > 0 {
			t.Fatalf("%s restarted on %v before the deadline", gs[0].Name, on)
		}
		time.Sleep(200 * time.Millisecond)
	}
	took := waitElsewhere(t, l, gs, "h1", time.Minute)
	t.Logf("recovery proceeded at its deadline; guests running elsewhere %s later", took.Round(100*time.Millisecond))
	p, err := c.Plan(ctx, plan.ID)
	if err != nil {
		t.Fatal(err)
	}
	if p.DecidedBy != "deadline" || (p.State != "running" && p.State != "done") {
		t.Fatalf("plan after the deadline: %+v", p)
	}
	if !journalHas(t, c, "decision", "plan_deadline", "h1") || !journalHas(t, c, "action", "fenced", "h1") {
		t.Error("the journal lacks the deadline decision or the fence")
	}

	// Failback after a hard failure: h1 boots again, proves stable, and its guests come home
	// by live migration.
	for _, g := range gs {
		wctx, cancel := context.WithTimeout(ctx, time.Minute)
		err := testenv.WaitGuestUp(wctx, g.IP)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
	}
	ups := map[string]float64{}
	for _, g := range gs {
		ups[g.Name] = uptime(t, g)
	}
	if err := l.PowerOn(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	waitState(t, c, "h1", "healthy", time.Minute)
	for _, g := range gs {
		back := waitOn(t, l, g, "h1", time.Minute)
		if u := uptime(t, g); u < ups[g.Name] {
			t.Fatalf("%s was restarted on its way home, not live-migrated", g.Name)
		}
		t.Logf("%s home on h1 %s after h1 was healthy", g.Name, back.Round(100*time.Millisecond))
	}
}
