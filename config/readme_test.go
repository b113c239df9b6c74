package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadmeExampleLoads keeps the README's configuration example true: it must load and
// validate as it stands.
func TestReadmeExampleLoads(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\ncluster: prod\n")
	if !ok {
		t.Fatal("README.md has no configuration example starting with cluster: prod")
	}
	body, _, _ := strings.Cut(rest, "```")
	p := filepath.Join(t.TempDir(), "lifeboat.yaml")
	if err := os.WriteFile(p, []byte("cluster: prod\n"+body), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("the README's example does not load: %v", err)
	}
}
