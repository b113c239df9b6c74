package main

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/preflight"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestLabPreflightFindsAWrongBMCPassword runs `lifeboat preflight` against a real lab: every check
// passes; then h1's BMC credentials file gets a wrong password and h2's a loose mode, and exactly
// those checks fail, by name, with hints. On the way, `fence test` reads h1's power through
// both rungs of the lab's fence ladder, Redfish and IPMI.
func TestLabPreflightFindsAWrongBMCPassword(t *testing.T) {
	testenv.RequireLab(t)
	testenv.HoldLabSlot(t) // `lab up` below starts a lab
	t.Setenv("LIFEBOAT_TEST_AS_CLI", "1")
	t.Setenv(envConfig, "")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := filepath.Join(t.TempDir(), "lab")
	t.Cleanup(func() {
		if out, err := runCLI(context.Background(), "lab", "down", "--dir", dir); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
	})
	if out, err := runCLI(ctx, "lab", "up", "--hosts", "2", "--standby", "1", "--vms", "2", "--guest", "bios", "--dir", dir); err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "lifeboat.yaml")
	run := func() (preflight.Report, error) {
		t.Helper()
		start := time.Now()
		out, err := runCLI(ctx, "preflight", "--config", cfg, "-o", "json")
		var rep preflight.Report
		if jerr := json.Unmarshal([]byte(out), &rep); jerr != nil {
			t.Fatalf("preflight -o json is not JSON: %v\n%s", jerr, out)
		}
		t.Logf("preflight: %d checks in %s", len(rep.Checks), time.Since(start).Round(time.Millisecond))
		return rep, err
	}

	rep, err := run()
	if err != nil || !rep.OK {
		t.Fatalf("preflight on a healthy lab: %v %+v", err, rep)
	}
	count := map[string]int{}
	for _, c := range rep.Checks {
		count[c.Name]++
	}
	// 3 hosts: 3 libvirt, 6 ordered pairs, 1 lease dir, 3 BMCs, 3 IPMI rungs of the fence
	// ladders (their Redfish rung is the BMC, checked as such), 6 credentials files (Redfish and
	// IPMI), 3 capacity.
	if want := map[string]int{"libvirt": 3, "migration": 6, "leases": 1, "bmc": 3, "fence": 3, "secret-file": 6, "capacity": 3}; !maps.Equal(count, want) {
		t.Errorf("checks by name: %v, want %v", count, want)
	}
	for _, c := range rep.Checks {
		if c.Name == "libvirt" && !regexp.MustCompile(`libvirt \d+\.\d+\.\d+, QEMU \d+\.\d+\.\d+`).MatchString(c.Detail) {
			t.Errorf("libvirt check without versions: %+v", c)
		}
		if c.Name == "leases" && !strings.Contains(c.Detail, "the leases of all 2 running disks are visible, 2 held") {
			t.Errorf("leases: %+v", c)
		}
	}

	// The lab's fence ladder: Redfish, then IPMI through the real ipmitool against h1's ipmi_sim
	// BMC; `fence test` reads the power through both and powers nothing off.
	if _, err := exec.LookPath("ipmi_sim"); err == nil || os.Getenv("CI") == "true" {
		out, err := runCLI(ctx, "fence", "test", "h1", "--config", cfg)
		t.Logf("fence test h1:\n%s", out)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if err != nil || len(lines) != 3 || !strings.HasPrefix(fields(lines[1]), "0 redfish on") || !strings.HasPrefix(fields(lines[2]), "1 ipmi on") {
			t.Errorf("fence test h1 on the lab: %v, want rungs 0 redfish on, 1 ipmi on", err)
		}
	}

	cred := filepath.Join(dir, "bmc", "h1.cred")
	b, err := os.ReadFile(cred)
	if err != nil {
		t.Fatal(err)
	}
	wrong := regexp.MustCompile(`(?m)^password=.*$`).ReplaceAll(b, []byte("password=not-the-password"))
	if err := os.WriteFile(cred, wrong, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(dir, "bmc", "h2.cred"), 0o644); err != nil {
		t.Fatal(err)
	}
	rep, err = run()
	if !errors.Is(err, errPreflightFailed) || rep.OK {
		t.Fatalf("preflight with a wrong BMC password: %v ok=%v", err, rep.OK)
	}
	var failed []string
	for _, c := range rep.Checks {
		if !c.OK {
			failed = append(failed, c.Name+" "+c.Host)
			if c.Hint == "" {
				t.Errorf("failed check without a hint: %+v", c)
			}
		}
		if c.Name == "bmc" && c.Host == "h1" && (!strings.Contains(c.Detail, "refused the credentials") || !strings.Contains(c.Hint, cred)) {
			t.Errorf("h1's BMC check: %+v", c)
		}
		if c.Name == "bmc" && c.Host == "h2" && !strings.Contains(c.Detail, "0644") {
			t.Errorf("h2's BMC check does not name the loose mode: %+v", c)
		}
	}
	// h2's credentials file readable by others is refused as a secret, so its BMC check cannot
	// log in either.
	if got := strings.Join(failed, "; "); got != "bmc h1; bmc h2; secret-file hosts[1].bmc.credentials_file" {
		t.Errorf("failed checks: %s", got)
	}
}
