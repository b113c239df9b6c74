package preflight

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

// TestRunNamesEachProblemWithAHint: a cluster with a host whose libvirt refuses TLS, a BMC that
// refuses its credentials, a readable secret and too little room: each shows up by name, with a
// hint, and the rest pass.
func TestRunNamesEachProblemWithAHint(t *testing.T) {
	dir := t.TempDir()
	good, loose, ipmiCred := filepath.Join(dir, "good.cred"), filepath.Join(dir, "loose.cred"), filepath.Join(dir, "ipmi.cred")
	if err := os.WriteFile(ipmiCred, []byte("username=a\npassword=b\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(good, []byte("username=a\npassword=b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(loose, []byte("username=a\npassword=b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte(`
hosts:
  - {name: h1, uri: "qemu+tcp://10.0.0.1/system", role: active, bmc: {type: redfish, endpoint: "https://b1", credentials_file: ` + good + `},
     fence: [{type: redfish, endpoint: "https://b1", credentials_file: ` + good + `}, {type: ipmi, endpoint: "10.0.0.101", credentials_file: ` + ipmiCred + `}]}
  - {name: h2, uri: "qemu+tcp://10.0.0.2/system", role: active, bmc: {type: redfish, endpoint: "https://b2", credentials_file: ` + loose + `}}
  - {name: h3, uri: "qemu+tls://h3.example/system", role: standby}
lease_dir: ` + dir + `
`))
	if err != nil {
		t.Fatal(err)
	}
	gib := uint64(1 << 20) // KiB
	surveys := map[string]hypervisor.Survey{
		"qemu+tcp://10.0.0.1/system": {Hostname: "h1", LibvirtVersion: 9000000, QEMUVersion: 7002000, CPUs: 8, MemoryKiB: 8 * gib,
			Running: []hypervisor.SurveyDomain{{Name: "db1", MemoryKiB: 6 * gib, VCPUs: 2, Disks: []string{"/dev/sdb"}}}},
		"qemu+tcp://10.0.0.2/system": {Hostname: "h2", LibvirtVersion: 9000000, QEMUVersion: 7002000, CPUs: 8, MemoryKiB: 4 * gib,
			Running: []hypervisor.SurveyDomain{{Name: "web1", MemoryKiB: 1 * gib, VCPUs: 1, Disks: []string{"/dev/sdc"}}}},
	}
	env := Env{
		Survey: func(_ context.Context, uri string) (hypervisor.Survey, error) {
			if s, ok := surveys[uri]; ok {
				return s, nil
			}
			return hypervisor.Survey{}, errors.New("TLS handshake failed")
		},
		Dial:   func(context.Context, string) error { return nil },
		Lookup: func(_ context.Context, h string) ([]string, error) { return []string{h}, nil },
		Power: func(_ context.Context, b config.BMC) (string, error) {
			switch b.Endpoint {
			case "https://b2":
				return "", redfish.ErrUnauthorized
			case "10.0.0.101":
				return "", context.DeadlineExceeded
			}
			return "on", nil
		},
		Stat:   func(p string) (fs.FileInfo, error) { return os.Stat(p) },
		Leases: func(string, []string) (int, int, error) { return 1, 1, nil },
	}
	rep := Run(t.Context(), cfg, env)
	if rep.OK {
		t.Fatal("report OK despite the problems")
	}
	failed := map[string]Check{}
	for _, c := range rep.Checks {
		if !c.OK {
			failed[c.Name+" "+c.Host] = c
			if c.Hint == "" {
				t.Errorf("no hint: %+v", c)
			}
		}
	}
	for key, want := range map[string]string{
		"libvirt h3":       "16514",
		"migration h1->h3": "fix the libvirt checks first",
		"bmc h2":           "refuses the credentials: check username= and password= in " + loose,
		"fence h1":         "does not answer in time",
		"secret-file hosts[0].fence[1].credentials_file": "chmod 600 " + ipmiCred,
		"secret-file hosts[1].bmc.credentials_file":      "chmod 600 " + loose,
		"capacity h1": "add a standby host",
		"capacity h3": "fix the libvirt check first",
	} {
		if c, ok := failed[key]; !ok || !strings.Contains(c.Hint, want) {
			t.Errorf("%s: %+v, want a failure with a hint containing %q", key, c, want)
		}
		delete(failed, key)
	}
	for _, extra := range []string{"migration h2->h3", "migration h3->h1", "migration h3->h2"} {
		delete(failed, extra)
	}
	if len(failed) > 0 {
		t.Errorf("unexpected failures: %v", failed)
	}
	fences := 0
	for _, c := range rep.Checks {
		if c.Name == CheckFence {
			fences++
			if !strings.Contains(c.Detail, "hosts[0].fence[1] ipmi 10.0.0.101") {
				t.Errorf("the fence rung check does not name its field: %+v", c)
			}
		}
	}
	if fences != 1 {
		t.Errorf("%d fence rung checks, want 1 (the first rung is h1's BMC, checked as such)", fences)
	}
	for _, c := range rep.Checks {
		if c.Name == CheckCapacity && c.Host == "h2" && (!c.OK || !strings.Contains(c.Detail, "web1->h1")) {
			t.Errorf("h2's VMs fit on h1 (2 GiB free of 8): %+v", c)
		}
		if c.Name == CheckLibvirt && c.Host == "h1" && !strings.Contains(c.Detail, "libvirt 9.0.0, QEMU 7.2.0") {
			t.Errorf("versions: %+v", c)
		}
	}
}
