// Package packaging holds the Debian package's definition (nfpm.yaml), its systemd unit and
// example configuration; its test builds the package and checks what it installs.
package packaging

import (
	"bufio"
	"context"
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv"
)

// TestDebianPackage builds the .deb as 'make package' does, checks its contents, owners, modes,
// conffiles and binary, installs it into a clean root, and has systemd verify the unit there.
func TestDebianPackage(t *testing.T) {
	dpkgDeb := testenv.RequireTool(t, "dpkg-deb", "dpkg")
	analyze := testenv.RequireTool(t, "systemd-analyze", "systemd")
	testenv.RequireTool(t, "go", "golang (or /usr/local/go/bin on PATH)")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Minute)
	defer cancel()
	out := t.TempDir()
	b, err := exec.CommandContext(ctx, "../scripts/package.sh", out).CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/package.sh: %v\n%s", err, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	deb := lines[len(lines)-1]
	if !strings.HasPrefix(deb, out+"/lifeboat_0.1.0~git") || !strings.HasSuffix(deb, "_amd64.deb") {
		t.Fatalf("package path %q (output:\n%s)", deb, b)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		b, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, b)
		}
		return string(b)
	}

	if got := run(dpkgDeb, "-f", deb, "Package", "Depends"); !strings.Contains(got, "Package: lifeboat") || !strings.Contains(got, "Depends: libvirt0") {
		t.Errorf("control fields:\n%s", got)
	}
	if got := strings.TrimSpace(run(dpkgDeb, "-I", deb, "conffiles")); got != "/etc/lifeboat/lifeboat.yaml" {
		t.Errorf("conffiles: %q, want /etc/lifeboat/lifeboat.yaml", got)
	}
	// Every file and directory the package owns, with its mode and owner.
	want := map[string]string{
		"./usr/bin/lifeboat":                                 "-rwxr-xr-x root/root",
		"./lib/systemd/system/lifeboat.service":              "-rw-r--r-- root/root",
		"./etc/lifeboat/":                                    "drwxr-x--- root/root",
		"./etc/lifeboat/lifeboat.yaml":                       "-rw-r----- root/root",
		"./var/lib/lifeboat/":                                "drwx------ root/root",
		"./usr/share/doc/lifeboat/README.md":                 "-rw-r--r-- root/root",
		"./usr/share/doc/lifeboat/INSTALL.md":                "-rw-r--r-- root/root",
		"./usr/share/lifeboat/prometheus/lifeboat-rules.yml": "-rw-r--r-- root/root",
		"./usr/share/lifeboat/grafana/lifeboat.json":         "-rw-r--r-- root/root",
	}
	sc := bufio.NewScanner(strings.NewReader(run(dpkgDeb, "-c", deb)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue
		}
		path := f[len(f)-1]
		if w, ok := want[path]; ok {
			if got := f[0] + " " + f[1]; got != w {
				t.Errorf("%s: %s, want %s", path, got, w)
			}
			delete(want, path)
		}
	}
	for path := range want {
		t.Errorf("the package lacks %s", path)
	}

	root := t.TempDir()
	run(dpkgDeb, "-x", deb, root)
	bin := filepath.Join(root, "usr/bin/lifeboat")
	checkBinary(t, bin)
	if got := run(bin, "--version"); !strings.Contains(got, "lifeboat version") {
		t.Errorf("lifeboat --version: %q", got)
	}
	// The example is inert as installed (every setting commented out: the daemon refuses to
	// start until it is configured), and valid once its settings are uncommented.
	example := filepath.Join(root, "etc/lifeboat/lifeboat.yaml")
	if b, err := exec.CommandContext(ctx, bin, "config", "check", example).CombinedOutput(); err == nil || !strings.Contains(string(b), "hosts: at least one host is required") {
		t.Errorf("config check of the example as installed: %v\n%s", err, b)
	}
	if _, err := config.Parse([]byte(uncomment(t, example))); err != nil {
		t.Errorf("the example, uncommented, does not validate: %v", err)
	}

	unit := filepath.Join(root, "lib/systemd/system/lifeboat.service")
	checkUnit(t, unit)
	// A clean root holds what the unit refers to: systemd's own units (targets the default
	// dependencies name) and /bin/kill, as on any Debian system.
	if err := os.MkdirAll(filepath.Join(root, "usr/lib/systemd"), 0o755); err != nil {
		t.Fatal(err)
	}
	run("cp", "-a", "/usr/lib/systemd/system", filepath.Join(root, "usr/lib/systemd/"))
	run("cp", "/usr/bin/kill", filepath.Join(root, "usr/bin/kill"))
	if err := os.Symlink("usr/bin", filepath.Join(root, "bin")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, analyze, "verify", "--root="+root, "/lib/systemd/system/lifeboat.service")
	if b, err := cmd.CombinedOutput(); err != nil || len(strings.TrimSpace(string(b))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, b)
	}
}

// checkBinary: built with -trimpath and stripped (-s -w: no symbol table, no DWARF).
func checkBinary(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, s := range []string{".symtab", ".debug_info"} {
		if f.Section(s) != nil {
			t.Errorf("%s has a %s section: not stripped", bin, s)
		}
	}
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	// (With -trimpath, Go leaves -ldflags out of the build info: the sections above show -s -w.)
	if settings["-trimpath"] != "true" || settings["CGO_ENABLED"] != "1" {
		t.Errorf("build settings: %v", settings)
	}
}

// checkUnit: the service restarts on failure, runs sandboxed and may write only its store.
func checkUnit(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			got[k] = v
		}
	}
	for k, v := range map[string]string{
		"ExecStart":               "/usr/bin/lifeboat daemon --config /etc/lifeboat/lifeboat.yaml --log-format json",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"Restart":                 "on-failure",
		"ProtectSystem":           "strict",
		"ReadWritePaths":          "/var/lib/lifeboat",
		"PrivateTmp":              "yes",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"WantedBy":                "multi-user.target",
	} {
		if g, ok := got[k]; !ok || g != v {
			t.Errorf("unit %s=%q, want %q", k, g, v)
		}
	}
}

// uncomment turns the example into the configuration it describes: its '# ' lines without the
// mark; '## ' lines are explanations.
func uncomment(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if s, ok := strings.CutPrefix(line, "# "); ok && !strings.HasPrefix(line, "##") {
			out = append(out, s)
		}
	}
	return strings.Join(out, "\n")
}
