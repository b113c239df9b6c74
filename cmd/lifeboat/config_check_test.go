package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigCheckNamesEveryBadField: `config check` prints one line per problem, each naming its
// field, and fails.
func TestConfigCheckNamesEveryBadField(t *testing.T) {
	t.Setenv(envConfig, "")
	p := filepath.Join(t.TempDir(), "bad.yaml")
	writeTestFile(t, p, `hosts:
  - {name: h1, uri: "http://a", role: boss, bmc: {type: exec, endpoint: fence_x}}
  - {name: h1, uri: "qemu+tcp://b/system", role: active}
api: {listen: nowhere}
`)
	out, err := runCLI(t.Context(), "config", "check", p)
	if !errors.Is(err, errConfigInvalid) || !strings.Contains(err.Error(), "6 problem(s)") {
		t.Fatalf("config check of a bad file: %v\n%s", err, out)
	}
	for _, f := range []string{"hosts[0].uri", "hosts[0].role", "hosts[0].bmc.endpoint", "hosts[0].bmc.credentials_file", "hosts[1].name", "api.listen"} {
		if !strings.Contains(out, p+": "+f+": ") {
			t.Errorf("output does not name %s:\n%s", f, out)
		}
	}
}

// TestConfigCheckReadsTheFilesTheDaemonReads: a valid file whose credentials file is missing fails
// by field; once the file exists it passes.
func TestConfigCheckReadsTheFilesTheDaemonReads(t *testing.T) {
	t.Setenv(envConfig, "")
	dir := t.TempDir()
	cred := filepath.Join(dir, "h1.cred")
	p := filepath.Join(dir, "lifeboat.yaml")
	writeTestFile(t, p, `hosts:
  - {name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: exec, endpoint: /usr/sbin/fence_ipmilan, credentials_file: `+cred+`}}
api: {listen: "127.0.0.1:7400", token_file: `+filepath.Join(dir, "token")+`}
`)
	out, err := runCLI(t.Context(), "config", "check", p)
	if !errors.Is(err, errConfigInvalid) || !strings.Contains(out, "hosts[0].bmc.credentials_file: ") || !strings.Contains(out, "api.token_file: ") {
		t.Fatalf("missing credentials and token: %v\n%s", err, out)
	}
	writeTestFile(t, cred, "username=admin\npassword=secret\n")
	writeTestFile(t, filepath.Join(dir, "token"), "t0ken\n")
	out, err = runCLI(t.Context(), "config", "check", p)
	if err != nil || !strings.Contains(out, p+": ok (1 hosts)") {
		t.Fatalf("a good file: %v\n%s", err, out)
	}
}

// TestDefaultConfigPath: without FILE, --config or $LIFEBOAT_CONFIG, the commands read the
// default path, and say so when there is nothing there.
func TestDefaultConfigPath(t *testing.T) {
	t.Setenv(envConfig, "")
	saved := defaultConfigPath
	t.Cleanup(func() { defaultConfigPath = saved })
	defaultConfigPath = filepath.Join(t.TempDir(), "lifeboat.yaml")
	for _, args := range [][]string{{"config", "check"}, {"daemon"}} {
		if _, err := runCLI(t.Context(), args...); !errors.Is(err, errNoConfig) || !strings.Contains(err.Error(), defaultConfigPath) {
			t.Errorf("%v without any configuration: %v", args, err)
		}
	}
	writeTestFile(t, defaultConfigPath, `hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]`)
	if out, err := runCLI(t.Context(), "config", "check"); err != nil || !strings.Contains(out, defaultConfigPath+": ok") {
		t.Errorf("config check of the default path: %v\n%s", err, out)
	}
	// The CLI takes the daemon's address from the default configuration.
	writeTestFile(t, defaultConfigPath, `hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
api: {listen: "127.0.0.1:1"}`)
	if _, err := runCLI(t.Context(), "status"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("status with the default configuration: %v", err)
	}
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}
