package daemon

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
)

// statusMethod is a fence method whose status action reads a fixed answer; Off must never run.
type statusMethod struct {
	off  bool
	err  error
	offs int
}

func (m *statusMethod) Name() string                         { return "exec:fence_test" }
func (m *statusMethod) Off(context.Context) error            { m.offs++; return nil }
func (m *statusMethod) Status(context.Context) (bool, error) { return m.off, m.err }

func TestFencePowerReadsTheStatusOnly(t *testing.T) {
	m := &statusMethod{}
	p := fencePower{m}
	if st, err := p.Status(t.Context()); err != nil || st.Power != "on" || st.Health != "" {
		t.Errorf("on: %+v %v", st, err)
	}
	m.off = true
	if st, err := p.Status(t.Context()); err != nil || st.Power != "off" {
		t.Errorf("off: %+v %v", st, err)
	}
	m.err = errors.New("agent exited 1")
	if _, err := p.Status(t.Context()); err == nil || !errors.Is(err, m.err) {
		t.Errorf("failed status: %v", err)
	}
	if m.offs != 0 {
		t.Errorf("reading the power called Off %d times", m.offs)
	}
}

func TestNewBMCSourceForEachType(t *testing.T) {
	creds := filepath.Join(t.TempDir(), "c")
	if err := os.WriteFile(creds, []byte("username=a\npassword=b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		bmc  config.BMC
		want string
	}{
		{config.BMC{Type: config.BMCRedfish, Endpoint: "https://10.0.0.1", CredentialsFile: creds}, "*redfish.Client"},
		{config.BMC{Type: config.BMCIPMI, Endpoint: "10.0.0.1", CredentialsFile: creds}, "fencePower"},
		{config.BMC{Type: config.BMCExec, Agent: "fence_ipmilan", CredentialsFile: creds}, "fencePower"},
		{config.BMC{Type: config.BMCNone}, "none"},
	} {
		src, err := newBMCSource(config.Host{Name: "h1", BMC: tc.bmc}, time.Second)
		got := "none"
		switch src.(type) {
		case fencePower:
			got = "fencePower"
		case nil:
		default:
			got = "*redfish.Client"
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.bmc.Type, got, err, tc.want)
		}
	}
	if _, err := newBMCSource(config.Host{Name: "h1", BMC: config.BMC{Type: config.BMCIPMI, Endpoint: "x", CredentialsFile: "/nonexistent"}}, time.Second); err == nil {
		t.Error("an unreadable credentials file was accepted")
	}
}
