package ipmisim

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The files a Server writes in its directory.
const (
	lanConfFile = "lan.conf"
	emuFile     = "bmc.emu"
	powerScript = "chassis-control"
	powerSocket = "power.sock"
	stateDir    = "state"
	logFile     = "ipmi_sim.log"
)

// files lists everything a Server may create in its directory, for Close and Cleanup.
var files = []string{lanConfFile, emuFile, powerScript, powerSocket, stateDir, logFile}

// lanConf is ipmi_sim's configuration (ipmi_lan(5)): one BMC at IPMB 0x20 with a LAN channel on
// 127.0.0.1:port that takes RMCP+ (and IPMI 1.5 MD5) logins, one admin user, and the chassis
// power wired to the power script.
func lanConf(c Config, port int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# ipmi_sim configuration for BMC %s, written by lifeboat's lab.\n", c.Name)
	fmt.Fprintf(&b, "name \"%s\"\n", c.Name)
	b.WriteString("set_working_mc 0x20\n")
	b.WriteString("  startlan 1\n")
	fmt.Fprintf(&b, "    addr 127.0.0.1 %d\n", port)
	b.WriteString("    priv_limit admin\n")
	for _, p := range []string{"callback", "user", "operator", "admin"} {
		fmt.Fprintf(&b, "    allowed_auths_%s md5\n", p)
	}
	b.WriteString("    guid a123456789abcdefa123456789abcdef\n")
	b.WriteString("  endlan\n")
	fmt.Fprintf(&b, "  chassis_control \"%s %s\"\n", filepath.Join(c.Dir, powerScript), c.Name)
	// user number, enabled, name, password, privilege limit, sessions, IPMI 1.5 auth types.
	fmt.Fprintf(&b, "  user 2 true \"%s\" \"%s\" admin 10 md5\n", c.Username, c.Password)
	return b.String()
}

// emuCommands set up the simulated BMC (ipmi_sim_cmd(5)): a management controller at 0x20 that
// is the BMC, with chassis device support (0x9f: chassis, bridge, event generator and receiver,
// FRU inventory, SEL, SDR repository, sensors).
const emuCommands = `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02
mc_enable 0x20
`

// chassisControl is the power script ipmi_sim runs as its chassis_control program:
// `SCRIPT DEVICE get power` prints power:1 or power:0; `SCRIPT DEVICE set power 0|1` and
// `SCRIPT DEVICE set reset 1` change the power and print nothing. It only forwards to the
// Server's socket; the Server checks every value.
func chassisControl(dir string) string {
	sock := filepath.Join(dir, powerSocket)
	return `#!/bin/sh
# chassis_control program of an ipmi_sim BMC, written by lifeboat's lab (see ipmi_lan(5)):
#   $0 DEVICE get power            prints power:1 (on) or power:0 (off)
#   $0 DEVICE set power 0|1        powers the host off or on
#   $0 DEVICE set reset 1          hard reset: off, then on
sock='` + sock + `'
op=$2
shift 2
case "$op" in
get)
  [ "$1" = power ] || { echo "cannot get $1"; exit 1; }
  exec curl -fsS --max-time 10 --unix-socket "$sock" http://ipmisim/power ;;
set)
  case "$1" in
  power) exec curl -fsS --max-time 120 -X POST --unix-socket "$sock" "http://ipmisim/power?on=$2" ;;
  reset) exec curl -fsS --max-time 240 -X POST --unix-socket "$sock" http://ipmisim/reset ;;
  esac
  echo "cannot set $1"; exit 1 ;;
esac
echo "unknown operation $op"
exit 1
`
}

// writeFiles writes the Server's configuration, command file and power script.
func writeFiles(c Config, port int) error {
	if err := os.MkdirAll(filepath.Join(c.Dir, stateDir), 0o700); err != nil {
		return fmt.Errorf("ipmisim %s: %w", c.Name, err)
	}
	for _, f := range []struct {
		name string
		body string
		mode os.FileMode
	}{
		// lan.conf holds the password: owner only, like the lab's credentials files.
		{lanConfFile, lanConf(c, port), 0o600},
		{emuFile, emuCommands, 0o600},
		{powerScript, chassisControl(c.Dir), 0o700},
	} {
		if err := os.WriteFile(filepath.Join(c.Dir, f.name), []byte(f.body), f.mode); err != nil {
			return fmt.Errorf("ipmisim %s: %w", c.Name, err)
		}
	}
	return nil
}

// removeFiles deletes what a Server wrote in dir.
func removeFiles(dir string) error {
	var first error
	for _, f := range files {
		if err := os.RemoveAll(filepath.Join(dir, f)); err != nil && first == nil {
			first = fmt.Errorf("ipmisim: %w", err)
		}
	}
	return first
}
