package hypervisor

import (
	"context"
	"errors"
	"net/netip"

	"libvirt.org/go/libvirt"
)

// GuestAddresses asks libvirt which IP addresses a running domain's interfaces have, from the
// sources that need nothing inside the guest: the DHCP leases of libvirt's own networks (LEASE),
// then the host's ARP table (ARP). Addresses come back in libvirt's order, IPv4 before IPv6,
// without loopback and link-local ones. An empty list means libvirt does not know (a guest on a
// plain bridge that the host never talked to, for instance); that is not an error.
func (c *Conn) GuestAddresses(ctx context.Context, uuid string) ([]string, error) {
	var v4, v6 []string
	err := c.call(ctx, "interface addresses", func(conn *libvirt.Connect) error {
		d, err := conn.LookupDomainByUUIDString(uuid)
		if err != nil {
			return wrap("lookup "+uuid, err)
		}
		defer d.Free()
		seen := map[string]bool{}
		var errs []error
		for _, src := range []libvirt.DomainInterfaceAddressesSource{libvirt.DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, libvirt.DOMAIN_INTERFACE_ADDRESSES_SRC_ARP} {
			ifs, err := d.ListAllInterfaceAddresses(src)
			if err != nil {
				errs = append(errs, wrap("interface addresses of "+uuid, err))
				continue
			}
			for _, a := range usableAddresses(ifs) {
				if seen[a.String()] {
					continue
				}
				seen[a.String()] = true
				if a.Is4() {
					v4 = append(v4, a.String())
				} else {
					v6 = append(v6, a.String())
				}
			}
		}
		if len(errs) == 2 {
			return errors.Join(errs...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return append(v4, v6...), nil
}

// usableAddresses keeps the addresses a prober can reach from outside the host.
func usableAddresses(ifs []libvirt.DomainInterface) []netip.Addr {
	var out []netip.Addr
	for _, ifc := range ifs {
		for _, a := range ifc.Addrs {
			ip, err := netip.ParseAddr(a.Addr)
			if err != nil || ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsUnspecified() || ip.IsMulticast() {
				continue
			}
			out = append(out, ip.Unmap())
		}
	}
	return out
}
