package testenv

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"
)

// run executes a command and returns its trimmed standard output. On failure the error names the
// command and carries its standard error.
func run(ctx context.Context, name string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = strings.TrimSpace(stdout.String())
		}
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, msg)
	}
	return strings.TrimSpace(stdout.String()), nil
}

// ipCmd runs iproute2's ip with the given arguments.
func ipCmd(ctx context.Context, args ...string) error {
	_, err := run(ctx, "ip", args...)
	return err
}

// Exec runs a command (for tests: virsh and the like) and returns its trimmed standard output;
// the error names the command and carries its standard error.
func Exec(ctx context.Context, name string, args ...string) (string, error) {
	return run(ctx, name, args...)
}
