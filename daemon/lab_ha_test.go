package daemon

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// haSessionTTL is the etcd session of the daemons in the HA lab tests: a leader that is killed
// loses its leadership this long after its last keep-alive.
const haSessionTTL = 2 * time.Second

// labHADaemon is a `lifeboat daemon` process of an HA lab test, stopped by its pid.
type labHADaemon struct {
	name   string
	cmd    *exec.Cmd
	client *api.Client
	exited chan struct{}
}

// kill sends SIGKILL to the daemon (by its pid) and waits for it to exit.
func (d *labHADaemon) kill(t testing.TB) {
	t.Helper()
	select {
	case <-d.exited:
		return
	default:
	}
	_ = d.cmd.Process.Kill()
	select {
	case <-d.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("daemon %s (pid %d) did not exit after SIGKILL", d.name, d.cmd.Process.Pid)
	}
}

// controller reads the daemon's controller section, or nil if it does not answer.
func (d *labHADaemon) controller() *api.ControllerView {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	sv, err := d.client.Status(ctx)
	if err != nil {
		return nil
	}
	return sv.Controller
}

// labHABase is the configuration of the daemons of an HA lab test: the lab's, on its etcd with a
// short session.
func labHABase(t testing.TB, l *testenv.Lab) config.Config {
	t.Helper()
	base := labConfig(t, l)
	if base.Store.Backend != config.StoreEtcd {
		t.Fatalf("the lab's config uses store.backend %q, want etcd", base.Store.Backend)
	}
	base.Store.Etcd.SessionTTL = config.Duration(haSessionTTL)
	base.Recovery.FenceTimeout = config.Duration(5 * time.Second)
	return base
}

// startLabHADaemons starts one daemon process per name on the lab's etcd and kills them by pid
// at cleanup.
func startLabHADaemons(t *testing.T, l *testenv.Lab, names ...string) []*labHADaemon {
	t.Helper()
	bin, base := buildLifeboat(t), labHABase(t, l)
	var out []*labHADaemon
	for _, name := range names {
		out = append(out, startLabHADaemon(t, bin, base, name))
	}
	return out
}

// startLabHADaemon starts `lifeboat daemon --name name` on cfg with its own API port and store
// file (unused on etcd); it is killed by pid at cleanup, and its log shown if the test failed.
func startLabHADaemon(t testing.TB, bin string, cfg config.Config, name string) *labHADaemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.API.Listen = ln.Addr().String()
	ln.Close()
	cfg.Store.Path = filepath.Join(t.TempDir(), "unused.db")
	raw, err := config.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(t.TempDir(), name+".yaml")
	if err := os.WriteFile(cfgPath, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "daemon", "--config", cfgPath, "--name", name, "--log-level", "info")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logf.Close()
	c, err := api.NewClient("http://"+cfg.API.Listen, "")
	if err != nil {
		t.Fatal(err)
	}
	d := &labHADaemon{name: name, cmd: cmd, client: c, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() {
		d.kill(t)
		if t.Failed() {
			b, _ := os.ReadFile(logf.Name())
			if len(b) > 6000 {
				b = b[len(b)-6000:]
			}
			t.Logf("log of daemon %s:\n%s", name, b)
		}
	})
	return d
}

