package fence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// agentWaitDelay is how long a killed agent's pipes may stay open before Wait gives up on them.
const agentWaitDelay = time.Second

// maxAgentOutput caps the output kept from an agent.
const maxAgentOutput = 64 << 10

// run is one finished agent run.
type run struct {
	code int    // exit code; -1 if the process did not exit normally
	out  string // combined stdout and stderr, truncated
}

// runAgent runs path with args, env (nil: the parent's) and stdin, in its own process group.
// When ctx ends the whole group is killed, so no child of the agent survives it; the group is
// killed again after the agent exits, for children it left behind. A non-zero exit is not an
// error: the caller reads run.code. secret, if not empty, is masked in the output.
func runAgent(ctx context.Context, path string, args, env []string, stdin, secret string) (run, error) {
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = agentEnv(env...)
	cmd.Stdin = strings.NewReader(stdin)
	out := &capBuffer{max: maxAgentOutput}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return killGroup(cmd) }
	cmd.WaitDelay = agentWaitDelay
	err := cmd.Run()
	_ = killGroup(cmd)
	r := run{code: -1, out: mask(out.String(), secret)}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return r, fmt.Errorf("%s: killed: %w", path, ctxErr)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		return r, fmt.Errorf("%s: %w", path, err)
	}
	if r.code < 0 {
		return r, fmt.Errorf("%s: %s", path, cmd.ProcessState)
	}
	return r, nil
}

// agentKeep are the variables of the daemon's environment a fence agent gets; nothing else of it
// (such as LIFEBOAT_TOKEN) reaches the agent.
var agentKeep = []string{"PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "PYTHONPATH"}

// agentEnv is a fence agent's environment: agentKeep from the daemon's, then extra.
func agentEnv(extra ...string) []string {
	var env []string
	for _, k := range agentKeep {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return append(env, extra...)
}

// killGroup SIGKILLs the process group cmd's process leads.
func killGroup(cmd *exec.Cmd) error {
	if cmd.Process == nil || cmd.Process.Pid <= 0 {
		return nil
	}
	err := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	if errors.Is(err, syscall.ESRCH) {
		return nil
	}
	return err
}

// mask replaces every occurrence of secret in s.
func mask(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "***")
}

// lastLine is the last non-blank line of s, for error messages.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// capBuffer is a goroutine-safe buffer that keeps at most max bytes.
type capBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

// Write implements io.Writer; bytes past the cap are dropped.
func (b *capBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		b.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// String returns what was kept.
func (b *capBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ io.Writer = (*capBuffer)(nil)
