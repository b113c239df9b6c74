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

// RunState is QEMU's run state of a running domain, as QMP query-status names it.
type RunState string

// The run states lifeboat acts on or tells apart (QEMU has more: inmigrate, postmigrate, ...).
const (
	RunStateRunning RunState = "running"
	RunStatePaused  RunState = "paused"
	// RunStateGuestPanicked: the guest told QEMU through its pvpanic device that it panicked.
	RunStateGuestPanicked RunState = "guest-panicked"
	// RunStateInternalError: QEMU stopped the guest on an emulation error it cannot go on from.
	RunStateInternalError RunState = "internal-error"
	RunStateIOError       RunState = "io-error"
)

// GuestStatus asks QEMU (QMP query-status, through go-qemu over the libvirt connection) for
// the run state of a running domain, e.g. "running", "paused", "guest-panicked",
// "internal-error", "io-error".
func (c *Conn) GuestStatus(ctx context.Context, uuid string) (RunState, error) {
	var status RunState
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
		status = RunState(st.Status.String())
		return nil
	})
	return status, err
}
