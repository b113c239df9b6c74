package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabCLI drives the lab as a user would: up in the background, status as JSON, faults, wrong
// input, and down, after which nothing may be left on the machine.
func TestLabCLI(t *testing.T) {
	testenv.RequireLab(t)
	testenv.HoldLabSlot(t) // `lab up` below starts a lab
	t.Setenv("LIFEBOAT_TEST_AS_CLI", "1")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "lab")
	var name string
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(dir, "lab.json")); err == nil {
			if out, err := runCLI(context.Background(), "lab", "down", "--dir", dir); err != nil {
				t.Errorf("cleanup lab down: %v\n%s", err, out)
			}
		}
	})

	start := time.Now()
	out, err := runCLI(ctx, "lab", "up", "--hosts", "2", "--standby", "1", "--vms", "2", "--guest", "bios", "--dir", dir)
	if err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	t.Logf("lab up (2+1 hosts, 2 BIOS guests) took %s:\n%s", time.Since(start).Round(time.Millisecond), out)
	if _, err := runCLI(ctx, "lab", "up", "--dir", dir); err == nil || !strings.Contains(err.Error(), "already holds a lab") {
		t.Errorf("a second lab up in the same dir: %v", err)
	}

	status := func() map[string]any {
		t.Helper()
		out, err := runCLI(ctx, "lab", "status", "--dir", dir, "-o", "json")
		if err != nil {
			t.Fatalf("lab status: %v\n%s", err, out)
		}
		var st map[string]any
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("lab status -o json is not JSON: %v\n%s", err, out)
		}
		return st
	}
	host := func(st map[string]any, name string) map[string]any {
		for _, h := range st["hosts"].([]any) {
			if hm := h.(map[string]any); hm["name"] == name {
				return hm
			}
		}
		t.Fatalf("no host %s in status", name)
		return nil
	}
	st := status()
	name = st["name"].(string)
	if cfg, _ := st["config"].(string); cfg == "" {
		t.Error("status has no config path")
	} else if _, err := os.Stat(cfg); err != nil {
		t.Errorf("config %s: %v", cfg, err)
	}
	if len(st["hosts"].([]any)) != 3 {
		t.Fatalf("want 3 hosts, got %v", st["hosts"])
	}
	h1 := host(st, "h1")
	for _, k := range []string{"name", "address", "libvirt_uri", "bmc_url", "power", "frozen", "partitioned", "guests"} {
		if _, ok := h1[k]; !ok {
			t.Errorf("host JSON lacks %q: %v", k, h1)
		}
	}
	if h1["power"] != "on" || len(h1["guests"].([]any)) != 1 {
		t.Errorf("h1 before faults: %v", h1)
	}

	for _, f := range []struct{ host, kind string }{{"h1", "partition"}, {"h2", "freeze"}, {"h3", "bmc-down"}} {
		if out, err := runCLI(ctx, "lab", "fault", "--dir", dir, f.host, f.kind); err != nil {
			t.Fatalf("fault %s %s: %v\n%s", f.host, f.kind, err, out)
		}
	}
	if out, err := runCLI(ctx, "lab", "fault", "--dir", dir, "h1", "degrade", "--reason", "PSU 2 failed", "--health", "critical"); err != nil {
		t.Fatalf("degrade: %v\n%s", err, out)
	}
	st = status()
	if h := host(st, "h1"); h["partitioned"] != true || h["health"] != "Critical" || h["health_reason"] != "PSU 2 failed" {
		t.Errorf("h1 after partition+degrade: %v", h)
	}
	if h := host(st, "h2"); h["frozen"] != true {
		t.Errorf("h2 after freeze: %v", h)
	}
	if out, err := runCLI(ctx, "lab", "fault", "--dir", dir, "h9", "power-off"); err == nil || !strings.Contains(err.Error(), `unknown host "h9"`) {
		t.Errorf("fault on an unknown host: %v\n%s", err, out)
	}
	if out, err := runCLI(ctx, "lab", "fault", "--dir", dir, "h1", "power-off"); err != nil {
		t.Fatalf("power-off: %v\n%s", err, out)
	}
	if h := host(status(), "h1"); h["power"] != "off" || len(h["guests"].([]any)) != 0 {
		t.Errorf("h1 after power-off: %v", h)
	}

	daemons := testenv.LabDaemons(dir)
	if len(daemons) != 4 { // h2 and h3 (frozen, BMC down) still run libvirtd and virtlockd
		t.Errorf("want the libvirtd and virtlockd of h2 and h3 before lab down, got %v", daemons)
	}
	if out, err := runCLI(ctx, "lab", "down", "--dir", dir); err != nil {
		t.Fatalf("lab down: %v\n%s", err, out)
	}
	for _, p := range daemons {
		if p.Alive() {
			t.Errorf("lab down returned while %s still runs", p)
		}
	}
	if left := testenv.Leftovers(name, dir); len(left) > 0 {
		t.Errorf("lab down left: %v", left)
	}
}
