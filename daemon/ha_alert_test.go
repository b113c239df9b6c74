package daemon

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// TestHALeaderLosesStoreAlerts: the leader's only etcd member dies. The daemon stops acting
// and says why where a person sees it without the store: lifeboat_leader drops to 0, the
// webhook receives controller_lost_store, and the status says why. When etcd is back, the
// daemon leads again and the journal records the loss, once.
func TestHALeaderLosesStoreAlerts(t *testing.T) {
	m := etcdtest.StartForTest(t)
	n := collectNotifications(t)
	cfg := fleetConfig(t.TempDir(), 2)
	cfg.Notify.WebhookURL = n.srv.URL
	cfg.Store = config.Store{Backend: config.StoreEtcd, Path: filepath.Join(t.TempDir(), "unused.db"),
		Etcd: config.Etcd{Endpoints: []string{m.ClientURL}, Prefix: "/lifeboat/alert-test/", DialTimeout: config.Duration(2 * time.Second), SessionTTL: config.Duration(2 * time.Second)}}
	a := startHADaemon(t, cfg, fleet.New(1), "a")
	waitFor(t, 30*time.Second, "a leads", func() bool { return a.status(t).Controller.Acting })
	if got := testutil.ToFloat64(a.d.ha.leader); got != 1 {
		t.Fatalf("lifeboat_leader = %v while a leads", got)
	}

	if err := m.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "lifeboat_leader 0 after etcd died", func() bool { return testutil.ToFloat64(a.d.ha.leader) == 0 })
	if missing := n.missing(NotifyControllerLostStore); len(missing) > 0 {
		t.Errorf("no %s notification after etcd died", NotifyControllerLostStore)
	}
	sv := a.status(t)
	if sv.Controller.Acting || !strings.Contains(sv.Controller.Why, "not acting") {
		t.Errorf("status without etcd: %+v", sv.Controller)
	}
	if a.d.leading() {
		t.Error("a still acts without etcd")
	}

	if err := m.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.WaitHealthy(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "a leads again", func() bool { return a.status(t).Controller.Acting })
	var lost []string
	waitFor(t, 10*time.Second, "the loss journaled", func() bool {
		es, err := a.d.db.Journal(context.Background(), 0, 0)
		if err != nil {
			return false
		}
		lost = lost[:0]
		for _, e := range es {
			if e.Kind == "controller" && e.Reason == "lost_store" {
				lost = append(lost, e.Message)
			}
		}
		return len(lost) > 0
	})
	if len(lost) != 1 || !strings.HasPrefix(lost[0], "a stopped acting on the cluster: it lost its store") {
		t.Errorf("lost_store entries in the journal: %q", lost)
	}
	n.mu.Lock()
	count := 0
	for _, k := range n.kinds {
		if k == NotifyControllerLostStore {
			count++
		}
	}
	kinds := slices.Clone(n.kinds)
	n.mu.Unlock()
	if count != 1 {
		t.Errorf("%d %s notifications for one loss: %v", count, NotifyControllerLostStore, kinds)
	}
	if got := testutil.ToFloat64(a.d.ha.leader); got != 1 {
		t.Errorf("lifeboat_leader = %v after a leads again", got)
	}
}
