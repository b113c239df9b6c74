package preflight

import (
	"context"
	"fmt"
	"io/fs"
	"net"
	"os"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/fence"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/redfish"
	"github.com/lifeboat-ha/lifeboat/witness"
)

// Env is how the checks reach the world.
type Env struct {
	// Survey connects to a libvirt URI once and reads the host.
	Survey func(ctx context.Context, uri string) (hypervisor.Survey, error)
	// Dial opens a TCP connection (closed at once: only "does it answer" matters).
	Dial func(ctx context.Context, addr string) error
	// Lookup resolves a host name.
	Lookup func(ctx context.Context, host string) ([]string, error)
	// Power reads a host's power state through its BMC entry ("on", "off", ...). It never
	// changes the power.
	Power func(ctx context.Context, bmc config.BMC) (string, error)
	// Stat is os.Stat.
	Stat func(path string) (fs.FileInfo, error)
	// Leases counts the lease files of the disks in the lockspace, and those held.
	Leases func(dir string, disks []string) (known, held int, err error)
	// Timeout bounds each check that goes over the network.
	Timeout time.Duration
}

// RealEnv is the environment `lifeboat preflight` runs the checks in.
func RealEnv(timeout time.Duration) Env {
	var d net.Dialer
	return Env{
		Survey: hypervisor.SurveyHost,
		Dial: func(ctx context.Context, addr string) error {
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return err
			}
			return c.Close()
		},
		Lookup:  net.DefaultResolver.LookupHost,
		Power:   readPower,
		Stat:    os.Stat,
		Leases:  witness.Count,
		Timeout: timeout,
	}
}

// readPower reads the power state: over Redfish, or through the fence method's status action
// (IPMI, exec fence agents), which only reads.
func readPower(ctx context.Context, b config.BMC) (string, error) {
	if b.Type == config.BMCRedfish {
		creds, err := redfish.ReadCredentials(b.CredentialsFile)
		if err != nil {
			return "", err
		}
		c, err := redfish.New(b.Endpoint, b.SystemID, creds, fence.BMCTrust(b), 0)
		if err != nil {
			return "", err
		}
		defer c.Close(context.WithoutCancel(ctx))
		st, err := c.Status(ctx)
		if err != nil {
			return "", err
		}
		return st.Power, nil
	}
	l, err := fence.FromConfig("preflight", b, 0)
	if err != nil {
		return "", err
	}
	if len(l.Methods) == 0 {
		return "", fmt.Errorf("no fence method for BMC type %q", b.Type)
	}
	off, err := l.Methods[0].Status(ctx)
	if err != nil {
		return "", err
	}
	if off {
		return "off", nil
	}
	return "on", nil
}
