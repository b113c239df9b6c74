package store

import (
	"context"
	"errors"
	"testing"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// TestEtcdFencedWrites: a leader's writes carry its term; once another daemon leads, the
// deposed leader's writes fail with ErrNotLeader and change nothing; a follower writes nothing.
func TestEtcdFencedWrites(t *testing.T) {
	m := etcdtest.StartForTest(t)
	ctx := context.Background()
	open := func() *Etcd {
		s, err := OpenEtcd(ctx, EtcdOptions{Endpoints: []string{m.ClientURL}, Prefix: "/fence/"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s
	}
	a, b := open(), open()
	campaign := func(s *Etcd, name string) (*concurrency.Session, *concurrency.Election) {
		sess, err := concurrency.NewSession(s.Client(), concurrency.WithTTL(5))
		if err != nil {
			t.Fatal(err)
		}
		el := concurrency.NewElection(sess, s.ElectionPrefix())
		if err := el.Campaign(ctx, name); err != nil {
			t.Fatal(err)
		}
		s.SetTerm(Term{Key: el.Key(), Rev: el.Rev()})
		return sess, el
	}
	// b is a follower: every write is refused before it reaches etcd.
	b.SetTerm(Term{})
	if err := b.PutFence(ctx, policy.FenceRecord{Host: "h1"}); !errors.Is(err, ErrNotLeader) {
		t.Errorf("a follower's PutFence = %v, want ErrNotLeader", err)
	}
	sessA, elA := campaign(a, "a")
	if err := a.PutFence(ctx, policy.FenceRecord{Host: "h1", By: "a"}); err != nil {
		t.Fatalf("the leader's PutFence = %v", err)
	}
	if _, err := a.NextPlanID(ctx); err != nil {
		t.Fatalf("the leader's NextPlanID = %v", err)
	}
	// a's session ends (as when its lease expires); b campaigns and wins; a still believes in
	// its old term.
	if err := sessA.Close(); err != nil {
		t.Fatal(err)
	}
	_ = elA
	sessB, _ := campaign(b, "b")
	defer sessB.Close()
	for what, write := range map[string]func() error{
		"PutFence":   func() error { return a.PutFence(ctx, policy.FenceRecord{Host: "h1", By: "a again"}) },
		"PutRestart": func() error { return a.PutRestart(ctx, policy.RestartRecord{UUID: "u1", VM: "v1"}) },
		"PutFreeze":  func() error { return a.PutFreeze(ctx, policy.Freeze{Frozen: true}) },
		"PutPlan":    func() error { return a.PutPlan(ctx, plan(7, "approved")) },
		"NextPlanID": func() error { _, err := a.NextPlanID(ctx); return err },
		"Append":     func() error { _, err := a.Append(ctx, entry(1)); return err },
		"PutVM":      func() error { return a.PutVM(ctx, vm(1)) },
	} {
		if err := write(); !errors.Is(err, ErrNotLeader) {
			t.Errorf("the deposed leader's %s = %v, want ErrNotLeader", what, err)
		}
	}
	g, err := b.Guards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if g.Fence("h1").By != "a" || len(g.Restarts) != 0 || g.Freeze.Frozen {
		t.Errorf("the deposed leader's writes changed the guards: %+v", g)
	}
	if ps, _ := b.ListPlans(ctx); len(ps) != 0 {
		t.Errorf("the deposed leader's plan was stored: %+v", ps)
	}
	// The new leader writes, and the plan counter went on from a's number.
	if id, err := b.NextPlanID(ctx); err != nil || id != "p-2" {
		t.Errorf("the new leader's NextPlanID = %q, %v; want p-2", id, err)
	}
}
