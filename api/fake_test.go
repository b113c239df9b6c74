package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// fakeBackend is an in-memory Backend for handler and client tests.
type fakeBackend struct {
	mu       sync.Mutex
	status   StatusView
	hosts    []HostView
	vms      []VMView
	events   []Event
	explain  map[string]Explanation
	notReady error
	fail     error // when set, every data call fails with it
	waitErr  error // when set, WaitEvents fails with it
	changed  chan struct{}
	waiting  int // WaitEvents calls in progress
}

// t0 is the fake's clock origin.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// newFake returns a fake with three hosts, two VMs and two events.
func newFake() *fakeBackend {
	f := &fakeBackend{changed: make(chan struct{})}
	f.hosts = []HostView{
		{Name: "h1", State: "healthy", Reason: "libvirt_ok", Message: "libvirt answers", Since: t0, VMs: []string{"web1"}, Role: "active", Group: "rack1"},
		{Name: "h2", State: "failed", Reason: "libvirt_timeout_bmc_off", Message: "libvirt times out and the BMC says power is off", Since: t0.Add(time.Minute), VMs: nil, Role: "active"},
		{Name: "h3", State: "healthy", Reason: "libvirt_ok", Message: "libvirt answers", Since: t0, VMs: []string{"db1"}, Role: "standby"},
	}
	f.vms = []VMView{
		{Name: "web1", UUID: "0b6f4a8e-0000-4000-8000-000000000001", Host: "h1", HomeHost: "h1", State: "running", Protected: true, Priority: 10},
		{Name: "db1", UUID: "0b6f4a8e-0000-4000-8000-000000000002", Host: "h3", HomeHost: "h2", State: "running", Protected: true, Priority: 100},
	}
	f.status = StatusView{Cluster: "lab", Version: "test", StartedAt: t0, Leader: true, Hosts: 3,
		HostStates: map[string]int{"healthy": 2, "failed": 1}, VMs: 2, ProtectedVMs: 2, Store: "memory"}
	f.explain = map[string]Explanation{"h2": {
		Host: "h2", State: "failed", Reason: "libvirt_timeout_bmc_off", Message: "libvirt times out and the BMC says power is off",
		Since: t0.Add(time.Minute), Rule: "libvirt unreachable for 3s and BMC power off: failed",
		Signals: []SignalView{
			{Name: "libvirt", Value: "timeout", At: t0.Add(time.Minute), Detail: "no answer in 1s"},
			{Name: "bmc_power", Value: "off", At: t0.Add(time.Minute)},
			{Name: "operator", Value: "none"},
		},
	}}
	f.add(Event{At: t0, Kind: "verdict", Host: "h2", Reason: "libvirt_timeout", Message: "h2 is suspect"})
	f.add(Event{At: t0.Add(time.Minute), Kind: "verdict", Host: "h2", Reason: "libvirt_timeout_bmc_off", Message: "h2 failed"})
	return f
}

// add journals an event, numbering it, and wakes waiters.
func (f *fakeBackend) add(e Event) Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	e.Seq = uint64(len(f.events)) + 1
	f.events = append(f.events, e)
	f.status.LastEvent = e.Seq
	close(f.changed)
	f.changed = make(chan struct{})
	return e
}

// Status implements Backend.
func (f *fakeBackend) Status(context.Context) (StatusView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.status, f.fail
}

// Hosts implements Backend.
func (f *fakeBackend) Hosts(context.Context) ([]HostView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	return append([]HostView(nil), f.hosts...), nil
}

// VMs implements Backend.
func (f *fakeBackend) VMs(context.Context) ([]VMView, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	return append([]VMView(nil), f.vms...), nil
}

// Events implements Backend.
func (f *fakeBackend) Events(_ context.Context, after uint64, limit int) ([]Event, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	var out []Event
	for _, e := range f.events {
		if e.Seq > after && len(out) < limit {
			out = append(out, e)
		}
	}
	return out, nil
}

// WaitEvents implements Backend.
func (f *fakeBackend) WaitEvents(ctx context.Context, after uint64) error {
	f.mu.Lock()
	f.waiting++
	defer func() {
		f.mu.Lock()
		f.waiting--
		f.mu.Unlock()
	}()
	for {
		if f.waitErr != nil {
			f.mu.Unlock()
			return f.waitErr
		}
		if uint64(len(f.events)) > after {
			f.mu.Unlock()
			return nil
		}
		ch := f.changed
		f.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		f.mu.Lock()
	}
}

// ExplainHost implements Backend.
func (f *fakeBackend) ExplainHost(_ context.Context, name string) (Explanation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return Explanation{}, f.fail
	}
	ex, ok := f.explain[name]
	if !ok {
		return Explanation{}, fmt.Errorf("host %s: %w", name, ErrNotFound)
	}
	return ex, nil
}

// Ready implements Backend.
func (f *fakeBackend) Ready(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.notReady
}

// set runs fn with the fake locked.
func (f *fakeBackend) set(fn func(*fakeBackend)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

// waiters returns the number of WaitEvents calls in progress.
func (f *fakeBackend) waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.waiting
}

// serve starts an httptest server over NewServer(f, opts).
func serve(t *testing.T, f *fakeBackend, opts ServerOptions) *httptest.Server {
	t.Helper()
	h, err := NewServer(f, opts)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// get sends a GET with an optional bearer token and returns the status, body and content type.
func get(t *testing.T, url, token string) (int, string, string) {
	t.Helper()
	return do(t, http.MethodGet, url, token)
}

// do sends a request and returns the status, body and content type.
func do(t *testing.T, method, url, token string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, string(b), resp.Header.Get("Content-Type")
}
