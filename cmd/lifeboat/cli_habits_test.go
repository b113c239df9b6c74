package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/lifeboat-ha/lifeboat/api"
)

// opsFake is a daemon over real HTTP whose operations answer as a cluster in approval mode
// would: a switchover of web1 becomes a pending plan (db1's starts migration m-1, which never
// ends), an undrain of h2 is refused (409), and one migration is running.
type opsFake struct {
	*cliFake
	api.Operator // the operations these tests do not use panic if called
}

// Switchover implements api.Operator.
func (f *opsFake) Switchover(_ context.Context, req api.SwitchoverRequest) (api.SwitchoverResult, error) {
	if req.VM == "db1" {
		return api.SwitchoverResult{VM: req.VM, From: "h2", To: "h1", Reason: "most free memory", Migration: "m-1"}, nil
	}
	return api.SwitchoverResult{VM: req.VM, From: "h1", To: "h2", Reason: "most free memory", Plan: "p-7", PlanState: "pending"}, nil
}

// Undrain implements api.Operator.
func (f *opsFake) Undrain(_ context.Context, host string) error {
	if host == "h2" {
		return fmt.Errorf("%w: h2 is not in maintenance", api.ErrConflict)
	}
	return nil
}

// Migration implements api.Operator: m-1 runs on at 40 %.
func (f *opsFake) Migration(_ context.Context, id string) (api.MigrationView, error) {
	if id != "m-1" {
		return api.MigrationView{}, fmt.Errorf("migration %s: %w", id, api.ErrNotFound)
	}
	return api.MigrationView{ID: "m-1", VM: "db1", From: "h2", To: "h1", State: "running", Percent: 40}, nil
}

// Migrations implements api.Operator.
func (f *opsFake) Migrations(context.Context) ([]api.MigrationView, error) {
	return []api.MigrationView{
		{ID: "m-1", VM: "web1", From: "h1", To: "h2", State: "running", Queued: time.Now()},
		{ID: "m-0", VM: "web2", From: "h1", To: "h2", State: "succeeded", Queued: time.Now()},
	}, nil
}

func startOpsDaemon(t *testing.T) string {
	t.Helper()
	for _, env := range []string{envServer, envConfig, envToken} {
		t.Setenv(env, "")
	}
	h, err := api.NewServer(&opsFake{cliFake: newCLIFake()}, api.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// Each documented exit status comes from the case it names.
func TestExitCodes(t *testing.T) {
	url := startOpsDaemon(t)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"version"}, exitOK},
		{[]string{"hosts", "--server", url}, exitOK},
		{[]string{"undrain", "h1", "--server", url}, exitOK},
		{[]string{"bogus"}, exitUsage},
		{[]string{"lab", "bogus"}, exitUsage},
		{[]string{"drain"}, exitUsage},
		{[]string{"hosts", "--no-such-flag"}, exitUsage},
		{[]string{"hosts", "-o", "xml", "--server", url}, exitUsage},
		{[]string{"host", "degrade", "h1", "--server", url}, exitUsage},
		{[]string{"switchover", "web1", "--server", url}, exitPending},
		{[]string{"undrain", "h2", "--server", url}, exitRefused},
		{[]string{"switchover", "db1", "--server", url, "--timeout", "1s"}, exitTimeout},
		{[]string{"hosts", "--server", "http://127.0.0.1:1"}, exitError},
	} {
		out, err := runCLI(t.Context(), tc.args...)
		if got := exitCode(err); got != tc.want {
			t.Errorf("lifeboat %s: exit status %d, want %d (err %v)\n%s", strings.Join(tc.args, " "), got, tc.want, err, out)
		}
	}
	// The unknown command is named, with a suggestion.
	_, err := runCLI(t.Context(), "hots")
	if err == nil || !strings.Contains(err.Error(), `unknown command "hots" for "lifeboat"`) || !strings.Contains(err.Error(), "did you mean host or hosts?") {
		t.Errorf("lifeboat hots: %v", err)
	}
	// A bare group still prints its help and succeeds.
	out, err := runCLI(t.Context(), "lab")
	if err != nil || !strings.Contains(out, "Available Commands") {
		t.Errorf("lifeboat lab: %v\n%s", err, out)
	}
}

