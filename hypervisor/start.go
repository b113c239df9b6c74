package hypervisor

import (
	"context"
	"fmt"

	"libvirt.org/go/libvirt"
)

// StartDomain defines a domain from its XML (persistent, replacing an older definition of the
// same UUID) and starts it, on a connection of its own: a start can take seconds, and the host's
// long-lived connection must stay free for probes. libvirt's disk leases refuse the start while
// another host still holds the VM's disks.
func (c *Conn) StartDomain(ctx context.Context, def string) error {
	if err := startEventLoop(); err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() {
		conn, err := libvirt.NewConnect(c.uri)
		if err != nil {
			errc <- wrap("connect "+c.uri, err)
			return
		}
		defer conn.Close()
		_ = conn.SetKeepAlive(c.opts.KeepAliveInterval, c.opts.KeepAliveCount)
		dom, err := conn.DomainDefineXML(def)
		if err != nil {
			errc <- wrap("define", err)
			return
		}
		defer dom.Free()
		if active, _ := dom.IsActive(); active {
			errc <- nil
			return
		}
		errc <- wrap("start", dom.Create())
	}()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("hypervisor: start a domain on %s: %w", c.name, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("hypervisor: start a domain on %s: %w (%w)", c.name, ErrTimeout, ctx.Err())
	}
}
