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
	return c.onOwnConn(ctx, "start a domain", func(conn *libvirt.Connect) error {
		dom, err := conn.DomainDefineXML(def)
		if err != nil {
			return wrap("define", err)
		}
		defer dom.Free()
		if active, _ := dom.IsActive(); active {
			return nil
		}
		return wrap("start", dom.Create())
	})
}

// onOwnConn runs fn on a libvirt connection of its own to the host, opened for it and closed
// after, and gives up waiting when ctx ends (fn then finishes unobserved).
func (c *Conn) onOwnConn(ctx context.Context, what string, fn func(*libvirt.Connect) error) error {
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
		errc <- fn(conn)
	}()
	select {
	case err := <-errc:
		if err != nil {
			return fmt.Errorf("hypervisor: %s on %s: %w", what, c.name, err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("hypervisor: %s on %s: %w (%w)", what, c.name, ErrTimeout, ctx.Err())
	}
}
