// Package etcdtest starts real etcd members (Debian's etcd-server binary) for tests and the
// lab: each in its own data directory, on free loopback ports (or given addresses), stopped by
// pid. Nothing here is a fake etcd.
package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Binary is where install-deps puts etcd (Debian's etcd-server package).
const Binary = "/usr/bin/etcd"

// Available says why etcd cannot run here, or nil.
func Available() error {
	if _, err := os.Stat(Binary); err != nil {
		return fmt.Errorf("%s is missing (run `make deps`: it installs Debian's etcd-server): %w", Binary, err)
	}
	return nil
}

// Require skips the test when etcd is not installed, with a message saying how to get it; in
// CI (CI=true) it fails instead.
func Require(t testing.TB) {
	t.Helper()
	if _, err := os.Stat(Binary); err == nil {
		return
	}
	why := Binary + " is missing (run `make deps`: it installs Debian's etcd-server)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("etcd test cannot run in CI: %s", why)
	}
	t.Skipf("etcd test skipped: %s", why)
}

// Member is one etcd member: a process the caller stops with Kill (by pid).
type Member struct {
	Name      string
	Dir       string // data directory
	ClientURL string
	PeerURL   string

	mu   sync.Mutex
	cmd  *exec.Cmd
	exit chan struct{}
	args []string
	wrap []string // command prefix, e.g. nsenter into a namespace
	log  string
}

// Spec describes a member: its name, data directory and the addresses it serves.
type Spec struct {
	Name, Dir           string
	ClientHost          string // IP to serve clients on (default 127.0.0.1)
	ClientPort          int    // 0: a free port
	PeerHost            string // IP to serve peers on (default ClientHost)
	PeerPort            int    // 0: a free port
	Wrap                []string
	HeartbeatMs         int // default 100
	ElectionTimeoutMs   int // default 1000
	InitialClusterState string
}

// NewCluster prepares members from specs (filling free ports) with one initial cluster; call
// Start on each.
func NewCluster(specs []Spec) ([]*Member, error) {
	var ms []*Member
	var initial []string
	for _, s := range specs {
		if s.ClientHost == "" {
			s.ClientHost = "127.0.0.1"
		}
		if s.PeerHost == "" {
			s.PeerHost = s.ClientHost
		}
		var err error
		if s.ClientPort == 0 {
			if s.ClientPort, err = freePort(); err != nil {
				return nil, err
			}
		}
		if s.PeerPort == 0 {
			if s.PeerPort, err = freePort(); err != nil {
				return nil, err
			}
		}
		m := &Member{Name: s.Name, Dir: s.Dir, wrap: s.Wrap,
			ClientURL: fmt.Sprintf("http://%s", net.JoinHostPort(s.ClientHost, fmt.Sprint(s.ClientPort))),
			PeerURL:   fmt.Sprintf("http://%s", net.JoinHostPort(s.PeerHost, fmt.Sprint(s.PeerPort)))}
		hb, el := s.HeartbeatMs, s.ElectionTimeoutMs
		if hb == 0 {
			hb = 100
		}
		if el == 0 {
			el = 1000
		}
		m.args = []string{"--name", s.Name, "--data-dir", filepath.Join(s.Dir, "data"),
			"--listen-client-urls", m.ClientURL, "--advertise-client-urls", m.ClientURL,
			"--listen-peer-urls", m.PeerURL, "--initial-advertise-peer-urls", m.PeerURL,
			"--initial-cluster-state", "new", "--initial-cluster-token", "lifeboat",
			"--heartbeat-interval", fmt.Sprint(hb), "--election-timeout", fmt.Sprint(el),
			"--logger", "zap", "--log-outputs", "stderr"}
		m.log = filepath.Join(s.Dir, "etcd.log")
		initial = append(initial, s.Name+"="+m.PeerURL)
		ms = append(ms, m)
	}
	for _, m := range ms {
		m.args = append(m.args, "--initial-cluster", strings.Join(initial, ","))
	}
	return ms, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("etcd: free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts the member's process (its data directory is kept across Kill and Start).
func (m *Member) Start() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return fmt.Errorf("etcd %s: already running (pid %d)", m.Name, m.cmd.Process.Pid)
	}
	if err := os.MkdirAll(m.Dir, 0o700); err != nil {
		return fmt.Errorf("etcd %s: %w", m.Name, err)
	}
	logf, err := os.OpenFile(m.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("etcd %s: %w", m.Name, err)
	}
	argv := append(append(append([]string{}, m.wrap...), Binary), m.args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("etcd %s: start %s: %w", m.Name, Binary, err)
	}
	logf.Close()
	m.cmd, m.exit = cmd, make(chan struct{})
	go func(cmd *exec.Cmd, exit chan struct{}) {
		_ = cmd.Wait()
		close(exit)
	}(cmd, m.exit)
	return nil
}

