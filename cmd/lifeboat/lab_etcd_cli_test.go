package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
)

// TestLabCLIEtcd: `lab up --etcd 3` starts a real three-member etcd on the lab's management
// network and writes a daemon config on it; etcd faults kill, start, partition and heal one
// member; wrong targets are refused; `lab down` leaves no etcd process, namespace or file.
func TestLabCLIEtcd(t *testing.T) {
	testenv.RequireLab(t)
	etcdtest.Require(t)
	testenv.HoldLabSlot(t) // `lab up` below starts a lab
	t.Setenv("LIFEBOAT_TEST_AS_CLI", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "lab")
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(dir, "lab.json")); err == nil {
			if out, err := runCLI(context.Background(), "lab", "down", "--dir", dir); err != nil {
				t.Errorf("cleanup lab down: %v\n%s", err, out)
			}
		}
	})
	if _, err := runCLI(ctx, "lab", "up", "--etcd", "2", "--dir", dir); err == nil || !strings.Contains(err.Error(), "--etcd 2") {
		t.Errorf("lab up --etcd 2: %v", err)
	}
	out, err := runCLI(ctx, "lab", "up", "--hosts", "1", "--standby", "1", "--vms", "1", "--guest", "bios", "--etcd", "3", "--dir", dir)
	if err != nil {
		t.Fatalf("lab up --etcd 3: %v\n%s", err, out)
	}
	if !strings.Contains(out, "ETCD") || !strings.Contains(out, "etcd3") {
		t.Errorf("lab up does not list the etcd members:\n%s", out)
	}
	type member struct {
		Name        string `json:"name"`
		ClientURL   string `json:"client_url"`
		PID         int    `json:"pid"`
		Running     bool   `json:"running"`
		Partitioned bool   `json:"partitioned"`
	}
	status := func() (string, []member) {
		t.Helper()
		out, err := runCLI(ctx, "lab", "status", "--dir", dir, "-o", "json")
		if err != nil {
			t.Fatalf("lab status: %v\n%s", err, out)
		}
		var st struct {
			Name string   `json:"name"`
			Etcd []member `json:"etcd"`
		}
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("lab status -o json: %v\n%s", err, out)
		}
		return st.Name, st.Etcd
	}
	name, ms := status()
	if len(ms) != 3 {
		t.Fatalf("want 3 etcd members, got %+v", ms)
	}
	healthy := func(url string) bool {
		c := &http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get(url + "/health")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var h struct{ Health string }
		return json.NewDecoder(resp.Body).Decode(&h) == nil && h.Health == "true"
	}
	var pids []int
	for _, m := range ms {
		if !m.Running || m.PID == 0 || !healthy(m.ClientURL) {
			t.Errorf("member %+v not running and healthy", m)
		}
		pids = append(pids, m.PID)
	}
	// The daemon config uses the lab's etcd.
	cfg, err := config.Load(filepath.Join(dir, "lifeboat.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Store.Backend != config.StoreEtcd || len(cfg.Store.Etcd.Endpoints) != 3 || cfg.Store.Etcd.Endpoints[0] != ms[0].ClientURL {
		t.Errorf("lifeboat.yaml store: %+v", cfg.Store)
	}

	fault := func(target, kind string) {
		t.Helper()
		if out, err := runCLI(ctx, "lab", "fault", "--dir", dir, target, kind); err != nil {
			t.Fatalf("fault %s %s: %v\n%s", target, kind, err, out)
		}
	}
	fault("etcd2", "kill")
	if _, ms := status(); ms[1].Running || ms[1].PID != 0 || syscall.Kill(pids[1], 0) == nil {
		t.Errorf("etcd2 after kill: %+v", ms[1])
	}
	// If etcd2 led, the other two elect a new leader first (an election timeout or two).
	quorum := false
	for deadline := time.Now().Add(10 * time.Second); !quorum && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		quorum = healthy(ms[0].ClientURL)
	}
	if !quorum {
		t.Error("two of three members lost their quorum")
	}
	fault("etcd2", "start")
	fault("etcd3", "partition")
	_, ms = status()
	if !ms[1].Running || ms[1].PID == 0 || !ms[2].Partitioned {
		t.Errorf("after start etcd2 and partition etcd3: %+v", ms)
	}
	if healthy(ms[2].ClientURL) {
		t.Error("a partitioned member still answers")
	}
	fault("etcd3", "heal")
	deadline := time.Now().Add(30 * time.Second)
	for !(healthy(ms[1].ClientURL) && healthy(ms[2].ClientURL)) {
		if time.Now().After(deadline) {
			t.Fatal("etcd2 and etcd3 not healthy again after start and heal")
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, bad := range []struct{ target, kind, want string }{
		{"etcd1", "power-off", "is an etcd member"},
		{"h1", "kill", "applies to etcd members"},
		{"etcd7", "kill", `unknown host "etcd7"`},
	} {
		if out, err := runCLI(ctx, "lab", "fault", "--dir", dir, bad.target, bad.kind); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("fault %s %s: %v (want %q)\n%s", bad.target, bad.kind, err, bad.want, out)
		}
	}
	_, ms = status()
	if out, err := runCLI(ctx, "lab", "down", "--dir", dir); err != nil {
		t.Fatalf("lab down: %v\n%s", err, out)
	}
	for _, m := range ms {
		if m.PID > 0 && syscall.Kill(m.PID, 0) == nil {
			t.Errorf("etcd member %s (pid %d) still runs after lab down", m.Name, m.PID)
		}
	}
	if left := testenv.Leftovers(name, dir); len(left) > 0 {
		t.Errorf("lab down left: %v", left)
	}
}
