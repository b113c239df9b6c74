// Package alertmanager runs a real Prometheus Alertmanager for tests: one process on free
// 127.0.0.1 ports, clustering off, its configuration routing every alert to one webhook.
// Tests post alerts to it as Prometheus would and see what it delivers.
package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.yaml.in/yaml/v3"
)

// DefaultBinary is the Debian package's Alertmanager (apt-get install prometheus-alertmanager).
const DefaultBinary = "/usr/bin/prometheus-alertmanager"

// ErrNoBinary: no Alertmanager binary was found (tests skip, or fail in CI).
var ErrNoBinary = errors.New("alertmanager: no Alertmanager binary (apt-get install prometheus-alertmanager)")

// Defaults of Options: a notification leaves within a second of an alert or its resolution.
const (
	DefaultGroupWait      = 200 * time.Millisecond
	DefaultGroupInterval  = time.Second
	DefaultRepeatInterval = time.Hour
)

const (
	// startTimeout bounds Start when ctx has no deadline.
	startTimeout = 30 * time.Second
	// stopGrace is how long Stop waits after SIGTERM before it sends SIGKILL.
	stopGrace = 5 * time.Second
	// startAttempts: Start retries with new ports when another process took a free port first.
	startAttempts = 3
)

// Options configure Start.
type Options struct {
	// Dir is a scratch directory for the configuration, data and log; the caller removes it.
	Dir string
	// WebhookURL receives every notification (for lifeboat: .../v1/alerts/alertmanager).
	WebhookURL string
	// TokenFile, when set, holds the bearer token Alertmanager sends to the webhook
	// (http_config.authorization.credentials_file); "" sends no Authorization header.
	TokenFile string
	// GroupBy are the route's grouping labels; nil means ["alertname"], so one notification can
	// carry the alerts of several hosts. ["..."] gives every alert its own group.
	GroupBy []string
	// GroupWait, GroupInterval and RepeatInterval are the route's timers; 0 means the Default.
	GroupWait, GroupInterval, RepeatInterval time.Duration
	// Binary is the Alertmanager executable; "" means prometheus-alertmanager from PATH, else
	// DefaultBinary.
	Binary string
}

// Alert is an alert as a Prometheus server posts it to Alertmanager's /api/v2/alerts.
type Alert struct {
	// Labels identify the alert; alertname and the host label (instance) at least.
	Labels map[string]string `json:"labels"`
	// Annotations carry summary and description.
	Annotations map[string]string `json:"annotations,omitempty"`
	// StartsAt is zero for now.
	StartsAt time.Time `json:"startsAt,omitzero"`
	// EndsAt is zero for "firing until Alertmanager's resolve timeout"; a past time resolves it.
	EndsAt time.Time `json:"endsAt,omitzero"`
}

// Instance is a running Alertmanager.
type Instance struct {
	url     string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited and been reaped
	client  *http.Client

	stopOnce sync.Once
	stopErr  error
}

// FindBinary returns the Alertmanager executable: prometheus-alertmanager from PATH, else
// DefaultBinary; ErrNoBinary when neither exists.
func FindBinary() (string, error) {
	if p, err := exec.LookPath("prometheus-alertmanager"); err == nil {
		return p, nil
	}
	if st, err := os.Stat(DefaultBinary); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
		return DefaultBinary, nil
	}
	return "", ErrNoBinary
}

// Start writes the configuration into opts.Dir, starts Alertmanager and returns once it is
// ready. ctx bounds the start only; the process runs until Stop.
func Start(ctx context.Context, opts Options) (*Instance, error) {
	if err := opts.fill(); err != nil {
		return nil, err
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, startTimeout)
		defer cancel()
	}
	cfgPath := filepath.Join(opts.Dir, "alertmanager.yml")
	cfg, err := opts.config()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
		return nil, fmt.Errorf("alertmanager: write config: %w", err)
	}
	var errs []error
	for range startAttempts {
		in, err := start(ctx, opts, cfgPath)
		if err == nil {
			return in, nil
		}
		errs = append(errs, err)
		if !errors.Is(err, errPortTaken) || ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// errPortTaken: a port chosen as free was taken before Alertmanager bound it.
var errPortTaken = errors.New("port taken")

// start runs one attempt on fresh ports.
func start(ctx context.Context, opts Options, cfgPath string) (*Instance, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(opts.Dir, "alertmanager.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("alertmanager: log file: %w", err)
	}
	defer logf.Close() // the child holds its own descriptor
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(opts.Binary,
		"--config.file="+cfgPath,
		"--storage.path="+filepath.Join(opts.Dir, "data"),
		"--web.listen-address="+addr,
		"--web.external-url=http://"+addr, // the payloads' externalURL, not the machine's name
		"--cluster.listen-address=",       // no gossip port: a single instance
		"--log.level=debug",
	)
	cmd.Dir = opts.Dir
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so Stop's signal reaches nothing else; and it dies with the test.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("alertmanager: start %s: %w", opts.Binary, err)
	}
	in := &Instance{
		url:     "http://" + addr,
		logPath: logPath,
		cmd:     cmd,
		done:    make(chan struct{}),
		client:  &http.Client{Timeout: 5 * time.Second},
	}
	go func() {
		_ = cmd.Wait()
		close(in.done)
	}()
	if err := in.waitReady(ctx); err != nil {
		_ = in.Stop()
		log := in.logTail()
		if strings.Contains(log, "address already in use") {
			err = fmt.Errorf("%w: %w", err, errPortTaken)
		}
		return nil, fmt.Errorf("%w; its log (%s) ends:\n%s", err, logPath, log)
	}
	return in, nil
}

