package main

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
)

// drainCLIFake is a daemon whose drain of h1 cannot finish: web1 and web2 stay on h1, stuck as
// the fake's stuck list says.
type drainCLIFake struct {
	*cliFake
	api.Operator // the operations a drain does not use panic if called
}

func newDrainCLIFake(stuck []api.StuckVM) *drainCLIFake {
	f := &drainCLIFake{cliFake: newCLIFake()}
	f.hosts[0].State = "maintenance"
	f.hosts[0].Stuck = stuck
	return f
}

// Drain implements api.Operator.
func (f *drainCLIFake) Drain(_ context.Context, host string, dryRun bool) (api.DrainResult, error) {
	return api.DrainResult{Host: host, DryRun: dryRun, Plan: []api.PlannedMove{
		{VM: "web1", From: host, Why: "no host has room"}, {VM: "web2", From: host, To: "h2", Why: "most free memory"}}}, nil
}

// Migrations implements api.Operator.
func (f *drainCLIFake) Migrations(context.Context) ([]api.MigrationView, error) {
	return []api.MigrationView{{ID: "m-1", VM: "web2", From: "h1", To: "h2", State: "failed", Queued: time.Now(), Error: "Migration without shared storage is unsafe"}}, nil
}

func startDrainDaemon(t *testing.T, f *drainCLIFake) string {
	t.Helper()
	for _, env := range []string{envServer, envConfig, envToken} {
		t.Setenv(env, "")
	}
	h, err := api.NewServer(f, api.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestDrainStopsWithTheReasonWhenNoVMCanLeave: when every VM left is hopeless, `drain` does not
// wait forever: it names each VM and why, and fails.
func TestDrainStopsWithTheReasonWhenNoVMCanLeave(t *testing.T) {
	url := startDrainDaemon(t, newDrainCLIFake([]api.StuckVM{
		{VM: "web1", Reason: "drain of h1: web1 cannot move and stays: no host has room", Hopeless: true},
		{VM: "web2", Reason: "its live migration to h2 failed 3 time(s) in a row (last: failed: unsafe)", Failures: 3, RetryAt: time.Now().Add(20 * time.Second), Hopeless: true},
	}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := runCLI(ctx, "drain", "h1", "--server", url)
	if !errors.Is(err, errDrainUnfinished) {
		t.Fatalf("drain with every VM stuck: %v\n%s", err, out)
	}
	for _, want := range []string{"drain of h1: web1 cannot move and stays: no host has room", "web2 cannot leave h1: its live migration to h2 failed 3 time(s)", "the daemon tries again at"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"h1 still runs web1, web2, and none of them can leave", "  web2: its live migration", "lifeboat undrain h1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}

// TestDrainTimeout: a drain that may still finish (web2's migration failed once) is waited for
// until --timeout, then the command fails and says what stays.
func TestDrainTimeout(t *testing.T) {
	url := startDrainDaemon(t, newDrainCLIFake([]api.StuckVM{
		{VM: "web2", Reason: "its live migration to h2 failed 1 time(s) in a row", Failures: 1, RetryAt: time.Now().Add(5 * time.Second)},
	}))
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := runCLI(ctx, "drain", "h1", "--server", url, "--timeout", "1s")
	if !errors.Is(err, errDrainUnfinished) || exitCode(err) != exitTimeout || !strings.Contains(err.Error(), "after --timeout 1s: h1 still runs web1, web2") ||
		!strings.Contains(err.Error(), "web2: its live migration to h2 failed 1 time(s)") {
		t.Fatalf("drain --timeout 1s: %v\n%s", err, out)
	}
}
