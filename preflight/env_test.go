package preflight

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// onPower is a host that stays on.
type onPower struct{}

func (onPower) PowerState() bmc.PowerState     { return bmc.PowerOn }
func (onPower) ForceOff(context.Context) error { return nil }
func (onPower) On(context.Context) error       { return nil }

// TestReadPowerUsesBMCTrust: the preflight reads a Redfish BMC (the emulator, over real TLS)
// with the same trust as the daemon: the right pin is accepted, a wrong pin and the system's
// CAs are refused, and http needs allow_http.
func TestReadPowerUsesBMCTrust(t *testing.T) {
	s, err := bmc.New(bmc.Config{SystemID: "h1", Username: "admin", Password: "pw", Power: onPower{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	cred := filepath.Join(t.TempDir(), "bmc.cred")
	if err := os.WriteFile(cred, []byte("username=admin\npassword=pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(s.Certificate().Raw)
	b := config.BMC{Type: config.BMCRedfish, Endpoint: s.URL(), SystemID: "h1", CredentialsFile: cred}

	right := b
	right.PinnedSHA256 = hex.EncodeToString(sum[:])
	if p, err := readPower(t.Context(), right); err != nil || p != "on" {
		t.Errorf("right pin: %q, %v", p, err)
	}
	wrong := b
	wrong.PinnedSHA256 = strings.Repeat("ab", 32)
	if _, err := readPower(t.Context(), wrong); err == nil || !strings.Contains(err.Error(), "not the pinned one") {
		t.Errorf("wrong pin: %v", err)
	}
	if _, err := readPower(t.Context(), b); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("system CAs: %v", err)
	}
	plain := b
	plain.Endpoint = "http://" + s.Addr()
	if _, err := readPower(t.Context(), plain); err == nil || !strings.Contains(err.Error(), "plain http") {
		t.Errorf("http without allow_http: %v", err)
	}
}
