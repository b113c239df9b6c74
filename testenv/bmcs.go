package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// hostPower lets a host's BMC emulator cut and restore that host's power.
type hostPower struct {
	lab  *Lab
	host string
}

// PowerState reports the host's power as its BMC sees it.
func (p hostPower) PowerState() bmc.PowerState {
	p.lab.mu.Lock()
	defer p.lab.mu.Unlock()
	h, err := p.lab.st.host(p.host)
	if err != nil || !h.Powered {
		return bmc.PowerOff
	}
	return bmc.PowerOn
}

// ForceOff is a hard power loss of the host.
func (p hostPower) ForceOff(ctx context.Context) error { return p.lab.PowerOff(ctx, p.host) }

// On boots the host: a fresh libvirtd with its guests off.
func (p hostPower) On(ctx context.Context) error { return p.lab.PowerOn(ctx, p.host) }

// startBMC writes the host's BMC credentials file and starts its Redfish emulator.
func (l *Lab) startBMC(ctx context.Context, h *hostState) error {
	pw := make([]byte, 12)
	_, _ = rand.Read(pw)
	password := hex.EncodeToString(pw)
	cred := filepath.Join(l.st.Dir, "bmc", h.Name+".cred")
	if err := os.MkdirAll(filepath.Dir(cred), 0o700); err != nil {
		return fmt.Errorf("testenv: BMC of %s: %w", h.Name, err)
	}
	body := fmt.Sprintf("username=%s\npassword=%s\n", l.opts.BMCUser, password)
	if err := os.WriteFile(cred, []byte(body), 0o600); err != nil {
		return fmt.Errorf("testenv: BMC of %s: %w", h.Name, err)
	}
	srv, err := bmc.New(bmc.Config{SystemID: h.Name, Username: l.opts.BMCUser, Password: password,
		Power: hostPower{lab: l, host: h.Name}, Logger: l.log.With("bmc", h.Name)})
	if err != nil {
		return fmt.Errorf("testenv: BMC of %s: %w", h.Name, err)
	}
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("testenv: BMC of %s: %w", h.Name, err)
	}
	l.bmcs[h.Name] = srv
	sum := sha256.Sum256(srv.Certificate().Raw)
	h.BMCURL, h.BMCCredFile, h.BMCSHA256 = srv.URL(), cred, hex.EncodeToString(sum[:])
	return nil
}