// fill checks opts and sets the defaults.
func (o *Options) fill() error {
	if o.Dir == "" {
		return errors.New("alertmanager: Options.Dir is empty: give a scratch directory")
	}
	if o.WebhookURL == "" {
		return errors.New("alertmanager: Options.WebhookURL is empty")
	}
	if o.GroupWait < 0 || o.GroupInterval < 0 || o.RepeatInterval < 0 {
		return errors.New("alertmanager: negative GroupWait, GroupInterval or RepeatInterval")
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return fmt.Errorf("alertmanager: Options.Dir: %w", err)
	}
	o.Dir = dir
	if o.TokenFile != "" {
		if o.TokenFile, err = filepath.Abs(o.TokenFile); err != nil {
			return fmt.Errorf("alertmanager: Options.TokenFile: %w", err)
		}
		if _, err := os.Stat(o.TokenFile); err != nil {
			return fmt.Errorf("alertmanager: Options.TokenFile: %w", err)
		}
	}
	if o.GroupBy == nil {
		o.GroupBy = []string{"alertname"}
	}
	if o.GroupWait == 0 {
		o.GroupWait = DefaultGroupWait
	}
	if o.GroupInterval == 0 {
		o.GroupInterval = DefaultGroupInterval
	}
	if o.RepeatInterval == 0 {
		o.RepeatInterval = DefaultRepeatInterval
	}
	if o.Binary == "" {
		if o.Binary, err = FindBinary(); err != nil {
			return err
		}
	}
	return nil
}

// config renders alertmanager.yml: one route to one webhook that also reports resolutions.
func (o *Options) config() ([]byte, error) {
	webhook := map[string]any{"url": o.WebhookURL, "send_resolved": true}
	if o.TokenFile != "" {
		webhook["http_config"] = map[string]any{
			"authorization": map[string]any{"type": "Bearer", "credentials_file": o.TokenFile},
		}
	}
	cfg := map[string]any{
		"route": map[string]any{
			"receiver":        "lifeboat",
			"group_by":        o.GroupBy,
			"group_wait":      promDuration(o.GroupWait),
			"group_interval":  promDuration(o.GroupInterval),
			"repeat_interval": promDuration(o.RepeatInterval),
		},
		"receivers": []any{map[string]any{"name": "lifeboat", "webhook_configs": []any{webhook}}},
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("alertmanager: render config: %w", err)
	}
	return b, nil
}

// promDuration formats d as Prometheus durations are written (whole milliseconds).
func promDuration(d time.Duration) string {
	return strconv.FormatInt(d.Milliseconds(), 10) + "ms"
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("alertmanager: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitReady polls /-/ready until it answers 200, the process exits or ctx ends.
func (in *Instance) waitReady(ctx context.Context) error {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.url+"/-/ready", nil)
		if err != nil {
			return fmt.Errorf("alertmanager: %w", err)
		}
		if resp, err := in.client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-in.done:
			return fmt.Errorf("alertmanager: exited before it was ready (%s)", in.cmd.ProcessState)
		case <-ctx.Done():
			return fmt.Errorf("alertmanager: not ready at %s/-/ready: %w", in.url, ctx.Err())
		case <-tick.C:
		}
	}
}

// URL returns the base URL of Alertmanager's web API, like http://127.0.0.1:PORT.
func (in *Instance) URL() string { return in.url }

// LogFile returns the path of Alertmanager's log (debug level).
func (in *Instance) LogFile() string { return in.logPath }

// Post sends alerts to /api/v2/alerts as a Prometheus server does.
func (in *Instance) Post(ctx context.Context, alerts ...Alert) error {
	body, err := json.Marshal(alerts)
	if err != nil {
		return fmt.Errorf("alertmanager: encode alerts: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.url+"/api/v2/alerts", bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("alertmanager: post alerts: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := in.client.Do(req)
	if err != nil {
		return fmt.Errorf("alertmanager: post alerts: %w", err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("alertmanager: post alerts: %s: %s", resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// Resolve posts alerts as resolved: those without an EndsAt end now.
func (in *Instance) Resolve(ctx context.Context, alerts ...Alert) error {
	now := time.Now()
	resolved := make([]Alert, len(alerts))
	for i, a := range alerts {
		if a.EndsAt.IsZero() || a.EndsAt.After(now) {
			a.EndsAt = now
		}
		resolved[i] = a
	}
	return in.Post(ctx, resolved...)
}

// Stop ends the process it started (SIGTERM to its process group, SIGKILL after a grace
// period) and reaps it. Calling it again is harmless.
func (in *Instance) Stop() error {
	in.stopOnce.Do(func() { in.stopErr = in.stop() })
	return in.stopErr
}

// stop signals the process group and waits for the process.
func (in *Instance) stop() error {
	pid := in.cmd.Process.Pid
	select {
	case <-in.done:
		return nil
	default:
	}
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-in.done:
		return nil
	case <-time.After(stopGrace):
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	select {
	case <-in.done:
		return nil
	case <-time.After(stopGrace):
		return fmt.Errorf("alertmanager: pid %d did not exit after SIGKILL", pid)
	}
}

// logTail returns the end of the log, for errors.
func (in *Instance) logTail() string {
	b, err := os.ReadFile(in.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	const tail = 2 << 10
	if len(b) > tail {
		b = b[len(b)-tail:]
	}
	return strings.TrimSpace(string(b))
}
