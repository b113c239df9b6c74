package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
)

// TestStoreMigrate copies a bbolt store into a real etcd with the real command tree, and
// reads everything back from etcd; a second run into the same prefix is refused.
func TestStoreMigrate(t *testing.T) {
	m := etcdtest.StartForTest(t)
	ctx := context.Background()
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "lifeboat.db")
	db, err := store.Open(dbPath, store.Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	vm := store.VMRecord{UUID: "u1", Name: "db1", HomeHost: "h1", CurrentHost: "h2", Protected: true, UpdatedAt: at}
	host := store.HostRecord{Name: "h1", State: "failed", Since: at, Maintenance: true}
	fence := policy.FenceRecord{Host: "h1", Attempted: at, Outcome: policy.FenceVerified, By: "redfish"}
	restart := policy.RestartRecord{VM: "db1", UUID: "u1", From: "h1", To: "h2", Stage: policy.RestartRestarting, Since: at}
	if err := db.PutVM(ctx, vm); err != nil {
		t.Fatal(err)
	}
	if err := db.PutHost(ctx, host); err != nil {
		t.Fatal(err)
	}
	if err := db.PutFence(ctx, fence); err != nil {
		t.Fatal(err)
	}
	if err := db.PutRestart(ctx, restart); err != nil {
		t.Fatal(err)
	}
	id, _ := db.NextPlanID(ctx)
	_, _ = db.NextPlanID(ctx) // the counter is ahead of the stored plans
	if err := db.PutPlan(ctx, store.Plan{ID: id, Key: "recovery/h1", Kind: "recovery", State: policy.PlanDone}); err != nil {
		t.Fatal(err)
	}
	for i := range 250 {
		if _, err := db.Append(ctx, store.Entry{At: at.Add(time.Duration(i)), Kind: "daemon", Message: "entry"}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "lifeboat.yaml")
	cfg := `hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
store: {backend: etcd, etcd: {endpoints: ["` + m.ClientURL + `"], prefix: /migrated/}}
`
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(ctx, "store", "migrate", "--from", dbPath, "--to-config", cfgPath)
	if err != nil {
		t.Fatalf("store migrate: %v\n%s", err, out)
	}
	if !strings.Contains(out, "1 VMs, 1 hosts, 1 plans (counter 2), 1 fence and 1 restart records, 250 journal entries (last seq 250)") {
		t.Errorf("store migrate said %q", out)
	}
	s, err := store.OpenEtcd(ctx, store.EtcdOptions{Endpoints: []string{m.ClientURL}, Prefix: "/migrated/"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if vms, err := s.ListVMs(ctx); err != nil || len(vms) != 1 || !reflect.DeepEqual(vms[0], vm) {
		t.Errorf("VMs in etcd: %+v, %v", vms, err)
	}
	if hs, err := s.ListHosts(ctx); err != nil || len(hs) != 1 || !reflect.DeepEqual(hs[0], host) {
		t.Errorf("hosts in etcd: %+v, %v", hs, err)
	}
	g, err := s.Guards(ctx)
	if err != nil || !reflect.DeepEqual(g.Fence("h1"), fence) || !reflect.DeepEqual(g.Restarts["u1"], restart) {
		t.Errorf("guards in etcd: %+v, %v", g, err)
	}
	if next, err := s.NextPlanID(ctx); err != nil || next != "p-3" {
		t.Errorf("NextPlanID in etcd = %q, %v; want p-3 (the counter moved over)", next, err)
	}
	es, err := s.Journal(ctx, 240, 0)
	if err != nil || len(es) != 10 || es[0].Seq != 241 {
		t.Errorf("journal in etcd after 240: %d entries, %v", len(es), err)
	}
	if seqs, err := s.Append(ctx, store.Entry{At: at, Kind: "daemon"}); err != nil || seqs[0] != 251 {
		t.Errorf("the next append in etcd = %v, %v; want 251", seqs, err)
	}
	out, err = runCLI(ctx, "store", "migrate", "--from", dbPath, "--to-config", cfgPath)
	if err == nil || !strings.Contains(err.Error(), "already holds lifeboat records") {
		t.Errorf("a second migrate into the same prefix: %v\n%s", err, out)
	}
}

func TestStoreMigrateRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	bbolt := filepath.Join(dir, "bbolt.yaml")
	if err := os.WriteFile(bbolt, []byte(`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"store", "migrate", "--from", "x.db"}, "--from and --to-config are required"},
		{[]string{"store", "migrate", "--from", "x.db", "--to-config", bbolt}, `store.backend is "bbolt"`},
		{[]string{"store", "migrate", "--from", "x.db", "--to-config", filepath.Join(dir, "none.yaml")}, "no such file"},
	} {
		if out, err := runCLI(ctx, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (%s), want an error containing %q", c.args, err, out, c.want)
		}
	}
}
