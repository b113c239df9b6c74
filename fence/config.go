package fence

import (
	"fmt"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

// FromConfig builds a one-rung ladder for host from one BMC entry. Type none, or no type,
// gives an empty ladder, whose Fence fails with ErrAllFailed. timeout bounds each method (zero:
// DefaultTimeout).
func FromConfig(host string, b config.BMC, timeout time.Duration) (Ladder, error) {
	return fromBMCs(host, []config.BMC{b}, timeout)
}

// FromHost builds the host's ladder: its fence entries in order, or its BMC as the one rung
// (config.Host.FenceLadder).
func FromHost(h config.Host, timeout time.Duration) (Ladder, error) {
	return fromBMCs(h.Name, h.FenceLadder(), timeout)
}

// fromBMCs builds a ladder with one method per BMC entry, in order.
func fromBMCs(host string, bmcs []config.BMC, timeout time.Duration) (Ladder, error) {
	l := Ladder{Host: host, Timeout: timeout}
	for i, b := range bmcs {
		m, err := methodFor(b)
		if err != nil {
			return Ladder{}, fmt.Errorf("fence: host %s: rung %d (%s): %w", host, i, b.Type, err)
		}
		if m != nil {
			l.Methods = append(l.Methods, m)
		}
	}
	return l, nil
}

// BMCTrust is how a BMC entry says its certificate is checked.
func BMCTrust(b config.BMC) redfish.Trust {
	return redfish.Trust{CAFile: b.CAFile, PinnedSHA256: b.PinnedSHA256, Insecure: b.Insecure, AllowHTTP: b.AllowHTTP}
}

// methodFor builds the method for one BMC entry; nil for type none.
func methodFor(b config.BMC) (Method, error) {
	switch b.Type {
	case config.BMCNone, "":
		return nil, nil
	case config.BMCRedfish:
		creds, err := redfish.ReadCredentials(b.CredentialsFile)
		if err != nil {
			return nil, err
		}
		return NewRedfish(b.Endpoint, b.SystemID, creds, BMCTrust(b), 0)
	case config.BMCIPMI:
		return NewIPMI(b.Endpoint, b.CredentialsFile, IPMIOptions{Port: b.Port, CipherSuite: b.CipherSuite})
	case config.BMCExec:
		return NewExec(b.AgentPath(), b.CredentialsFile, b.Options)
	}
	return nil, fmt.Errorf("unknown BMC type %q", b.Type)
}
