package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// ErrNoSupervisor means no process serves the lab's control socket (the lab process died, or
// the lab was started in-process by a test).
var ErrNoSupervisor = errors.New("no lab process answers")

// Control talks to the process that runs a lab, through the lab directory's control socket.
type Control struct {
	dir    string
	client *http.Client
}

// Dial checks that dir holds a lab and returns a client for its control socket. It fails with
// ErrNoLab when the directory holds no lab.
func Dial(dir string) (*Control, error) {
	st, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	sock := filepath.Join(st.Dir, controlSocket)
	tr := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}}
	return &Control{dir: st.Dir, client: &http.Client{Transport: tr, Timeout: 3 * time.Minute}}, nil
}

func (c *Control) do(ctx context.Context, method, path string, body, out any) error {
	var rd *bytes.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("testenv: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://lab"+path, rd)
	if err != nil {
		return fmt.Errorf("testenv: %w", err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ENOENT) {
			return fmt.Errorf("testenv: lab in %s: %w", c.dir, ErrNoSupervisor)
		}
		return fmt.Errorf("testenv: lab in %s: %w", c.dir, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var eb errorBody
		if err := json.NewDecoder(resp.Body).Decode(&eb); err != nil || eb.Error == "" {
			return fmt.Errorf("testenv: lab in %s answered %s", c.dir, resp.Status)
		}
		if resp.StatusCode == http.StatusNotFound {
			return fmt.Errorf("%w: %s", ErrUnknownHost, eb.Error)
		}
		return errors.New(eb.Error)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("testenv: decode answer: %w", err)
		}
	}
	return nil
}

// Status asks the lab process for the lab's status.
func (c *Control) Status(ctx context.Context) (Status, error) {
	var st Status
	err := c.do(ctx, http.MethodGet, "/status", nil, &st)
	return st, err
}

// Fault asks the lab process to inject a fault.
func (c *Control) Fault(ctx context.Context, host string, kind FaultKind, p FaultParams) error {
	return c.do(ctx, http.MethodPost, "/fault", faultRequest{Host: host, Kind: string(kind), Reason: p.Reason, Health: string(p.Health), All: p.All}, nil)
}

// Stop asks the lab process to bring the lab down and exit; it returns once asked, not when done.
func (c *Control) Stop(ctx context.Context) error {
	return c.do(ctx, http.MethodPost, "/stop", nil, nil)
}

// ReadStatus reports a lab's status from its state file and a process scan, without its lab
// process. BMC faults then show as last recorded.
func ReadStatus(dir string) (Status, error) {
	st, err := loadState(dir)
	if err != nil {
		return Status{}, err
	}
	return statusOf(st)
}

// HostNames lists the hosts of the lab in dir, for checking a name before asking the lab process.
func HostNames(dir string) ([]string, error) {
	st, err := loadState(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(st.Hosts))
	for _, h := range st.Hosts {
		names = append(names, h.Name)
	}
	return names, nil
}

// SupervisorPID is the pid of the process running the lab in dir, or 0.
func SupervisorPID(dir string) int {
	st, err := loadState(dir)
	if err != nil {
		return 0
	}
	return st.SupervisorPID
}
