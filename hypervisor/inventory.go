package hypervisor

import (
	"context"
	"errors"

	"libvirt.org/go/libvirt"
)

var stateNames = map[libvirt.DomainState]DomainState{
	libvirt.DOMAIN_NOSTATE: StateNoState, libvirt.DOMAIN_RUNNING: StateRunning,
	libvirt.DOMAIN_BLOCKED: StateBlocked, libvirt.DOMAIN_PAUSED: StatePaused,
	libvirt.DOMAIN_SHUTDOWN: StateShutdown, libvirt.DOMAIN_SHUTOFF: StateShutoff,
	libvirt.DOMAIN_CRASHED: StateCrashed, libvirt.DOMAIN_PMSUSPENDED: StatePMSuspended,
}

// Domains lists every domain on the host, running or only defined.
func (c *Conn) Domains(ctx context.Context) ([]Domain, error) {
	var out []Domain
	err := c.call(ctx, "list domains", func(conn *libvirt.Connect) error {
		doms, err := conn.ListAllDomains(0)
		if err != nil {
			return wrap("list domains", err)
		}
		defer func() {
			for i := range doms {
				doms[i].Free()
			}
		}()
		out = make([]Domain, 0, len(doms))
		for i := range doms {
			d := &doms[i]
			uuid, err := d.GetUUIDString()
			if err != nil {
				continue // gone while listing
			}
			name, _ := d.GetName()
			info, err := d.GetInfo()
			if err != nil {
				if errors.Is(err, libvirt.ERR_NO_DOMAIN) {
					continue
				}
				return wrap("domain info of "+name, err)
			}
			persistent, _ := d.IsPersistent()
			out = append(out, Domain{UUID: uuid, Name: name, State: stateNames[info.State], Persistent: persistent,
				MemoryKiB: info.MaxMem, VCPUs: info.NrVirtCpu})
		}
		return nil
	})
	return out, err
}

// DomainXML returns the domain's persistent definition (secure parts included), or its live one
// for a transient domain.
func (c *Conn) DomainXML(ctx context.Context, uuid string) (string, error) {
	var xml string
	err := c.call(ctx, "domain XML", func(conn *libvirt.Connect) error {
		d, err := conn.LookupDomainByUUIDString(uuid)
		if err != nil {
			return wrap("lookup "+uuid, err)
		}
		defer d.Free()
		flags := libvirt.DOMAIN_XML_SECURE
		if p, _ := d.IsPersistent(); p {
			flags |= libvirt.DOMAIN_XML_INACTIVE
		}
		xml, err = d.GetXMLDesc(flags)
		return wrap("XML of "+uuid, err)
	})
	return xml, err
}

// Info reports the host's capacity and libvirt version.
func (c *Conn) Info(ctx context.Context) (HostInfo, error) {
	var hi HostInfo
	err := c.call(ctx, "host info", func(conn *libvirt.Connect) error {
		ni, err := conn.GetNodeInfo()
		if err != nil {
			return wrap("node info", err)
		}
		hi.CPUs, hi.MemoryKiB = ni.Cpus, ni.Memory
		hi.Hostname, _ = conn.GetHostname()
		hi.LibvirtVersion, _ = conn.GetLibVersion()
		return nil
	})
	return hi, err
}
