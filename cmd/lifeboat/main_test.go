package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
)

// TestMain lets the test binary stand in for the lifeboat binary: `lab up` starts its lab process
// by re-executing itself, which in a test is this binary.
func TestMain(m *testing.M) {
	if os.Getenv("LIFEBOAT_TEST_AS_CLI") == "1" {
		main()
		os.Exit(0)
	}
	// Hermetic: a configuration installed on this machine must not leak into the tests.
	defaultConfigPath = "/nonexistent/lifeboat-test/lifeboat.yaml"
	os.Exit(m.Run())
}

// runCLI runs the real command tree with args and returns its standard output and error.
func runCLI(ctx context.Context, args ...string) (string, error) {
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), err
}

func TestVersionAndCompletion(t *testing.T) {
	out, err := runCLI(context.Background(), "--version")
	if err != nil || !strings.Contains(out, "lifeboat version") {
		t.Fatalf("--version: %q, %v", out, err)
	}
	out, err = runCLI(context.Background(), "completion", "bash")
	if err != nil || !strings.Contains(out, "bash completion") {
		t.Fatalf("completion bash: %v (%d bytes)", err, len(out))
	}
}

func TestLabCommandsRejectBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"lab", "status", "--dir", dir}, "no lab in this directory"},
		{[]string{"lab", "down", "--dir", dir}, "no lab in this directory"},
		{[]string{"lab", "fault", "--dir", dir, "h1", "power-off"}, "no lab in this directory"},
		{[]string{"lab", "fault", "--dir", dir, "h1", "explode"}, `unknown fault kind "explode"`},
		{[]string{"lab", "fault", "--dir", dir, "h1"}, "want HOST and KIND"},
		{[]string{"lab", "fault", "--dir", dir, "h1", "freeze", "--reason", "x"}, "degrade only"},
		{[]string{"lab", "fault", "--dir", dir, "h1", "degrade", "--health", "meh"}, `--health "meh"`},
		{[]string{"lab", "status", "--dir", dir, "-o", "xml"}, `-o "xml"`},
		{[]string{"lab", "up", "--dir", dir, "--hosts", "0"}, "--hosts 0"},
		{[]string{"lab", "up", "--dir", dir, "--guest", "windows"}, `--guest "windows"`},
	}
	for _, c := range cases {
		_, err := runCLI(ctx, c.args...)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: got %v, want an error containing %q", c.args, err, c.want)
		}
	}
}
