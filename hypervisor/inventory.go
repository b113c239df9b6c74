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

// Domains lists every domain on the host, running or only defined. It costs two RPCs whatever
// the number of domains (bulk stats, then the persistent set), so that probes, which share the
// connection one call at a time, never wait long behind an inventory.
func (c *Conn) Domains(ctx context.Context) ([]Domain, error) {
	var out []Domain
	err := c.call(ctx, "domain stats", func(conn *libvirt.Connect) error {
		stats, err := conn.GetAllDomainStats(nil,
			libvirt.DOMAIN_STATS_STATE|libvirt.DOMAIN_STATS_BALLOON|libvirt.DOMAIN_STATS_VCPU,
			libvirt.CONNECT_GET_ALL_DOMAINS_STATS_NOWAIT)
		if err != nil {
			return wrap("domain stats", err)
		}
		out = make([]Domain, 0, len(stats))
		for _, st := range stats {
			d := Domain{}
			d.UUID, _ = st.Domain.GetUUIDString()
			d.Name, _ = st.Domain.GetName()
			if st.State != nil && st.State.StateSet {
				d.State = stateNames[st.State.State]
				if st.State.ReasonSet {
					d.StateReason = stateReason(st.State.State, st.State.Reason)
				}
			}
			if st.Balloon != nil && st.Balloon.MaximumSet {
				d.MemoryKiB = st.Balloon.Maximum
			}
			d.VCPUs = uint(len(st.Vcpu))
			// An inactive domain that is listed is defined, hence persistent.
			d.Persistent = !d.State.Active()
			st.Domain.Free()
			if d.UUID != "" {
				out = append(out, d)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	persistent := map[string]bool{}
	err = c.call(ctx, "list persistent domains", func(conn *libvirt.Connect) error {
		doms, err := conn.ListAllDomains(libvirt.CONNECT_LIST_DOMAINS_PERSISTENT)
		if err != nil {
			return wrap("list persistent domains", err)
		}
		for i := range doms {
			if uuid, err := doms[i].GetUUIDString(); err == nil {
				persistent[uuid] = true
			}
			doms[i].Free()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].Persistent = out[i].Persistent || persistent[out[i].UUID]
	}
	return out, nil
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

// NodeMemory reports the host's memory use, summed over its NUMA cells.
func (c *Conn) NodeMemory(ctx context.Context) (NodeMemory, error) {
	var m NodeMemory
	err := c.call(ctx, "node memory", func(conn *libvirt.Connect) error {
		st, err := conn.GetMemoryStats(libvirt.NODE_MEMORY_STATS_ALL_CELLS, 0)
		if err != nil {
			return wrap("node memory stats", err)
		}
		if !st.TotalSet || st.Total == 0 {
			return errors.New("node memory stats: libvirt reported no total")
		}
		m = NodeMemory{TotalKiB: st.Total, FreeKiB: st.Free, BuffersKiB: st.Buffers, CachedKiB: st.Cached}
		return nil
	})
	if err != nil {
		return NodeMemory{}, err
	}
	return m, nil
}
