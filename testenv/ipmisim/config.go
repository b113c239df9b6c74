// Package ipmisim runs a real IPMI-over-LAN BMC for the lifeboat test lab: OpenIPMI's ipmi_sim,
// which the real ipmitool talks to over RMCP+ (lanplus), with its chassis power wired to a
// bmc.Power (in the lab: the lab host's own power, the same one its Redfish emulator drives).
//
// The wiring uses ipmi_sim's chassis_control program (lan.conf, ipmi_lan(5)): for every chassis
// command ipmi_sim runs `PROGRAM get power` or `PROGRAM set power 0|1` (or `set reset 1`). The
// program is a small generated script that asks the Server, through a UNIX socket only root can
// open, to read or change the power. Nothing is cached in ipmi_sim: each `chassis power status`
// reads the power as it is now, so IPMI and Redfish always agree, whoever changed it.
//
// (ipmi_sim's other power model, startcmd, ties the power to a child process that ipmi_sim
// starts and kills. It cannot learn of a power-on made elsewhere, through Redfish or a lab fault,
// so it would show a host off that Redfish shows on.)
package ipmisim

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// ErrInvalidConfig is wrapped by every configuration error New returns.
var ErrInvalidConfig = errors.New("invalid config")

// ErrNotInstalled means ipmi_sim (Debian package openipmi) is not installed.
var ErrNotInstalled = errors.New("ipmi_sim not installed (Debian package openipmi; 'make deps' installs it)")

// CipherSuite is the RMCP+ cipher suite clients should ask for (ipmitool -C 3:
// RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128). Debian 12's ipmi_sim does not answer Get Channel
// Cipher Suites, and ipmitool without -C spends 10 s on that question at every call.
const CipherSuite = 3

// namePattern keeps the BMC's name a plain word for lan.conf and file names.
var namePattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// userPattern keeps the user name and password plain words that lan.conf needs no quoting for.
var userPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// Config configures a Server.
type Config struct {
	// Name names the BMC (lan.conf's name), e.g. the host "h1".
	Name string
	// Username and Password are the one IPMI user's credentials (user 2, admin privilege). IPMI
	// allows at most 16 bytes of user name and 20 of password.
	Username string
	Password string
	// Dir is the Server's own directory: its lan.conf, command file, power script, socket and
	// ipmi_sim's state. It is created if missing; Close removes what the Server wrote there.
	Dir string
	// Power is the chassis power that IPMI reads and drives.
	Power bmc.Power
	// Logger receives power actions; nil discards them.
	Logger *slog.Logger
}

// validate checks c and fills in defaults; each error names the field.
func (c Config) validate() (Config, error) {
	switch {
	case !namePattern.MatchString(c.Name):
		return c, fmt.Errorf("ipmisim: %w: Name %q must be letters, digits, '.', '_' or '-'", ErrInvalidConfig, c.Name)
	case !userPattern.MatchString(c.Username) || len(c.Username) > 16:
		return c, fmt.Errorf("ipmisim: %w: Username %q: want 1 to 16 letters, digits, '.', '_' or '-'", ErrInvalidConfig, c.Username)
	case !userPattern.MatchString(c.Password) || len(c.Password) > 20:
		return c, fmt.Errorf("ipmisim: %w: Password: want 1 to 20 letters, digits, '.', '_' or '-'", ErrInvalidConfig)
	case c.Dir == "" || !filepath.IsAbs(c.Dir) || strings.ContainsAny(c.Dir, " \t\r\n\"'\\$`"):
		return c, fmt.Errorf("ipmisim: %w: Dir %q: want an absolute path without spaces or quotes", ErrInvalidConfig, c.Dir)
	case c.Power == nil:
		return c, fmt.Errorf("ipmisim: %w: Power is nil", ErrInvalidConfig)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
