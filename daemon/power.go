package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/fence"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

// bmcSource is what the BMC loop asks for a host's power state and health: a Redfish client, or
// the status action of an IPMI or exec fence method, which reads the power (health unknown). A
// power-off read through any of them is the same proof of death for the verdict.
type bmcSource interface {
	Status(ctx context.Context) (redfish.Status, error)
}

// fencePower reads the power through a fence method's status action; it never powers off.
type fencePower struct{ m fence.Method }

// Status implements bmcSource.
func (f fencePower) Status(ctx context.Context) (redfish.Status, error) {
	off, err := f.m.Status(ctx)
	if err != nil {
		return redfish.Status{}, fmt.Errorf("%s: power status: %w", f.m.Name(), err)
	}
	if off {
		return redfish.Status{Power: "off"}, nil
	}
	return redfish.Status{Power: "on"}, nil
}

// newBMCSource builds the power and health source of a host from its bmc entry: Redfish, or the
// status action of an ipmi or exec entry; nil when the host has no BMC.
func newBMCSource(h config.Host, timeout time.Duration) (bmcSource, error) {
	switch h.BMC.Type {
	case config.BMCRedfish:
		creds, err := redfish.ReadCredentials(h.BMC.CredentialsFile)
		if err != nil {
			return nil, fmt.Errorf("bmc.credentials_file: %w", err)
		}
		c, err := redfish.New(h.BMC.Endpoint, h.BMC.SystemID, creds, fence.BMCTrust(h.BMC), timeout)
		if err != nil {
			return nil, fmt.Errorf("bmc: %w", err)
		}
		return c, nil
	case config.BMCIPMI, config.BMCExec:
		l, err := fence.FromConfig(h.Name, h.BMC, timeout)
		if err != nil {
			return nil, fmt.Errorf("bmc: %w", err)
		}
		if len(l.Methods) == 1 {
			return fencePower{l.Methods[0]}, nil
		}
	}
	return nil, nil
}