// Pid is the member's process id (0 when stopped).
func (m *Member) Pid() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return m.cmd.Process.Pid
}

// Kill stops the member with SIGKILL (its process group, by pid) and waits for it to exit.
func (m *Member) Kill() error {
	m.mu.Lock()
	cmd, exit := m.cmd, m.exit
	m.cmd = nil
	m.mu.Unlock()
	if cmd == nil {
		return nil
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-exit:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("etcd %s: pid %d did not exit after SIGKILL", m.Name, cmd.Process.Pid)
	}
}

// WaitHealthy waits until the member answers /health with true (the cluster has a leader).
func (m *Member) WaitHealthy(ctx context.Context) error {
	var last error
	for {
		m.mu.Lock()
		exit := m.exit
		m.mu.Unlock()
		if exit == nil {
			return fmt.Errorf("etcd %s: not running", m.Name)
		}
		select {
		case <-exit:
			return fmt.Errorf("etcd %s exited; its log %s ends: %s", m.Name, m.log, tail(m.log))
		default:
		}
		last = m.health(ctx)
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("etcd %s: not healthy: %w (last: %v); log %s ends: %s", m.Name, ctx.Err(), last, m.log, tail(m.log))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (m *Member) health(ctx context.Context) error {
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(c, http.MethodGet, m.ClientURL+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `"health":"true"`) {
		return errors.New(strings.TrimSpace(string(b)))
	}
	return nil
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// StartForTest starts a one-member etcd for a test in a temporary directory and stops it (by
// pid) when the test ends. It skips (or fails, in CI) when etcd is not installed.
func StartForTest(t testing.TB) *Member {
	t.Helper()
	return StartClusterForTest(t, 1)[0]
}

// StartClusterForTest starts an n-member etcd cluster on loopback for a test. Free ports are
// picked before etcd binds them, so another process may take one meanwhile: a start that fails
// with "address already in use" is tried again on new ports.
func StartClusterForTest(t testing.TB, n int) []*Member {
	t.Helper()
	Require(t)
	var lastErr error
	for attempt := range 5 {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("try%d", attempt))
		var specs []Spec
		for i := range n {
			specs = append(specs, Spec{Name: fmt.Sprintf("etcd%d", i+1), Dir: filepath.Join(dir, fmt.Sprintf("etcd%d", i+1))})
		}
		ms, err := NewCluster(specs)
		if err != nil {
			t.Fatal(err)
		}
		lastErr = startAll(ms)
		if lastErr == nil {
			for _, m := range ms {
				t.Cleanup(func() {
					if err := m.Kill(); err != nil {
						t.Error(err)
					}
				})
			}
			return ms
		}
		for _, m := range ms {
			_ = m.Kill()
		}
		if !strings.Contains(lastErr.Error(), "address already in use") {
			break
		}
	}
	t.Fatal(lastErr)
	return nil
}

// startAll starts every member and waits until all are healthy.
func startAll(ms []*Member) error {
	for _, m := range ms {
		if err := m.Start(); err != nil {
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range ms {
		if err := m.WaitHealthy(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Endpoints are the client URLs of members.
func Endpoints(ms []*Member) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.ClientURL)
	}
	return out
}
