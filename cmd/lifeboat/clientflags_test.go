package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
)

// cliFake is an in-memory api.Backend for the CLI tests.
type cliFake struct {
	mu      sync.Mutex
	hosts   []api.HostView
	vms     []api.VMView
	events  []api.Event
	changed chan struct{}
	waiting int
}

// newCLIFake returns a fake with two hosts, two VMs and three events.
func newCLIFake() *cliFake {
	now := time.Now()
	f := &cliFake{changed: make(chan struct{})}
	f.hosts = []api.HostView{
		{Name: "h1", State: "healthy", Reason: "libvirt_ok", Message: "libvirt answers", Since: now.Add(-3 * time.Hour), VMs: []string{"web1", "web2"}, Role: "active"},
		{Name: "h2", State: "failed", Reason: "libvirt_timeout_bmc_off", Message: "libvirt times out and the BMC says power is off", Since: now.Add(-12 * time.Second), VMs: []string{}, Role: "standby"},
	}
	f.vms = []api.VMView{
		{Name: "web1", UUID: "0b6f4a8e-0000-4000-8000-000000000001", Host: "h1", HomeHost: "h1", State: "running", Protected: true, Priority: 10},
		{Name: "db1", UUID: "0b6f4a8e-0000-4000-8000-000000000002", HomeHost: "h2", State: "shutoff", Priority: 100},
	}
	for i, m := range []string{"h2 is suspect", "h2 failed", "h2 fenced"} {
		f.add(api.Event{At: now.Add(time.Duration(i-3) * time.Second), Kind: "verdict", Host: "h2", Reason: fmt.Sprintf("r%d", i), Message: m})
	}
	return f
}

// add journals an event and wakes waiters.
func (f *cliFake) add(e api.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.Seq = uint64(len(f.events)) + 1
	f.events = append(f.events, e)
	close(f.changed)
	f.changed = make(chan struct{})
}

// Status implements api.Backend.
func (f *cliFake) Status(context.Context) (api.StatusView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return api.StatusView{Cluster: "lab", Version: "test", StartedAt: time.Now().Add(-time.Hour), Leader: true,
		Hosts: len(f.hosts), HostStates: map[string]int{"healthy": 1, "failed": 1}, VMs: len(f.vms), ProtectedVMs: 1,
		Store: "memory", LastEvent: uint64(len(f.events))}, nil
}

// Hosts implements api.Backend.
func (f *cliFake) Hosts(context.Context) ([]api.HostView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.HostView(nil), f.hosts...), nil
}

// VMs implements api.Backend.
func (f *cliFake) VMs(context.Context) ([]api.VMView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.VMView(nil), f.vms...), nil
}

