package hypervisor

import (
	"context"

	"libvirt.org/go/libvirt"
)

// ResetDomain restarts a domain in place: it destroys the domain's QEMU process if it has one
// (a guest that panicked, or stopped on an internal error, cannot be resumed), then starts it
// again on this host. A persistent domain starts from its definition; a transient one from the
// live definition read before it is destroyed. Like StartDomain it works on a connection of
// its own, so that probes on the long-lived connection are not held up.
func (c *Conn) ResetDomain(ctx context.Context, uuid string) error {
	return c.onOwnConn(ctx, "restart "+uuid+" in place", func(conn *libvirt.Connect) error {
		return resetDomain(conn, uuid)
	})
}

func resetDomain(conn *libvirt.Connect, uuid string) error {
	dom, err := conn.LookupDomainByUUIDString(uuid)
	if err != nil {
		return wrap("lookup", err)
	}
	defer dom.Free()
	persistent, err := dom.IsPersistent()
	if err != nil {
		return wrap("is persistent", err)
	}
	var def string
	if !persistent {
		if def, err = dom.GetXMLDesc(libvirt.DOMAIN_XML_SECURE); err != nil {
			return wrap("read live definition", err)
		}
	}
	if active, err := dom.IsActive(); err != nil {
		return wrap("is active", err)
	} else if active {
		if err := dom.Destroy(); err != nil {
			return wrap("destroy", err)
		}
	}
	if persistent {
		return wrap("start", dom.Create())
	}
	d, err := conn.DomainCreateXML(def, libvirt.DOMAIN_NONE)
	if err != nil {
		return wrap("start from the live definition", err)
	}
	d.Free()
	return nil
}
