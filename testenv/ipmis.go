package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/lifeboat-ha/lifeboat/testenv/ipmisim"
)

// ipmiDir is the lab directory entry that holds each host's IPMI BMC (ipmi/HOST/).
const ipmiDir = "ipmi"

// startIPMIs gives every host an IPMI-over-LAN BMC (ipmi_sim) on 127.0.0.1 whose chassis power
// is the host's power, the same one its Redfish emulator drives. Without ipmi_sim installed the
// lab comes up without them (and its daemon configuration without the ipmi rung); it says so.
func (l *Lab) startIPMIs(ctx context.Context) error {
	if _, err := ipmisim.Installed(); err != nil {
		l.log.Warn("lab hosts get no IPMI BMC", "why", err)
		return nil
	}
	for i := range l.st.Hosts {
		if err := l.startIPMI(ctx, &l.st.Hosts[i]); err != nil {
			return err
		}
		if err := l.st.save(); err != nil {
			return err
		}
	}
	return nil
}

// startIPMI writes the host's IPMI credentials file (its own password: IPMI takes at most 20
// bytes) and starts its ipmi_sim, recording the pid before anything else can fail.
func (l *Lab) startIPMI(ctx context.Context, h *hostState) error {
	pw := make([]byte, 8)
	_, _ = rand.Read(pw)
	password := hex.EncodeToString(pw)
	cred := filepath.Join(l.st.Dir, "bmc", h.Name+"-ipmi.cred")
	if err := os.MkdirAll(filepath.Dir(cred), 0o700); err != nil {
		return fmt.Errorf("testenv: IPMI BMC of %s: %w", h.Name, err)
	}
	body := fmt.Sprintf("username=%s\npassword=%s\n", l.opts.BMCUser, password)
	if err := os.WriteFile(cred, []byte(body), 0o600); err != nil {
		return fmt.Errorf("testenv: IPMI BMC of %s: %w", h.Name, err)
	}
	dir := filepath.Join(l.st.Dir, ipmiDir, h.Name)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("testenv: IPMI BMC of %s: %w", h.Name, err)
	}
	srv, err := ipmisim.New(ipmisim.Config{Name: h.Name, Username: l.opts.BMCUser, Password: password, Dir: dir,
		Power: hostPower{lab: l, host: h.Name}, Logger: l.log.With("ipmi", h.Name)})
	if err != nil {
		return fmt.Errorf("testenv: IPMI BMC of %s: %w", h.Name, err)
	}
	h.IPMIDir, h.IPMICredFile = dir, cred
	if err := srv.Start(ctx); err != nil {
		return fmt.Errorf("testenv: IPMI BMC of %s: %w", h.Name, err)
	}
	l.ipmis[h.Name] = srv
	h.IPMIPort, h.IPMIPID = srv.Port(), srv.PID()
	return nil
}

// stopIPMIs ends the IPMI BMCs this process runs.
func (l *Lab) stopIPMIs() []error {
	var errs []error
	for _, srv := range l.ipmis {
		if err := srv.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// teardownIPMIs ends, by pid, any ipmi_sim a lab process left running (after a crash) and
// removes the IPMI BMCs' files.
func teardownIPMIs(st *labState) error {
	var errs []error
	for _, h := range st.Hosts {
		if h.IPMIDir != "" {
			errs = append(errs, ipmisim.Cleanup(h.IPMIPID, h.IPMIDir))
		}
	}
	return errors.Join(errs...)
}