// Events implements api.Backend.
func (f *cliFake) Events(_ context.Context, after uint64, limit int) ([]api.Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []api.Event
	for _, e := range f.events {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// WaitEvents implements api.Backend.
func (f *cliFake) WaitEvents(ctx context.Context, after uint64) error {
	f.mu.Lock()
	f.waiting++
	defer func() { f.mu.Lock(); f.waiting--; f.mu.Unlock() }()
	for uint64(len(f.events)) <= after {
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		f.mu.Lock()
	}
	f.mu.Unlock()
	return nil
}

// ExplainHost implements api.Backend.
func (f *cliFake) ExplainHost(_ context.Context, name string) (api.Explanation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, h := range f.hosts {
		if h.Name == name {
			return api.Explanation{Host: name, State: h.State, Reason: h.Reason, Message: h.Message, Since: h.Since,
				Rule: "libvirt unreachable for 3s and BMC power off: failed",
				Signals: []api.SignalView{
					{Name: "libvirt", Value: "timeout", At: h.Since, Detail: "no answer in 1s"},
					{Name: "operator", Value: "none"},
				},
				History: append([]api.Event(nil), f.events...)}, nil
		}
	}
	return api.Explanation{}, fmt.Errorf("host %s: %w", name, api.ErrNotFound)
}

// Ready implements api.Backend.
func (f *cliFake) Ready(context.Context) error { return nil }

// startDaemon serves the fake through the real API server and returns its URL. The environment
// is cleared of LIFEBOAT_* variables so that only the test's choices count.
func startDaemon(t *testing.T, f *cliFake, token string) string {
	t.Helper()
	for _, env := range []string{envServer, envConfig, envToken} {
		t.Setenv(env, "")
	}
	h, err := api.NewServer(f, api.ServerOptions{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// syncBuffer is a bytes.Buffer safe to read while a command writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns what was written so far.
func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestServerFromFlagEnvConfigAndDefault(t *testing.T) {
	f := newCLIFake()
	url := startDaemon(t, f, "")
	ctx := t.Context()
	if out, err := runCLI(ctx, "hosts", "--server", url); err != nil || !strings.Contains(out, "h2") {
		t.Errorf("--server: %v\n%s", err, out)
	}
	t.Setenv(envServer, strings.TrimPrefix(url, "http://"))
	if out, err := runCLI(ctx, "hosts"); err != nil || !strings.Contains(out, "h2") {
		t.Errorf("%s: %v\n%s", envServer, err, out)
	}
	// --server wins over the environment.
	if _, err := runCLI(ctx, "hosts", "--server", "ftp://x"); err == nil || !strings.Contains(err.Error(), `--server: server "ftp://x"`) {
		t.Errorf("a bad --server: %v", err)
	}
	t.Setenv(envServer, "")

	// --config (and LIFEBOAT_CONFIG): http:// and api.listen, and the token from api.token_file.
	dir := t.TempDir()
	tokenURL := startDaemon(t, f, "s3cret")
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "lifeboat.yaml")
	yaml := fmt.Sprintf("cluster: lab\nhosts:\n  - name: h1\n    uri: qemu+tcp://10.0.0.1/system\n    role: active\napi:\n  listen: %s\n  token_file: %s\n",
		strings.TrimPrefix(tokenURL, "http://"), tokenFile)
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := runCLI(ctx, "vms", "--config", cfg); err != nil || !strings.Contains(out, "db1") {
		t.Errorf("--config: %v\n%s", err, out)
	}
	t.Setenv(envConfig, cfg)
	if out, err := runCLI(ctx, "explain", "host", "h1"); err != nil || !strings.Contains(out, "libvirt_ok") {
		t.Errorf("%s: %v\n%s", envConfig, err, out)
	}
	// --token-file and LIFEBOAT_TOKEN win over the config's token.
	if _, err := runCLI(ctx, "status", "--token-file", filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "--token-file") {
		t.Errorf("a missing --token-file: %v", err)
	}
	t.Setenv(envToken, "wrong")
	if _, err := runCLI(ctx, "status"); err == nil || !strings.Contains(err.Error(), "invalid bearer token") || !strings.Contains(err.Error(), "--token-file") {
		t.Errorf("a wrong %s: %v", envToken, err)
	}
	t.Setenv(envToken, "")
	t.Setenv(envConfig, "")
	if _, err := runCLI(ctx, "status", "--config", filepath.Join(dir, "nope.yaml")); err == nil || !strings.Contains(err.Error(), "--config") {
		t.Errorf("a missing --config: %v", err)
	}
}

func TestDefaultServerAndDaemonNotRunning(t *testing.T) {
	for _, env := range []string{envServer, envConfig, envToken} {
		t.Setenv(env, "")
	}
	c, err := (&clientFlags{}).client()
	if err != nil || c.Server() != api.DefaultServer {
		t.Errorf("default server: %v, %v", c, err)
	}
	_, err = runCLI(t.Context(), "status", "--server", "http://127.0.0.1:1")
	if err == nil || !strings.Contains(err.Error(), "cannot reach the lifeboat daemon at http://127.0.0.1:1") || !strings.Contains(err.Error(), "LIFEBOAT_SERVER") {
		t.Errorf("daemon not running: %v", err)
	}
}

func TestDialAddress(t *testing.T) {
	for in, want := range map[string]string{
		"127.0.0.1:7400":  "127.0.0.1:7400",
		":7400":           "127.0.0.1:7400",
		"0.0.0.0:7400":    "127.0.0.1:7400",
		"[::]:7400":       "[::1]:7400",
		"10.0.0.5:80":     "10.0.0.5:80",
		"mgmt.local:7400": "mgmt.local:7400",
	} {
		if got := dialAddress(in); got != want {
			t.Errorf("dialAddress(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAge(t *testing.T) {
	now := time.Now()
	for d, want := range map[time.Duration]string{
		-time.Second:                   "0s",
		12 * time.Second:               "12s",
		4*time.Minute + 12*time.Second: "4m12s",
		3*time.Hour + 4*time.Minute:    "3h4m",
		51 * time.Hour:                 "2d3h",
	} {
		if got := age(now.Add(-d), now); got != want {
			t.Errorf("age(%s) = %q, want %q", d, got, want)
		}
	}
	if got := age(time.Time{}, now); got != "-" {
		t.Errorf("age(zero) = %q", got)
	}
}
