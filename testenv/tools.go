package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// RequireTool returns the path of an installed program that a test needs. When it is missing,
// the test is skipped with a message naming the Debian package that has it; in CI (CI=true) the
// test fails instead, since 'make deps' installs it there.
func RequireTool(t testing.TB, name, debPackage string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s is required in CI (Debian package %s, installed by 'make deps'): %v", name, debPackage, err)
	}
	t.Skipf("%s not installed (Debian package %s; 'make deps' installs it): skipping", name, debPackage)
	return ""
}