// The process's exit status is the one exitCode maps (main.go), seen from outside.
func TestExitStatusOfTheProcess(t *testing.T) {
	url := startOpsDaemon(t)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"bogus"}, exitUsage},
		{[]string{"switchover", "web1", "--server", url}, exitPending},
		{[]string{"undrain", "h2", "--server", url}, exitRefused},
		{[]string{"version"}, exitOK},
	} {
		cmd := exec.CommandContext(t.Context(), os.Args[0], tc.args...)
		cmd.Env = append(os.Environ(), "LIFEBOAT_TEST_AS_CLI=1")
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.want {
			t.Errorf("lifeboat %s: exit status %d, want %d\n%s", strings.Join(tc.args, " "), code, tc.want, out)
		}
	}
}

// The help lists the exit statuses.
func TestHelpDocumentsExitCodes(t *testing.T) {
	out, err := runCLI(t.Context(), "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Exit status:", "3  waiting for approval", "4  refused", "5  timed out", "-o table|json|yaml"} {
		if !strings.Contains(out, want) {
			t.Errorf("lifeboat --help lacks %q", want)
		}
	}
}

// complete runs cobra's hidden __complete command and returns the candidates (without their
// descriptions) and the directive line.
func complete(t *testing.T, args ...string) ([]string, string) {
	t.Helper()
	out, err := runCLI(t.Context(), append([]string{"__complete"}, args...)...)
	if err != nil {
		t.Fatalf("__complete %v: %v", args, err)
	}
	var cands []string
	directive := ""
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		switch {
		case strings.HasPrefix(line, ":"):
			directive = line
		case strings.HasPrefix(line, "Completion ended"):
		default:
			name, _, _ := strings.Cut(line, "\t")
			cands = append(cands, name)
		}
	}
	return cands, directive
}

