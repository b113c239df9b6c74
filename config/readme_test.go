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

// TestInstallGuideFenceExampleValidates keeps docs/INSTALL.md's fence ladder example true.
func TestInstallGuideFenceExampleValidates(t *testing.T) {
	b, err := os.ReadFile("../docs/INSTALL.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "```yaml\nhosts:\n")
	if !ok {
		t.Fatal("docs/INSTALL.md has no configuration example starting with hosts:")
	}
	body, _, _ := strings.Cut(rest, "```")
	cfg, err := Parse([]byte("hosts:\n" + body))
	if err != nil {
		t.Fatalf("the install guide's example does not validate: %v", err)
	}
	if l := cfg.Hosts[0].FenceLadder(); len(l) != 3 || l[2].AgentPath() != "/usr/sbin/fence_apc_snmp" {
		t.Errorf("the example's ladder: %+v", l)
	}
}
