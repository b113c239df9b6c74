package main

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const simScenario = `description: power loss in a 1+1 cluster
cluster:
  hosts:
    - {name: h1, role: active, memory_mib: 8192, vcpus: 8}
    - {name: h2, role: standby, memory_mib: 8192, vcpus: 8}
  vms:
    - {name: g1, host: h1, memory_mib: 1024, vcpus: 1}
events:
  - {at: 2s, do: power-off h1}
until: 6s
`

func writeFile(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSimulatePrintsTheActionLog(t *testing.T) {
	ctx := context.Background()
	f := writeFile(t, "s.yaml", simScenario)
	out, err := runCLI(ctx, "simulate", f)
	if err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	for _, want := range []string{"2.0s fence h1 (host_lost)", "3.0s restart g1 h1->h2 (restart_after_fence)", "6.0s end g1 on h2"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	out, err = runCLI(ctx, "simulate", f, "-o", "json")
	if err != nil {
		t.Fatalf("simulate -o json: %v", err)
	}
	var js struct {
		Log        []struct{ Text string }
		Violations []string
		Final      []struct {
			VM    string
			Hosts []string
		}
		ExpectMatches *bool `json:"expect_matches"`
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil {
		t.Fatalf("json: %v\n%s", err, out)
	}
	if len(js.Log) == 0 || len(js.Violations) != 0 || js.ExpectMatches != nil || len(js.Final) != 1 || js.Final[0].Hosts[0] != "h2" {
		t.Errorf("json output: %+v", js)
	}
}

func TestSimulateExpect(t *testing.T) {
	ctx := context.Background()
	out, err := runCLI(ctx, "simulate", writeFile(t, "s.yaml", simScenario+"expect: |\n  2.0s > power-off h1\n"))
	if !errors.Is(err, errSimulationFailed) || !strings.Contains(out, "+ 2.0s verdict h1 failed") {
		t.Fatalf("a differing expect: err %v, output:\n%s", err, out)
	}
	good, err := runCLI(ctx, "simulate", writeFile(t, "s.yaml", simScenario))
	if err != nil {
		t.Fatal(err)
	}
	var exp strings.Builder
	for _, l := range strings.Split(strings.TrimSpace(good), "\n") {
		exp.WriteString("  " + l + "\n")
	}
	out, err = runCLI(ctx, "simulate", writeFile(t, "s.yaml", simScenario+"expect: |\n"+exp.String()))
	if err != nil || !strings.Contains(out, "the log matches expect") {
		t.Fatalf("a matching expect: err %v, output:\n%s", err, out)
	}
}

func TestSimulateFailsOnAnInvariant(t *testing.T) {
	// An operator confirms off a host that only hung (its BMC is down too, so nothing proves it
	// alive); its VM restarts elsewhere, then the host wakes up with its copy still running: the
	// checker says the VM runs twice (in a real cluster the disk lease stops the second start).
	sc := strings.Replace(simScenario, "  - {at: 2s, do: power-off h1}", "  - {at: 1s, do: bmc-down h1}\n  - {at: 2s, do: hang h1}\n  - {at: 8s, do: confirm-off h1}\n  - {at: 12s, do: unhang h1}", 1)
	sc = strings.Replace(sc, "until: 6s", "until: 16s", 1)
	out, err := runCLI(context.Background(), "simulate", writeFile(t, "s.yaml", sc))
	if !errors.Is(err, errSimulationFailed) || !strings.Contains(out, "invariant violations") {
		t.Fatalf("err %v, output:\n%s", err, out)
	}
}

func TestSimulateRejectsBadInput(t *testing.T) {
	ctx := context.Background()
	bad := strings.Replace(simScenario, "at: 2s", "at: soon", 1)
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"simulate"}, "want one scenario FILE"},
		{[]string{"simulate", "/nonexistent.yaml"}, "no such file"},
		{[]string{"simulate", writeFile(t, "a.yaml", bad)}, `events[0].at: "soon" is not a duration`},
		{[]string{"simulate", writeFile(t, "b.yaml", strings.Replace(simScenario, "power-off h1", "explode h1", 1))}, `events[0].do: unknown event "explode"`},
		{[]string{"simulate", writeFile(t, "c.yaml", strings.Replace(simScenario, "power-off h1", "power-off h9", 1))}, `events[0].do: "h9" is not a host`},
		{[]string{"simulate", writeFile(t, "d.yaml", strings.Replace(simScenario, "role: standby", "role: spare", 1))}, `cluster.hosts[1].role: "spare"`},
		{[]string{"simulate", writeFile(t, "e.yaml", simScenario), "-o", "xml"}, `-o "xml"`},
		{[]string{"simulate", writeFile(t, "f.yaml", simScenario), "--config", writeFile(t, "l.yaml", "hosts:\n  - {name: h1, uri: 'qemu+tcp://10.0.0.1/system', role: active, bmc: {type: none}}\n")}, `"h2" is not a host of the config`},
	}
	for _, c := range cases {
		_, err := runCLI(ctx, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error containing %q", c.args, err, c.want)
		}
	}
}

func TestSimulateWithConfig(t *testing.T) {
	// The config says h1 has no BMC and g1 is not protected: nothing is fenced or restarted.
	cfg := writeFile(t, "lifeboat.yaml", `hosts:
  - {name: h1, uri: 'qemu+tcp://10.0.0.1/system', role: active, bmc: {type: none}}
  - {name: h2, uri: 'qemu+tcp://10.0.0.2/system', role: standby, bmc: {type: none}}
protection:
  default: none
`)
	out, err := runCLI(context.Background(), "simulate", writeFile(t, "s.yaml", simScenario), "--config", cfg)
	if err != nil {
		t.Fatalf("simulate --config: %v\n%s", err, out)
	}
	if !strings.Contains(out, "hold h1 (no_protected_vms)") || strings.Contains(out, "fence h1 (") {
		t.Errorf("output:\n%s", out)
	}
}
