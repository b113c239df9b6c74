package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// haDaemon is a daemon of a HA test, with its API served on its advertised address.
type haDaemon struct {
	name string
	d    *Daemon
	url  string
	stop func()
}

func startHADaemon(t *testing.T, cfg config.Config, f *fleet.Fleet, name string) *haDaemon {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg.API.Listen = ln.Addr().String()
	d, err := New(context.Background(), cfg, Options{Dial: f.Dial, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	h, err := api.NewServer(d, api.ServerOptions{Gatherer: d.Registry()})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go func() { _ = srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	stopped := false
	hd := &haDaemon{name: name, d: d, url: "http://" + cfg.API.Listen}
	hd.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("daemon %s: %v", name, err)
		}
		_ = srv.Close()
	}
	t.Cleanup(hd.stop)
	waitFor(t, 30*time.Second, name+" ready", d.ready.Load)
	return hd
}

func (h *haDaemon) status(t *testing.T) api.StatusView {
	t.Helper()
	sv, err := h.d.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return sv
}

// TestHATwoDaemonsOnEtcd: two daemons watch one (simulated) cluster through one real etcd.
// Exactly one acts; the other follows, serves reads and sends changes to the leader with 307;
// when the leader stops, the follower takes over in a later term.
func TestHATwoDaemonsOnEtcd(t *testing.T) {
	m := etcdtest.StartForTest(t)
	cfg := fleetConfig(t.TempDir(), 3)
	cfg.Store = config.Store{Backend: config.StoreEtcd, Path: filepath.Join(t.TempDir(), "unused.db"),
		Etcd: config.Etcd{Endpoints: []string{m.ClientURL}, Prefix: "/lifeboat/ha-test/", DialTimeout: config.Duration(2 * time.Second), SessionTTL: config.Duration(2 * time.Second)}}
	f := fleet.New(1)
	a := startHADaemon(t, cfg, f, "a")
	waitFor(t, 30*time.Second, "a leads", func() bool { return a.status(t).Controller.Acting })
	b := startHADaemon(t, cfg, f, "b")
	waitFor(t, 30*time.Second, "b follows a, and both are peers", func() bool {
		c := b.status(t).Controller
		return c.Leader == "a" && len(c.Peers) == 2
	})
	sa, sb := a.status(t), b.status(t)
	if !sa.Leader || sa.Controller.Role != "leader" || sb.Leader || sb.Controller.Role != "follower" || sb.Controller.Acting ||
		sb.Controller.Term != sa.Controller.Term || sb.Controller.LeaderURL != a.url {
		t.Fatalf("a: %+v\nb: %+v", sa.Controller, sb.Controller)
	}
	// The status as JSON has the controller object the issue asks for.
	raw, _ := json.Marshal(sb)
	for _, want := range []string{`"controller":{"name":"b","role":"follower"`, `"leader":"a"`, `"term":`, `"peers":[{"name":"a"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("status JSON %s lacks %s", raw, want)
		}
	}
	// Reads on the follower are answered; changes are sent to the leader.
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Get(b.url + "/v1/hosts")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/hosts on the follower: %v, %v", resp, err)
	}
	resp.Body.Close()
	resp, err = noFollow.Post(b.url+"/v1/hosts/sim00001/drain?dry_run=true", "application/json", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != a.url+"/v1/hosts/sim00001/drain?dry_run=true" {
		t.Errorf("POST drain on the follower: %d, Location %q, %s", resp.StatusCode, resp.Header.Get("Location"), body)
	}
	// The API client follows the redirect to the leader.
	c, err := api.NewClient(b.url, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Drain(context.Background(), "sim00001", true); err != nil {
		t.Errorf("a dry-run drain through the follower's address: %v", err)
	}
	// An admin disarms through the leader: the follower's status says so (it reads the switch
	// from the store, not from what it loaded at start), and so does its lifeboat_disarmed.
	if _, err := a.d.Disarm(context.Background(), "storage maintenance"); err != nil {
		t.Fatal(err)
	}
	if dv := b.status(t).Disarm; !dv.Disarmed || dv.Reason != "storage maintenance" {
		t.Errorf("the follower's status after the leader was disarmed: %+v", dv)
	}
	if got := testutil.ToFloat64(b.d.disarm.gauge); got != 1 {
		t.Errorf("lifeboat_disarmed on the follower = %v, want 1", got)
	}
	if _, err := a.d.Arm(context.Background()); err != nil {
		t.Fatal(err)
	}
	if dv := b.status(t).Disarm; dv.Disarmed {
		t.Errorf("the follower's status after the leader was armed again: %+v", dv)
	}
	// The follower writes nothing: the journal's controller entries are the leader's.
	es, err := a.d.db.Journal(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var ctl []string
	for _, e := range es {
		if e.Kind == "controller" {
			ctl = append(ctl, e.Message)
		}
	}
	if len(ctl) != 1 || !strings.HasPrefix(ctl[0], "a acts on the cluster (leader, term") {
		t.Errorf("controller entries in the journal: %q", ctl)
	}
	if got := testutil.ToFloat64(a.d.ha.leader); got != 1 {
		t.Errorf("lifeboat_leader on a = %v", got)
	}
	if got := testutil.ToFloat64(b.d.ha.leader); got != 0 {
		t.Errorf("lifeboat_leader on b = %v", got)
	}
	// a stops; b takes over in a later term.
	a.stop()
	waitFor(t, 30*time.Second, "b leads", func() bool { return b.status(t).Controller.Acting })
	if st := b.status(t).Controller; st.Role != "leader" || st.Term <= sa.Controller.Term || st.Leader != "b" {
		t.Errorf("b after takeover: %+v", st)
	}
	if got := testutil.ToFloat64(b.d.ha.changes); got != 1 {
		t.Errorf("lifeboat_leader_changes_total on b = %v, want 1", got)
	}
}

// TestSingleDaemonsShareALock: two single (bbolt) daemons with one lease directory: only one
// acts; the other says who holds the controller lock and refuses to write a fence record.
func TestSingleDaemonsShareALock(t *testing.T) {
	leases := t.TempDir()
	f := fleet.New(1)
	cfgA := fleetConfig(t.TempDir(), 2)
	cfgA.LeaseDir = leases
	cfgB := fleetConfig(t.TempDir(), 2)
	cfgB.LeaseDir = leases
	a := startHADaemon(t, cfgA, f, "a")
	waitFor(t, 30*time.Second, "a acts", func() bool { return a.status(t).Controller.Acting })
	b := startHADaemon(t, cfgB, f, "b")
	waitFor(t, 30*time.Second, "b says who holds the lock", func() bool {
		return strings.Contains(b.status(t).Controller.Why, "another lifeboat daemon (a, pid")
	})
	if sb := b.status(t); sb.Leader || sb.Controller.Role != "single" || sb.Controller.Leader != "a" {
		t.Errorf("b: %+v", sb.Controller)
	}
	if sa := a.status(t); !sa.Leader || sa.Controller.Role != "single" {
		t.Errorf("a: %+v", sa.Controller)
	}
	if err := b.d.putFence(context.Background(), policy.FenceRecord{Host: "sim00000"}); !errors.Is(err, store.ErrNotLeader) {
		t.Errorf("b's fence record without the controller lock: %v, want ErrNotLeader", err)
	}
	if got := testutil.ToFloat64(b.d.m.storeErrors); got != 1 {
		t.Errorf("lifeboat_store_errors_total on b = %v, want 1", got)
	}
	a.stop()
	waitFor(t, 30*time.Second, "b acts", func() bool { return b.status(t).Controller.Acting })
}
