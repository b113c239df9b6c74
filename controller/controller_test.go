package controller

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
)

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

type daemonUnderTest struct {
	name    string
	s       *store.Etcd
	c       *Etcd
	cancel  context.CancelFunc
	done    chan struct{}
	mu      sync.Mutex
	adopted int
}

func startEtcdDaemon(t *testing.T, endpoint, name string) *daemonUnderTest {
	t.Helper()
	s, err := store.OpenEtcd(context.Background(), store.EtcdOptions{Endpoints: []string{endpoint}, Prefix: "/ha/", DialTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	d := &daemonUnderTest{name: name, s: s, done: make(chan struct{})}
	d.c = NewEtcd(s, 2*time.Second, Options{Name: name, URL: "http://" + name + ":7400",
		Adopt: func(context.Context) error { d.mu.Lock(); d.adopted++; d.mu.Unlock(); return nil }})
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	go func() { _ = d.c.Run(ctx); close(d.done) }()
	t.Cleanup(func() { d.stop(); _ = s.Close() })
	return d
}

func (d *daemonUnderTest) stop() {
	d.cancel()
	<-d.done
}

func acting(ds ...*daemonUnderTest) []string {
	var out []string
	for _, d := range ds {
		if d.c.Acting() {
			out = append(out, d.name)
		}
	}
	return out
}

// TestEtcdElection: of two daemons exactly one acts; both agree who leads and in which term;
// when the leader stops, the other takes over in a later term; the old term's writes fail.
func TestEtcdElection(t *testing.T) {
	m := etcdtest.StartForTest(t)
	ctx := context.Background()
	a := startEtcdDaemon(t, m.ClientURL, "a")
	eventually(t, "a leads", a.c.Acting)
	b := startEtcdDaemon(t, m.ClientURL, "b")
	eventually(t, "b sees a lead and both peers", func() bool {
		st := b.c.Status()
		return st.Leader == "a" && len(st.Peers) == 2
	})
	if got := acting(a, b); len(got) != 1 || got[0] != "a" {
		t.Fatalf("acting: %v, want exactly a", got)
	}
	sa, sb := a.c.Status(), b.c.Status()
	if sa.Role != RoleLeader || sb.Role != RoleFollower || sa.Term == 0 || sb.Term != sa.Term || sb.LeaderURL != "http://a:7400" {
		t.Errorf("status a %+v, b %+v", sa, sb)
	}
	if !strings.Contains(sb.Why, "a leads") {
		t.Errorf("the follower's why: %q", sb.Why)
	}
	if err := a.s.PutFence(ctx, policy.FenceRecord{Host: "h1", By: "a"}); err != nil {
		t.Fatalf("the leader's write: %v", err)
	}
	if err := b.s.PutFence(ctx, policy.FenceRecord{Host: "h1", By: "b"}); !errors.Is(err, store.ErrNotLeader) {
		t.Errorf("the follower's write: %v, want ErrNotLeader", err)
	}
	// a stops cleanly: it resigns, and b takes over in a later term after adopting.
	a.stop()
	eventually(t, "b leads", b.c.Acting)
	if st := b.c.Status(); st.Role != RoleLeader || st.Term <= sa.Term || st.Leader != "b" {
		t.Errorf("after takeover b is %+v (a's term was %d)", st, sa.Term)
	}
	b.mu.Lock()
	adopted := b.adopted
	b.mu.Unlock()
	if adopted != 1 {
		t.Errorf("b adopted %d times, want once", adopted)
	}
	if err := b.s.PutFence(ctx, policy.FenceRecord{Host: "h1", By: "b"}); err != nil {
		t.Errorf("the new leader's write: %v", err)
	}
}

// TestEtcdLostSession: a leader whose lease is revoked behind its back (as when etcd expires
// it) stops acting, and the follower takes over.
func TestEtcdLostSession(t *testing.T) {
	m := etcdtest.StartForTest(t)
	ctx := context.Background()
	a := startEtcdDaemon(t, m.ClientURL, "a")
	eventually(t, "a leads", a.c.Acting)
	b := startEtcdDaemon(t, m.ClientURL, "b")
	eventually(t, "b follows", func() bool { return b.c.Status().Leader == "a" })
	term := a.c.Status().Term
	// Revoke a's lease from the outside: its election key goes.
	leases, err := a.s.Client().Leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.s.Client().Get(ctx, "/ha/members/a")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("a's member record: %v, %v", resp, err)
	}
	if _, err := a.s.Client().Revoke(ctx, clientLease(resp.Kvs[0].Lease)); err != nil {
		t.Fatalf("revoke a's lease (of %d): %v", len(leases.Leases), err)
	}
	eventually(t, "b leads in a later term", func() bool { return b.c.Acting() && b.c.Status().Term > term })
	eventually(t, "a stops acting", func() bool { return !a.c.Acting() })
	if err := a.s.PutFence(ctx, policy.FenceRecord{Host: "h1", By: "a"}); !errors.Is(err, store.ErrNotLeader) {
		t.Errorf("the deposed leader's write: %v, want ErrNotLeader", err)
	}
	// a campaigns again and follows b.
	eventually(t, "a follows b", func() bool { st := a.c.Status(); return st.Leader == "b" && st.Role == RoleFollower })
}

// TestEtcdQuorumLost: when etcd goes away the leader stops acting within the session ttl, and
// says why; when it comes back a leader is elected again.
func TestEtcdQuorumLost(t *testing.T) {
	m := etcdtest.StartForTest(t)
	a := startEtcdDaemon(t, m.ClientURL, "a")
	eventually(t, "a leads", a.c.Acting)
	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	eventually(t, "a stops acting", func() bool { return !a.c.Acting() })
	t.Logf("the leader stopped acting %s after etcd was killed (session ttl 2s)", time.Since(killed).Round(time.Millisecond))
	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "a leads again", a.c.Acting)
}

// TestSingleLock: two single daemons with one lease directory: only one acts, the other says
// who holds the lock; when the first stops, the second takes over.
func TestSingleLock(t *testing.T) {
	dir := t.TempDir()
	start := func(name string) (*Single, context.CancelFunc, chan struct{}) {
		s := NewSingle(dir, Options{Name: name})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = s.Run(ctx); close(done) }()
		t.Cleanup(func() { cancel(); <-done })
		return s, cancel, done
	}
	a, stopA, doneA := start("a")
	eventually(t, "a acts", a.Acting)
	b, _, _ := start("b")
	eventually(t, "b says why it does not act", func() bool { return strings.Contains(b.Status().Why, "another lifeboat daemon (a, pid") })
	if b.Acting() || b.Status().Leader != "a" || b.Status().Role != RoleSingle {
		t.Errorf("b: acting %v, status %+v", b.Acting(), b.Status())
	}
	stopA()
	<-doneA
	if a.Acting() {
		t.Error("a still acts after it stopped")
	}
	eventually(t, "b acts", b.Acting)
	if st := b.Status(); st.Leader != "b" {
		t.Errorf("b's status after takeover %+v", st)
	}
	// Without a lease directory a single daemon acts at once and says it has no lock.
	n := NewSingle("", Options{Name: "n"})
	if !n.Acting() || !strings.Contains(n.Status().Why, "no lease_dir") {
		t.Errorf("without a lease dir: acting %v, %+v", n.Acting(), n.Status())
	}
}
