package fence

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/redfish"
)

// errNoIPMITool means ipmitool is not installed.
var errNoIPMITool = errors.New("ipmitool not found")

// ipmiPoll is how often the IPMI method re-reads the chassis power while it waits for off.
const ipmiPoll = 500 * time.Millisecond

// ipmiMethod fences through ipmitool over IPMI v2 (lanplus). The password reaches ipmitool only
// through the IPMI_PASSWORD variable of its environment (-E), never its command line.
type ipmiMethod struct {
	address string
	opts    IPMIOptions
	creds   redfish.Credentials
	// tool is ipmitool's path; empty means look it up in PATH when needed.
	tool string
	poll time.Duration
}

// IPMIOptions are an IPMI method's optional ipmitool settings.
type IPMIOptions struct {
	// Port is the BMC's UDP port (-p); zero means ipmitool's default, 623.
	Port int
	// CipherSuite is the RMCP+ cipher suite (-C, 1 to 17); zero lets ipmitool choose.
	CipherSuite int
}

// NewIPMI returns a method that runs `ipmitool -I lanplus -H address [-p port] [-C suite] -U
// user -E chassis power off`, then polls `chassis power status` until it says off. The
// credentials come from credsFile; the password is passed in the child's IPMI_PASSWORD
// environment variable only.
func NewIPMI(address string, credsFile string, opts IPMIOptions) (Method, error) {
	if address == "" || strings.HasPrefix(address, "-") || strings.ContainsAny(address, " \t\r\n") {
		return nil, fmt.Errorf("fence: ipmi: address %q: want a host name or IP address", address)
	}
	if opts.Port < 0 || opts.Port > 65535 {
		return nil, fmt.Errorf("fence: ipmi %s: port %d: want 1 to 65535 (or 0 for 623)", address, opts.Port)
	}
	if opts.CipherSuite < 0 || opts.CipherSuite > 17 {
		return nil, fmt.Errorf("fence: ipmi %s: cipher suite %d: want 1 to 17 (or 0 for ipmitool's choice)", address, opts.CipherSuite)
	}
	creds, err := redfish.ReadCredentials(credsFile)
	if err != nil {
		return nil, fmt.Errorf("fence: ipmi %s: %w", address, err)
	}
	if strings.HasPrefix(creds.Username, "-") {
		return nil, fmt.Errorf("fence: ipmi %s: credentials %s: user name starts with '-'", address, credsFile)
	}
	return &ipmiMethod{address: address, opts: opts, creds: creds, poll: ipmiPoll}, nil
}

// Name implements Method.
func (m *ipmiMethod) Name() string { return "ipmi" }

// args are ipmitool's arguments for a chassis power command ("off" or "status").
func (m *ipmiMethod) args(cmd string) []string {
	args := []string{"-I", "lanplus", "-H", m.address}
	if m.opts.Port != 0 {
		args = append(args, "-p", strconv.Itoa(m.opts.Port))
	}
	if m.opts.CipherSuite != 0 {
		args = append(args, "-C", strconv.Itoa(m.opts.CipherSuite))
	}
	return append(args, "-U", m.creds.Username, "-E", "chassis", "power", cmd)
}

// env is what ipmitool gets besides the kept variables of the daemon's environment (agentEnv):
// the password.
func (m *ipmiMethod) env() []string {
	return []string{"IPMI_PASSWORD=" + m.creds.Password}
}

// run runs a chassis power command.
func (m *ipmiMethod) run(ctx context.Context, cmd string) (run, error) {
	tool := m.tool
	if tool == "" {
		p, err := exec.LookPath("ipmitool")
		if err != nil {
			return run{}, fmt.Errorf("%s: %w (install ipmitool): %w", m.address, errNoIPMITool, err)
		}
		tool = p
	}
	r, err := runAgent(ctx, tool, m.args(cmd), m.env(), "", m.creds.Password)
	if err != nil {
		return r, fmt.Errorf("%s: chassis power %s: %w", m.address, cmd, err)
	}
	if r.code != 0 {
		return r, fmt.Errorf("%s: chassis power %s: exit %d: %s", m.address, cmd, r.code, lastLine(r.out))
	}
	return r, nil
}

// Status implements Method: true when `chassis power status` says off.
func (m *ipmiMethod) Status(ctx context.Context) (bool, error) {
	r, err := m.run(ctx, "status")
	if err != nil {
		return false, err
	}
	off, ok := parseIPMIPower(r.out)
	if !ok {
		return false, fmt.Errorf("%s: chassis power status: unexpected answer %q", m.address, lastLine(r.out))
	}
	return off, nil
}

// parseIPMIPower reads `ipmitool chassis power status` output ("Chassis Power is off"): off,
// and whether the answer is clear. An answer that says both on and off, or neither, is not: a
// fence is verified only by an unambiguous "off".
func parseIPMIPower(out string) (off, ok bool) {
	out = strings.ToLower(out)
	saysOff, saysOn := strings.Contains(out, "power is off"), strings.Contains(out, "power is on")
	if saysOff == saysOn {
		return false, false
	}
	return saysOff, true
}

// Off implements Method.
func (m *ipmiMethod) Off(ctx context.Context) error {
	if _, err := m.run(ctx, "off"); err != nil {
		return err
	}
	var lastErr error
	t := time.NewTicker(m.poll)
	defer t.Stop()
	for {
		off, err := m.Status(ctx)
		if err == nil && off {
			return nil
		}
		if ctx.Err() == nil { // a read cut short by the deadline says nothing
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("%w: %s: %w (last read: %w)", ErrNotVerified, m.address, ctx.Err(), lastErr)
			}
			return fmt.Errorf("%w: %s: power still on after chassis power off: %w", ErrNotVerified, m.address, ctx.Err())
		case <-t.C:
		}
	}
}
