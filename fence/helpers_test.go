package fence

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/redfish"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// Credentials of the test BMCs.
const (
	testUser = "admin"
	testPass = "Sup3r-s3cret-pw"
	testID   = "h1"
)

// fakePower is an in-memory bmc.Power. A stubborn one ignores ForceOff.
type fakePower struct {
	mu       sync.Mutex
	state    bmc.PowerState
	stubborn bool
	offCalls int
}

func (f *fakePower) PowerState() bmc.PowerState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.state
}

func (f *fakePower) ForceOff(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.offCalls++
	if !f.stubborn {
		f.state = bmc.PowerOff
	}
	return nil
}

func (f *fakePower) On(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.state = bmc.PowerOn
	return nil
}

func (f *fakePower) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.offCalls
}

// startBMC starts a BMC emulator for a host that is on.
func startBMC(t *testing.T, stubborn bool) (*bmc.Server, *fakePower) {
	t.Helper()
	p := &fakePower{state: bmc.PowerOn, stubborn: stubborn}
	s, err := bmc.New(bmc.Config{SystemID: testID, Username: testUser, Password: testPass, Power: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, p
}

// redfishMethodFor is a Redfish method for s, with the given password.
func redfishMethodFor(t *testing.T, s *bmc.Server, password string) Method {
	t.Helper()
	m, err := NewRedfish(s.URL(), testID, redfish.Credentials{Username: testUser, Password: password}, redfish.Trust{Insecure: true}, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// writeCreds writes a credentials file.
func writeCreds(t *testing.T, user, pass string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(p, []byte("username="+user+"\npassword="+pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// writeScript writes an executable shell script.
func writeScript(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// noSecret fails the test if err's text holds the password.
func noSecret(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), testPass) {
		t.Fatalf("error text leaks the password: %v", err)
	}
}

// waitDead waits until the process whose pid is in file is gone (or a zombie).
func waitDead(t *testing.T, file string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("pid file %s: %v", file, err)
	}
	deadline := time.Now().Add(3 * time.Second)
	for {
		stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
		if err != nil {
			return // gone
		}
		// The state follows the command name in parentheses.
		if i := strings.LastIndexByte(string(stat), ')'); i >= 0 && strings.HasPrefix(string(stat[i+1:]), " Z") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d (from %s) survived the fence timeout: %s", pid, filepath.Base(file), stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