func TestCompletion(t *testing.T) {
	url := startOpsDaemon(t)
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"drain", "--server", url, ""}, []string{"h1", "h2"}},
		{[]string{"host", "confirm-off", "--server", url, ""}, []string{"h1", "h2"}},
		{[]string{"host", "confirm-off", "h2", "--server", url, "--confirm", ""}, []string{"h1", "h2"}},
		{[]string{"switchover", "--server", url, ""}, []string{"web1", "db1"}},
		{[]string{"switchover", "web1", "--server", url, "--to", ""}, []string{"h1", "h2"}},
		{[]string{"explain", "vm", "--server", url, ""}, []string{"web1", "db1"}},
		{[]string{"cancel", "--server", url, ""}, []string{"m-1"}},
		{[]string{"hosts", "-o", ""}, []string{"table", "json", "yaml"}},
		{[]string{"explain", "host", "-o", ""}, []string{"table", "json", "yaml"}},
		{[]string{"lab", "up", "--guest", ""}, []string{"linux", "bios"}},
		{[]string{"lab", "fault", "--health", ""}, []string{"warning", "critical"}},
		// One argument taken: nothing more to offer.
		{[]string{"drain", "h1", "--server", url, ""}, nil},
		// The daemon unreachable: silently nothing.
		{[]string{"drain", "--server", "http://127.0.0.1:1", ""}, nil},
	} {
		got, directive := complete(t, tc.args...)
		if !slices.Equal(got, tc.want) {
			t.Errorf("__complete %s: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
		if directive != ":4" { // ShellCompDirectiveNoFileComp
			t.Errorf("__complete %s: directive %s, want :4 (no file completion)", strings.Join(tc.args, " "), directive)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	out, err := runCLI(t.Context(), "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var b buildDetails
	if err := json.Unmarshal([]byte(out), &b); err != nil {
		t.Fatalf("version -o json: %v\n%s", err, out)
	}
	if b.Version != version || !strings.HasPrefix(b.GoVersion, "go") || b.Platform == "" {
		t.Errorf("version -o json: %+v", b)
	}
	// The libvirt library answers with a dotted version (libvirt-dev is a build dependency).
	if parts := strings.Split(b.Libvirt, "."); len(parts) != 3 {
		t.Errorf("libvirt library version %q", b.Libvirt)
	}
	out, err = runCLI(t.Context(), "version")
	if err != nil || !strings.Contains(out, "libvirt") || !strings.Contains(out, b.GoVersion) {
		t.Errorf("version: %v\n%s", err, out)
	}
}

// -o yaml prints the same data as -o json, views and acting commands alike.
func TestYAMLOutput(t *testing.T) {
	url := startOpsDaemon(t)
	// (Views whose fake stamps each answer with the time now are left out.)
	for _, args := range [][]string{{"hosts"}, {"vms"}, {"events"}, {"undrain", "h1"}} {
		args = append(args, "--server", url)
		js, err := runCLI(t.Context(), append(args, "-o", "json")...)
		if err != nil {
			t.Fatalf("%v -o json: %v", args, err)
		}
		ym, err := runCLI(t.Context(), append(args, "-o", "yaml")...)
		if err != nil {
			t.Fatalf("%v -o yaml: %v", args, err)
		}
		var fromJSON, fromYAML any
		if err := json.Unmarshal([]byte(js), &fromJSON); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal([]byte(ym), &fromYAML); err != nil {
			t.Fatalf("%v -o yaml: %v\n%s", args, err, ym)
		}
		// Compare through JSON: YAML's timestamps and numbers decode as strings and ints.
		a, _ := json.Marshal(fromJSON)
		b, _ := json.Marshal(normalize(fromYAML))
		if string(a) != string(b) {
			t.Errorf("%v: YAML differs from JSON:\n%s\n%s", args, a, b)
		}
	}
}

// normalize makes YAML-decoded ints floats, as JSON decodes them.
func normalize(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalize(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalize(e)
		}
	case int:
		return float64(x)
	}
	return v
}

// Plan arguments complete from the daemon: every plan for 'plan show', the pending ones for
// approve and reject; approve -o yaml prints the decided plan.
func TestPlanCompletionAndYAML(t *testing.T) {
	url := startPlanDaemon(t, newPlanCLIFake())
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"plan", "show", "--server", url, ""}, []string{"p-1", "p-2", "p-3"}},
		{[]string{"approve", "--server", url, ""}, []string{"p-1", "p-2"}},
		{[]string{"reject", "--server", url, ""}, []string{"p-1", "p-2"}},
		{[]string{"approve", "--server", url, "-o", ""}, []string{"table", "json", "yaml"}},
	} {
		if got, _ := complete(t, tc.args...); !slices.Equal(got, tc.want) {
			t.Errorf("__complete %s: %q, want %q", strings.Join(tc.args, " "), got, tc.want)
		}
	}
	out, err := runCLI(t.Context(), "approve", "p-1", "--by", "alice@ws1", "--server", url, "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		ID        string `yaml:"id"`
		State     string `yaml:"state"`
		DecidedBy string `yaml:"decided_by"`
	}
	// The fake runs an approved plan at once, as the daemon does.
	if err := yaml.Unmarshal([]byte(out), &p); err != nil || p.ID != "p-1" || p.State != "running" || !strings.HasPrefix(p.DecidedBy, "alice@ws1") {
		t.Fatalf("approve -o yaml: %+v, %v\n%s", p, err, out)
	}
}

// 'fence test HOST' completes from the configuration file it reads, not from the daemon.
func TestFenceTestCompletesConfiguredHosts(t *testing.T) {
	t.Setenv(envConfig, "")
	p := filepath.Join(t.TempDir(), "lifeboat.yaml")
	writeTestFile(t, p, `hosts:
  - {name: h1, uri: "qemu+tcp://a/system", role: active}
  - {name: h2, uri: "qemu+tcp://b/system", role: standby}
`)
	if got, _ := complete(t, "fence", "test", "--config", p, ""); !slices.Equal(got, []string{"h1", "h2"}) {
		t.Errorf("__complete fence test: %q", got)
	}
	if got, _ := complete(t, "fence", "test", "--config", filepath.Join(t.TempDir(), "none.yaml"), ""); got != nil {
		t.Errorf("__complete fence test with no configuration: %q", got)
	}
}
