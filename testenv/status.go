package testenv

import "fmt"

// Status is a snapshot of a lab for people and scripts (`lifeboat lab status -o json`).
type Status struct {
	Name   string       `json:"name"`
	Dir    string       `json:"dir"`
	Config string       `json:"config"`
	Ready  bool         `json:"ready"`
	Hosts  []HostStatus `json:"hosts"`
	Guests []Guest      `json:"vms"`
	// Etcd are the lab's etcd members (none with the embedded store).
	Etcd []EtcdMember `json:"etcd,omitempty"`
}

// HostStatus is one host in a Status.
type HostStatus struct {
	Name       string `json:"name"`
	Role       string `json:"role"`
	Address    string `json:"address"`
	LibvirtURI string `json:"libvirt_uri"`
	BMCURL     string `json:"bmc_url"`
	// IPMIAddress is the host's IPMI-over-LAN BMC, "127.0.0.1:PORT"; empty without one.
	IPMIAddress string `json:"ipmi_address,omitempty"`
	// Power is "on" or "off".
	Power       string `json:"power"`
	Frozen      bool   `json:"frozen"`
	Partitioned bool   `json:"partitioned"`
	BMCDown     bool   `json:"bmc_down"`
	Health      string `json:"health"`
	Reason      string `json:"health_reason,omitempty"`
	// Guests are the guests whose QEMU process runs on this host, from the process scan.
	Guests []string `json:"guests"`
	// GuestNetCut: a full partition cut the host's guest network too.
	GuestNetCut bool `json:"guest_net_cut"`
}

// Status reports the lab's hosts, their injected faults and the guests found running on each.
func (l *Lab) Status() (Status, error) {
	l.mu.Lock()
	st := *l.st
	st.Hosts = append([]hostState(nil), l.st.Hosts...)
	st.Guests = append([]guestState(nil), l.st.Guests...)
	l.mu.Unlock()
	out, err := statusOf(&st)
	if err != nil {
		return out, err
	}
	out.Etcd = l.EtcdMembers()
	return out, nil
}

// statusOf builds a Status from a lab state plus a process scan.
func statusOf(st *labState) (Status, error) {
	procs, err := scanGuests(st.Hosts)
	if err != nil {
		return Status{}, err
	}
	out := Status{Name: st.Name, Dir: st.Dir, Config: st.Config, Ready: st.Ready}
	for _, h := range st.Hosts {
		hs := HostStatus{Name: h.Name, Role: h.Role, Address: h.Address, LibvirtURI: libvirtURI(&h),
			BMCURL: h.BMCURL, Power: "off", Frozen: h.Frozen, Partitioned: h.Partitioned,
			BMCDown: h.BMCDown, Health: h.Health, Reason: h.Reason, Guests: []string{}, GuestNetCut: h.GuestCut}
		if h.Powered {
			hs.Power = "on"
		}
		if h.IPMIPort != 0 {
			hs.IPMIAddress = fmt.Sprintf("127.0.0.1:%d", h.IPMIPort)
		}
		for _, p := range procs {
			if p.Host == h.Name {
				hs.Guests = append(hs.Guests, p.Guest)
			}
		}
		out.Hosts = append(out.Hosts, hs)
	}
	for _, e := range st.Etcd {
		// Without the lab process, a member runs if a process lives in its namespace.
		m := EtcdMember{Name: e.Name, Address: e.Address, ClientURL: e.ClientURL, NetNS: e.NetNS, Partitioned: e.Partitioned}
		if ino, err := netnsInode(e.NetNS); err == nil {
			for _, p := range processesIn(ino) {
				if p.Comm == "etcd" {
					m.PID, m.Running = p.PID, true
				}
			}
		}
		out.Etcd = append(out.Etcd, m)
	}
	for _, g := range st.Guests {
		out.Guests = append(out.Guests, Guest{Name: g.Name, UUID: g.UUID, Home: g.Home, IP: g.IP, Disk: g.LUNDev})
	}
	return out, nil
}