// oneLeader waits until every daemon answers, exactly one is the acting leader, and the others
// are followers that name it; it returns the leader and the followers.
func oneLeader(t testing.TB, ds []*labHADaemon, within time.Duration) (*labHADaemon, []*labHADaemon) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last []string
	for {
		var leader *labHADaemon
		var followers []*labHADaemon
		leaders, ok := 0, true
		last = last[:0]
		for _, d := range ds {
			c := d.controller()
			if c == nil {
				ok = false
				last = append(last, d.name+": no answer")
				continue
			}
			last = append(last, fmt.Sprintf("%s: role %s acting %v leader %q term %d", d.name, c.Role, c.Acting, c.Leader, c.Term))
			switch {
			case c.Role == "leader" && c.Acting:
				leaders++
				leader = d
			case c.Role == "follower" && !c.Acting:
				followers = append(followers, d)
			default:
				ok = false
			}
		}
		if ok && leaders == 1 && len(followers) == len(ds)-1 {
			agree := true
			for _, f := range followers {
				agree = agree && f.controller().Leader == leader.name
			}
			if agree {
				return leader, followers
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no single leader after %s: %v", within, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// countJournal counts the journal entries of that kind and reason, per host (fences) or VM.
func countJournal(t *testing.T, c *api.Client, kind, reason string) (byHost, byVM map[string]int) {
	t.Helper()
	evs, err := c.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	byHost, byVM = map[string]int{}, map[string]int{}
	for _, e := range evs {
		if e.Kind == kind && e.Reason == reason {
			byHost[e.Host]++
			if e.VM != "" {
				byVM[e.VM]++
			}
		}
	}
	return byHost, byVM
}

// checkRecoveredOnce checks that the journal shows host fenced exactly once and each of gs
// restarted exactly once.
func checkRecoveredOnce(t *testing.T, c *api.Client, host string, gs []testenv.Guest) {
	t.Helper()
	fences, _ := countJournal(t, c, "action", "fenced")
	if fences[host] != 1 {
		t.Errorf("host %s fenced %d times in the journal (%v), want exactly once", host, fences[host], fences)
	}
	_, restarts := countJournal(t, c, "recovery", "restarted")
	for _, g := range gs {
		if restarts[g.Name] != 1 {
			t.Errorf("guest %s restarted %d times in the journal (%v), want exactly once", g.Name, restarts[g.Name], restarts)
		}
	}
}

// waitHostsAndVMs waits until the acting daemon sees every lab host healthy and every guest.
func waitHostsAndVMs(t testing.TB, l *testenv.Lab, c *api.Client) {
	t.Helper()
	for _, h := range l.Hosts() {
		waitState(t, c, h.Name, "healthy", 30*time.Second)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if vms, _ := c.VMs(context.Background()); len(vms) == len(l.Guests()) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("VMs not recorded")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestLabHAOneLeaderAndTakeover: two daemon processes on the lab's three-member etcd. Exactly
// one leads; SIGKILL it and the other takes over within the session TTL and a margin; then a
// host loses power and is fenced exactly once, its guests restarted exactly once, none ever twice.
func TestLabHAOneLeaderAndTakeover(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 4, GuestKind: testenv.GuestBIOS, Etcd: 3})
	stop := watchInvariants(t, l, false)
	defer stop()
	ds := startLabHADaemons(t, l, "a", "b")
	leader, followers := oneLeader(t, ds, 60*time.Second)
	follower := followers[0]
	before := leader.controller()
	t.Logf("%s leads (term %d), %s follows", leader.name, before.Term, follower.name)
	waitHostsAndVMs(t, l, leader.client)
	// Both stay in their roles for a while: no flapping.
	for range 10 {
		lf, ff := leader.controller(), follower.controller()
		if lf == nil || ff == nil || !lf.Acting || ff.Acting || lf.Term != before.Term {
			t.Fatalf("roles changed without a fault: %s %+v, %s %+v", leader.name, lf, follower.name, ff)
		}
		time.Sleep(200 * time.Millisecond)
	}

	t0 := time.Now()
	leader.kill(t)
	limit := haSessionTTL + 5*time.Second
	var after *api.ControllerView
	for {
		if c := follower.controller(); c != nil && c.Role == "leader" && c.Acting {
			after = c
			break
		}
		if time.Since(t0) > limit+20*time.Second {
			t.Fatalf("%s did not take over within %s of the SIGKILL of %s: %+v", follower.name, time.Since(t0), leader.name, follower.controller())
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(t0)
	t.Logf("takeover: %s acts %s after SIGKILL of %s (session TTL %s), term %d -> %d", follower.name, took.Round(10*time.Millisecond), leader.name, haSessionTTL, before.Term, after.Term)
	if took > limit {
		t.Errorf("takeover took %s, want at most the session TTL %s + 5 s", took, haSessionTTL)
	}
	if after.Term <= before.Term || after.Leader != follower.name {
		t.Errorf("after takeover: %+v (term before %d)", after, before.Term)
	}

	gs := guestsOf(l, "h1")
	if err := l.PowerOff(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	running := waitElsewhere(t, l, gs, "h1", 90*time.Second)
	t.Logf("power loss of h1 under the new leader: %d guests running elsewhere after %s", len(gs), running.Round(10*time.Millisecond))
	// Let anything that would act twice have its chance before counting.
	time.Sleep(3 * time.Second)
	checkRecoveredOnce(t, follower.client, "h1", gs)
}

// TestLabHAQuorumLossStopsAction: two daemons on the lab's etcd; two of three members die. The
// leader stops acting, and nobody acts; the daemons keep watching (h1's verdict changes when it
// loses power) but nothing is fenced or restarted. With the members back, one daemon acts again
// and h1 is fenced and its guests restarted, exactly once.
func TestLabHAQuorumLossStopsAction(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 4, GuestKind: testenv.GuestBIOS, Etcd: 3})
	stop := watchInvariants(t, l, false)
	defer stop()
	ds := startLabHADaemons(t, l, "a", "b")
	leader, _ := oneLeader(t, ds, 60*time.Second)
	waitHostsAndVMs(t, l, leader.client)
	ctx := context.Background()

	t0 := time.Now()
	for _, m := range []string{"etcd1", "etcd2"} {
		if err := l.KillEtcd(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	// Nobody acts, within the session TTL and a margin.
	for {
		acting := 0
		for _, d := range ds {
			if c := d.controller(); c == nil || c.Acting {
				acting++
			}
		}
		if acting == 0 {
			break
		}
		if time.Since(t0) > haSessionTTL+20*time.Second {
			t.Fatalf("a daemon still acts (or does not answer) %s after the quorum was lost: a %+v, b %+v", time.Since(t0), ds[0].controller(), ds[1].controller())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("quorum lost: nobody acts after %s", time.Since(t0).Round(10*time.Millisecond))
	for _, d := range ds {
		sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		sv, err := d.client.Status(sctx)
		cancel()
		if err != nil {
			t.Fatalf("%s does not answer its status without quorum: %v", d.name, err)
		}
		t.Logf("%s without quorum: role %s, acting %v, why %q, store error %q", d.name, sv.Controller.Role, sv.Controller.Acting, sv.Controller.Why, sv.StoreError)
		if sv.Controller.Acting || sv.Leader || sv.StoreError == "" || (sv.Controller.Role == "leader" && !strings.Contains(sv.Controller.Why, "not acting")) {
			t.Errorf("%s without quorum: the status does not say that it does not act and why: %+v, store error %q", d.name, sv.Controller, sv.StoreError)
		}
	}

	// Monitoring goes on: h1's loss is seen, but nothing is done about it.
	gs := guestsOf(l, "h1")
	if err := l.PowerOff(ctx, "h1"); err != nil {
		t.Fatal(err)
	}
	seen := false
	deadline := time.Now().Add(30 * time.Second)
	for !seen && time.Now().Before(deadline) {
		for _, d := range ds {
			if hv, err := d.client.Hosts(ctx); err == nil {
				for _, h := range hv {
					if h.Name == "h1" && (h.State == "failed" || h.State == "suspect" || h.State == "unreachable") {
						seen = true
						t.Logf("without quorum, %s sees h1 %s", d.name, h.State)
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !seen {
		for _, d := range ds {
			hv, err := d.client.Hosts(ctx)
			t.Logf("%s hosts: %+v %v", d.name, hv, err)
		}
		t.Fatal("without quorum, no daemon saw h1's power loss: monitoring stopped")
	}
	// Hold: nothing is restarted while the quorum is lost.
	holdUntil := time.Now().Add(10 * time.Second)
	for time.Now().Before(holdUntil) {
		for _, g := range gs {
			if on, _ := l.RunningOn(g.Name); len(on) > 0 {
				t.Fatalf("guest %s runs on %v while no daemon may act", g.Name, on)
			}
		}
		time.Sleep(200 * time.Millisecond)
	}

	t2 := time.Now()
	for _, m := range []string{"etcd1", "etcd2"} {
		if err := l.StartEtcd(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	newLeader, _ := oneLeader(t, ds, 60*time.Second)
	t.Logf("quorum back: %s acts after %s", newLeader.name, time.Since(t2).Round(10*time.Millisecond))
	waitElsewhere(t, l, gs, "h1", 90*time.Second)
	t.Logf("h1's %d guests running elsewhere %s after the quorum came back", len(gs), time.Since(t2).Round(10*time.Millisecond))
	time.Sleep(3 * time.Second)
	checkRecoveredOnce(t, newLeader.client, "h1", gs)
	// The fence came after the quorum did, not while it was lost.
	evs, err := newLeader.client.Events(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == "action" && e.Reason == "fenced" && e.At.Before(t2) {
			t.Errorf("h1 fenced at %s, before the quorum came back at %s: %+v", e.At, t2, e)
		}
	}
}

// TestLabHAPartitionedLeader: the leader (a) reaches etcd through proxies that the test cuts,
// as if its management link to etcd were pulled, while h1 loses power. a, cut off, stops acting
// and acts on nothing (it still watches: it sees h1 fail); b takes over and recovers h1: one
// fence, each guest restarted once, none ever twice. Healed, a follows b.
func TestLabHAPartitionedLeader(t *testing.T) {
	testenv.Parallel(t)
	l := testenv.StartForTest(t, testenv.Options{Hosts: 2, Standby: 1, VMs: 4, GuestKind: testenv.GuestBIOS, Etcd: 3})
	stop := watchInvariants(t, l, false)
	defer stop()
	bin, base := buildLifeboat(t), labHABase(t, l)
	cfgA := base
	cfgA.Store.Etcd.Endpoints = nil
	var proxies []*testenv.Proxy
	for _, ep := range base.Store.Etcd.Endpoints {
		p, err := testenv.StartCutProxy(strings.TrimPrefix(ep, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = p.Close() })
		proxies = append(proxies, p)
		cfgA.Store.Etcd.Endpoints = append(cfgA.Store.Etcd.Endpoints, "http://"+p.Addr())
	}
	a := startLabHADaemon(t, bin, cfgA, "a")
	if leader, _ := oneLeader(t, []*labHADaemon{a}, 60*time.Second); leader != a {
		t.Fatal("a does not lead alone")
	}
	b := startLabHADaemon(t, bin, base, "b")
	ds := []*labHADaemon{a, b}
	if leader, _ := oneLeader(t, ds, 60*time.Second); leader != a {
		t.Fatalf("%s leads, want a", leader.name)
	}
	waitHostsAndVMs(t, l, a.client)
	term := a.controller().Term

	gs := guestsOf(l, "h1")
	t0 := time.Now()
	for _, p := range proxies {
		p.Cut()
	}
	if err := l.PowerOff(context.Background(), "h1"); err != nil {
		t.Fatal(err)
	}
	// a stops acting within the session TTL, whatever it sees.
	var aStopped, bActs time.Duration
	sawFailed := false
	for aStopped == 0 || bActs == 0 {
		if c := a.controller(); c != nil && !c.Acting && aStopped == 0 {
			aStopped = time.Since(t0)
			t.Logf("a, cut off from etcd, stops acting after %s: %q", aStopped.Round(10*time.Millisecond), c.Why)
		}
		if c := b.controller(); c != nil && c.Acting && c.Role == "leader" && bActs == 0 {
			bActs = time.Since(t0)
			t.Logf("b acts after %s (term %d -> %d)", bActs.Round(10*time.Millisecond), term, c.Term)
			if aStopped == 0 {
				t.Errorf("b acts while a still says it acts: %+v", a.controller())
			}
		}
		if time.Since(t0) > haSessionTTL+30*time.Second {
			t.Fatalf("after %s: a %+v, b %+v", time.Since(t0), a.controller(), b.controller())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if aStopped > haSessionTTL+2*time.Second {
		t.Errorf("a stopped acting %s after the cut, want within the session TTL %s (+2 s)", aStopped, haSessionTTL)
	}
	waitElsewhere(t, l, gs, "h1", 90*time.Second)
	t.Logf("h1's %d guests running elsewhere %s after the cut and the power loss", len(gs), time.Since(t0).Round(10*time.Millisecond))
	// a still watches: it sees h1 fail (or fenced), through libvirt and the BMC, not etcd.
	if hv, err := a.client.Hosts(context.Background()); err == nil {
		for _, h := range hv {
			if h.Name == "h1" && h.State != "healthy" {
				sawFailed = true
				t.Logf("a, cut off, sees h1 %s (%s)", h.State, h.Reason)
			}
		}
	}
	if !sawFailed {
		t.Error("a, cut off from etcd, does not see h1's power loss: monitoring stopped")
	}
	if c := a.controller(); c == nil || c.Acting {
		t.Errorf("a acts while cut off from etcd: %+v", c)
	}
	time.Sleep(3 * time.Second)
	checkRecoveredOnce(t, b.client, "h1", gs)

	for _, p := range proxies {
		p.Heal()
	}
	if leader, _ := oneLeader(t, ds, 60*time.Second); leader != b {
		t.Errorf("after heal %s leads, want b", leader.name)
	}
	checkRecoveredOnce(t, b.client, "h1", gs)
}
