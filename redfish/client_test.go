package redfish

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

type fakePower struct {
	mu    sync.Mutex
	state bmc.PowerState
}

func (p *fakePower) PowerState() bmc.PowerState { p.mu.Lock(); defer p.mu.Unlock(); return p.state }
func (p *fakePower) ForceOff(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = bmc.PowerOff
	return nil
}
func (p *fakePower) On(context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.state = bmc.PowerOn
	return nil
}

func startBMC(t *testing.T) (*bmc.Server, *fakePower) {
	t.Helper()
	p := &fakePower{state: bmc.PowerOn}
	s, err := bmc.New(bmc.Config{SystemID: "h1", Username: "admin", Password: "pw", Power: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, p
}

func TestStatusHealthAndForceOff(t *testing.T) {
	s, p := startBMC(t)
	c, err := New(s.URL(), "h1", Credentials{"admin", "pw"}, Trust{Insecure: true}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := c.Status(ctx)
	if err != nil || st.Power != "on" || st.Health != "ok" {
		t.Fatalf("status %+v, %v", st, err)
	}
	s.SetHealth(bmc.HealthCritical, "PSU 2 lost input")
	st, _ = c.Status(ctx)
	if st.Health != "critical" || !strings.Contains(st.Reason, "PSU 2") {
		t.Fatalf("degraded status %+v", st)
	}
	if err := c.ForceOff(ctx); err != nil {
		t.Fatal(err)
	}
	if p.PowerState() != bmc.PowerOff {
		t.Fatal("ForceOff did not cut power")
	}
	if st, _ := c.Status(ctx); st.Power != "off" {
		t.Fatalf("after ForceOff power %q", st.Power)
	}
}

func TestDeadBMCTimesOut(t *testing.T) {
	s, _ := startBMC(t)
	s.SetDown(true)
	c, _ := New(s.URL(), "h1", Credentials{"admin", "pw"}, Trust{Insecure: true}, 300*time.Millisecond)
	start := time.Now()
	if _, err := c.Status(context.Background()); err == nil {
		t.Fatal("a dead BMC answered")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("a dead BMC took %s to give up", d)
	}
}

func TestWrongPasswordAndSystem(t *testing.T) {
	s, _ := startBMC(t)
	c, _ := New(s.URL(), "h1", Credentials{"admin", "nope"}, Trust{Insecure: true}, time.Second)
	if _, err := c.Status(context.Background()); !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong password: %v, want ErrUnauthorized", err)
	}
	c, _ = New(s.URL(), "h7", Credentials{"admin", "pw"}, Trust{Insecure: true}, time.Second)
	if _, err := c.Status(context.Background()); err == nil || !strings.Contains(err.Error(), `no system "h7"`) {
		t.Fatalf("unknown system: %v", err)
	}
}

func TestReadCredentials(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte("# bmc\nusername=admin\npassword=s3cret\n"), 0o600)
	c, err := ReadCredentials(good)
	if err != nil || c.Username != "admin" || c.Password != "s3cret" {
		t.Fatalf("%v %v", c, err)
	}
	if strings.Contains(c.String(), "s3cret") {
		t.Fatal("String leaks the password")
	}
	bad := filepath.Join(dir, "bad")
	os.WriteFile(bad, []byte("username admin\n"), 0o600)
	if _, err := ReadCredentials(bad); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad file: %v", err)
	}
	os.WriteFile(bad, []byte("username=admin\n"), 0o600)
	if _, err := ReadCredentials(bad); err == nil || !strings.Contains(err.Error(), "password") {
		t.Fatalf("no password: %v", err)
	}
	if _, err := ReadCredentials(filepath.Join(dir, "missing")); err == nil {
		t.Fatal("missing file accepted")
	}
}
