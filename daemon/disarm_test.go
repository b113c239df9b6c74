package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// TestDisarmGatesRecoveryAndSurvivesRestart: a failed host is not fenced while disarmed (the
// reconciler's snapshot carries the switch); the
// disarm is journaled with the caller's identity, shown in the status and the metric, survives
// a daemon restart, and arming lets recovery act again.
func TestDisarmGatesRecoveryAndSurvivesRestart(t *testing.T) {
	alice := api.WithIdentity(context.Background(), api.Identity{Name: "alice", Role: api.RoleAdmin, Method: api.AuthToken, Remote: "10.0.0.5"})
	cfg := fleetConfig(t.TempDir(), 3)
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	d := newTestDaemon(t, cfg, clk)
	v, err := d.Disarm(alice, "core switch upgrade")
	if err != nil || !v.Disarmed || v.By != "alice (from 10.0.0.5)" || v.Reason != "core switch upgrade" {
		t.Fatalf("Disarm: %+v %v", v, err)
	}
	if got := testutil.ToFloat64(d.disarm.gauge); got != 1 {
		t.Fatalf("lifeboat_disarmed = %v while disarmed", got)
	}
	d.db.Close()

	d = newTestDaemon(t, cfg, clk)
	defer func() { d.db.Close() }()
	st, err := d.Status(alice)
	if err != nil || !st.Disarm.Disarmed || st.Disarm.By != "alice (from 10.0.0.5)" || !st.Disarm.Since.Equal(clk.Now()) {
		t.Fatalf("after a restart the status says %+v %v", st.Disarm, err)
	}
	if got := testutil.ToFloat64(d.disarm.gauge); got != 1 {
		t.Fatalf("lifeboat_disarmed = %v after a restart", got)
	}

	// One host failed with a protected VM, the others answer: armed, recovery would fence it.
	d.mu.Lock()
	d.vms["u-web1"] = &store.VMRecord{UUID: "u-web1", Name: "web1", Definition: "<domain/>", CurrentHost: d.hosts[0].cfg.Name, Protected: true, MemoryMiB: 1}
	d.mu.Unlock()
	fail := func() {
		d.mu.Lock()
		for i, w := range d.hosts {
			w.sig.Libvirt.Result = policy.ProbeOK
			w.verdict.State = policy.Healthy
			if i == 0 {
				w.sig.Libvirt.Result = policy.ProbeTimeout
				w.verdict = policy.Verdict{State: policy.Failed, Since: clk.Now()}
			}
		}
		d.mu.Unlock()
	}
	fenceEntries := func() int {
		evs, err := d.db.Journal(context.Background(), 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Host == d.hosts[0].cfg.Name && e.Kind == "action" && strings.HasPrefix(e.Reason, "fence") {
				n++
			}
		}
		return n
	}
	fail()
	d.recoverOnce(alice)
	if n := fenceEntries(); n != 0 {
		t.Fatalf("disarmed, recovery still fenced the failed host (%d fence entries)", n)
	}

	if _, err := d.Arm(alice); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(d.disarm.gauge); got != 0 {
		t.Fatalf("lifeboat_disarmed = %v once armed", got)
	}
	fail()
	d.recoverOnce(alice)
	if fenceEntries() == 0 {
		t.Fatal("armed, recovery did not fence the failed host: the test cannot tell disarmed from idle")
	}
	// Let the fence (which fails: the host has no fence method) and its plan finish before the
	// store closes.
	within(t, "the fence attempt and its plan end", func() bool {
		evs, err := d.db.Journal(context.Background(), 0, 10000)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if strings.Contains(e.Message, "failed: the fence failed") {
				return true
			}
		}
		return false
	})
	evs, _ := d.db.Journal(context.Background(), 0, 10000)
	var said []string
	for _, e := range evs {
		if e.Kind == "decision" && (e.Reason == "disarmed" || e.Reason == "armed") && strings.HasPrefix(e.Message, "automatic action") {
			said = append(said, e.Message)
		}
	}
	if len(said) != 2 || !strings.Contains(said[0], "DISARMED by alice (from 10.0.0.5): core switch upgrade") || !strings.Contains(said[1], "armed by alice") {
		t.Fatalf("journal: %q", said)
	}
}

// within waits up to 10 s for cond.
func within(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("%s: not within 10 s", what)
}
