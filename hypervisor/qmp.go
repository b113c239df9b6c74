package hypervisor

import (
	"context"
	"errors"
	"fmt"

	"github.com/digitalocean/go-qemu/qmp"
	"github.com/digitalocean/go-qemu/qmp/raw"
	"libvirt.org/go/libvirt"
)

// libvirtMonitor is a go-qemu qmp.Monitor that sends QMP commands through libvirt's
// QemuMonitorCommand on an existing domain handle, so typed queries need no extra socket.
type libvirtMonitor struct {
	dom *libvirt.Domain
}

var _ qmp.Monitor = libvirtMonitor{}

// Connect is a no-op: the libvirt connection is already up.
func (libvirtMonitor) Connect() error { return nil }

// Disconnect is a no-op.
func (libvirtMonitor) Disconnect() error { return nil }

// Run sends one QMP command and returns QEMU's answer.
func (m libvirtMonitor) Run(cmd []byte) ([]byte, error) {
	out, err := m.dom.QemuMonitorCommand(string(cmd), libvirt.DOMAIN_QEMU_MONITOR_COMMAND_DEFAULT)
	if err != nil {
		return nil, wrap("qmp", err)
	}
	return []byte(out), nil
}

// Events is not supported through libvirt; lifeboat takes events from libvirt itself.
func (libvirtMonitor) Events(context.Context) (<-chan qmp.Event, error) {
	return nil, errors.New("hypervisor: QMP events are not available through libvirt")
}

// GuestStatus asks QEMU (QMP query-status) for the run state of a running domain, e.g.
// "running", "paused", "inmigrate", "postmigrate", "io-error".
func (c *Conn) GuestStatus(ctx context.Context, uuid string) (string, error) {
	var status string
	err := c.call(ctx, "qmp query-status", func(conn *libvirt.Connect) error {
		d, err := conn.LookupDomainByUUIDString(uuid)
		if err != nil {
			return wrap("lookup "+uuid, err)
		}
		defer d.Free()
		st, err := raw.NewMonitor(libvirtMonitor{dom: d}).QueryStatus()
		if err != nil {
			return fmt.Errorf("hypervisor: query-status of %s: %w", uuid, err)
		}
		status = st.Status.String()
		return nil
	})
	return status, err
}
