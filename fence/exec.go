package fence

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

// Fence agent exit codes (ClusterLabs fence agent API).
const (
	agentExitOK  = 0 // off: done; status: power is on
	agentExitOff = 2 // status: power is off
)

// reservedOptions are the stdin keys the method sets itself; credentials never come from the
// configuration.
var reservedOptions = config.ExecReservedOptions

// execMethod fences through a ClusterLabs fence agent (fence_redfish, fence_ipmilan, ...).
type execMethod struct {
	agent   string
	creds   redfish.Credentials
	options map[string]string
}

// NewExec returns a method that runs the fence agent at agentPath, giving it on its standard
// input key=value lines: options, then username= and password= from the credentials file, then
// action=off or action=status. Off succeeds only if action=off exits 0 and action=status then
// exits 2 (off). options must not set the action or credentials.
func NewExec(agentPath string, credsFile string, options map[string]string) (Method, error) {
	if agentPath == "" || !filepath.IsAbs(agentPath) {
		return nil, fmt.Errorf("fence: exec: agent path %q: want an absolute path", agentPath)
	}
	creds, err := redfish.ReadCredentials(credsFile)
	if err != nil {
		return nil, fmt.Errorf("fence: exec %s: %w", agentPath, err)
	}
	return newExec(agentPath, credsFile, creds, options)
}

// newExec checks the credentials and options that go on the agent's standard input: no value
// may hold a newline (which would add a line, such as a second action=), and no option may set
// what lifeboat sets.
func newExec(agentPath, credsFile string, creds redfish.Credentials, options map[string]string) (Method, error) {
	if strings.ContainsAny(creds.Username+creds.Password, "\r\n") {
		return nil, fmt.Errorf("fence: exec %s: credentials %s: newline in a value", agentPath, credsFile)
	}
	for k, v := range options {
		if slices.Contains(reservedOptions, k) {
			return nil, fmt.Errorf("fence: exec %s: option %q is set by lifeboat (credentials come from the credentials file)", agentPath, k)
		}
		if k == "" || strings.ContainsAny(k, "=\r\n") || strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("fence: exec %s: option %q: want a key without '=' and values without newlines", agentPath, k)
		}
	}
	return &execMethod{agent: agentPath, creds: creds, options: maps.Clone(options)}, nil
}

// Name implements Method: "exec:" and the agent's file name.
func (m *execMethod) Name() string { return "exec:" + filepath.Base(m.agent) }

// stdin is the agent's standard input for action.
func (m *execMethod) stdin(action string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m.options)) {
		fmt.Fprintf(&b, "%s=%s\n", k, m.options[k])
	}
	fmt.Fprintf(&b, "username=%s\npassword=%s\naction=%s\n", m.creds.Username, m.creds.Password, action)
	return b.String()
}

// run runs the agent for action.
func (m *execMethod) run(ctx context.Context, action string) (run, error) {
	if _, err := os.Stat(m.agent); err != nil {
		return run{}, fmt.Errorf("fence agent not found: %w", err)
	}
	r, err := runAgent(ctx, m.agent, nil, nil, m.stdin(action), m.creds.Password)
	if err != nil {
		return r, fmt.Errorf("action=%s: %w", action, err)
	}
	return r, nil
}

// Status implements Method: exit 2 is off, exit 0 on, anything else an error.
func (m *execMethod) Status(ctx context.Context) (bool, error) {
	r, err := m.run(ctx, "status")
	if err != nil {
		return false, err
	}
	switch r.code {
	case agentExitOff:
		return true, nil
	case agentExitOK:
		return false, nil
	}
	return false, fmt.Errorf("action=status: exit %d: %s", r.code, lastLine(r.out))
}

// Off implements Method.
func (m *execMethod) Off(ctx context.Context) error {
	r, err := m.run(ctx, "off")
	if err != nil {
		return err
	}
	if r.code != agentExitOK {
		return fmt.Errorf("action=off: exit %d: %s", r.code, lastLine(r.out))
	}
	off, err := m.Status(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotVerified, err)
	}
	if !off {
		return fmt.Errorf("%w: action=off exited 0 but action=status reports the power on", ErrNotVerified)
	}
	return nil
}
