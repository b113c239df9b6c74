package daemon

import (
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv"
)

// oneSingle waits until both single daemons answer, exactly one holds the controller lock and
// acts, and the other does not act and names the holder; it returns the holder and the other.
func oneSingle(t *testing.T, ds []*labHADaemon, within time.Duration) (acting, waiting *labHADaemon) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var last []string
		acting, waiting = nil, nil
		n := 0
		for _, d := range ds {
			c := d.controller()
			if c == nil {
				last = append(last, d.name+": no answer")
				continue
			}
			last = append(last, d.name+": role "+c.Role+" why "+c.Why)
			if c.Role != "single" {
				t.Fatalf("%s has role %q on the embedded store, want single", d.name, c.Role)
			}
			if c.Acting {
				n++
				acting = d
			} else {
				waiting = d
			}
		}
		if n == 1 && waiting != nil {
			if c := waiting.controller(); c != nil && c.Leader == acting.name && strings.Contains(c.Why, "holds the controller lock") && strings.Contains(c.Why, acting.name) {
				return acting, waiting
			}
		}
		if n > 1 {
			t.Fatalf("two single daemons act on one cluster: %v", last)
		}
		if time.Now().After(deadline) {
			t.Fatalf("not exactly one acting single daemon naming the other after %s: %v", within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLabHASingleModeOneActs: two daemons on the embedded store (each its own bbolt file) on
// one lab, so on one lease directory. Only the one holding the controller lock acts; the other
// says who holds it. h1 loses power: the holder fences it once and restarts its guests once,
// and the other does nothing. SIGKILL the holder: the other takes the lock and acts (h2 loses
// power and it recovers h2's guests, once each).
func TestLabHASingleModeOneActs(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 4, GuestKind: testenv.GuestBIOS})
	stop := watchInvariants(t, l, false)
	defer stop()
	bin, base := buildLifeboat(t), labConfig(t, l)
	if base.LeaseDir == "" {
		t.Fatal("the lab's config has no lease_dir")
	}
	ds := []*labHADaemon{startLabHADaemon(t, bin, base, "a"), startLabHADaemon(t, bin, base, "b")}
	acting, waiting := oneSingle(t, ds, 60*time.Second)
	t.Logf("%s acts; %s: %q", acting.name, waiting.name, waiting.controller().Why)
	waitHostsAndVMs(t, l, acting.client)
	// No flapping: the holder keeps the lock.
	for range 10 {
		if a, w := acting.controller(), waiting.controller(); a == nil || w == nil || !a.Acting || w.Acting {
			t.Fatalf("roles changed without a fault: %s %+v, %s %+v", acting.name, a, waiting.name, w)
		}
		time.Sleep(200 * time.Millisecond)
	}

	ctx := t.Context()
	gs1 := guestsOf(l, "h1")
	h1Lost := time.Now()
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	took := waitElsewhere(t, l, gs1, "h1", 90*time.Second)
	t.Logf("power loss of h1: %d guests running elsewhere after %s", len(gs1), took.Round(10*time.Millisecond))
	time.Sleep(3 * time.Second)
	checkRecoveredOnce(t, acting.client, "h1", gs1)
	for _, kind := range []struct{ kind, reason string }{{"action", "fence_started"}, {"action", "fenced"}, {"recovery", "restarted"}} {
		if byHost, _ := countJournal(t, waiting.client, kind.kind, kind.reason); len(byHost) > 0 {
			t.Errorf("%s, without the lock, journals %s %s: %v", waiting.name, kind.kind, kind.reason, byHost)
		}
	}

	t0 := time.Now()
	acting.kill(t)
	for {
		c := waiting.controller()
		if c != nil && c.Acting && c.Leader == waiting.name {
			t.Logf("%s takes the lock %s after the SIGKILL of %s: %q", waiting.name, time.Since(t0).Round(10*time.Millisecond), acting.name, c.Why)
			break
		}
		if time.Since(t0) > 15*time.Second {
			t.Fatalf("%s did not take the controller lock within 15 s of the SIGKILL of %s: %+v", waiting.name, acting.name, c)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// h2's loss must not fall in h1's mass-failure window, or both together would freeze
	// recovery (two of three hosts at once) in whichever daemon acts.
	if wait := time.Until(h1Lost.Add(base.Recovery.MassFailureWindow.D() + 3*time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	gs2 := guestsOf(l, "h2")
	if err := l.PowerOff(ctx, "h2"); err != nil {
		t.Fatal(err)
	}
	took = waitElsewhere(t, l, gs2, "h2", 90*time.Second)
	t.Logf("power loss of h2 under %s: %d guests running elsewhere after %s", waiting.name, len(gs2), took.Round(10*time.Millisecond))
	time.Sleep(3 * time.Second)
	checkRecoveredOnce(t, waiting.client, "h2", gs2)
	// h1's guests already ran elsewhere when it took over: it restarted none of them.
	_, restarts := countJournal(t, waiting.client, "recovery", "restarted")
	for _, g := range gs1 {
		if restarts[g.Name] != 0 {
			t.Errorf("%s restarted %s, which already ran elsewhere when it took the lock", waiting.name, g.Name)
		}
	}
	fences, _ := countJournal(t, waiting.client, "action", "fenced")
	t.Logf("%s's journal: fences %v (its own store: it never saw %s's fence of h1)", waiting.name, fences, acting.name)
}
