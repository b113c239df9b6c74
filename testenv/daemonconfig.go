package testenv

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv/ipmisim"
)

// writeDaemonConfig writes DIR/lifeboat.yaml: a daemon configuration for this lab that works
// unchanged (each host's libvirt URI, role, Redfish BMC with its credentials file and fence
// ladder, and the lab's etcd cluster as the store when it has one).
func writeDaemonConfig(st *labState) (string, error) {
	cfg := config.Default()
	cfg.Cluster = "lab-" + st.Name
	cfg.LeaseDir = lockspaceDir(st)
	cfg.Store.Path = filepath.Join(st.Dir, "lifeboat.db")
	if len(st.Etcd) > 0 {
		// The lab's etcd cluster: every daemon started on this file campaigns, one acts. A 3 s
		// session: a killed leader is replaced within about 3 s.
		cfg.Store.Backend = config.StoreEtcd
		for _, e := range st.Etcd {
			cfg.Store.Etcd.Endpoints = append(cfg.Store.Etcd.Endpoints, e.ClientURL)
		}
		cfg.Store.Etcd.Prefix = "/lifeboat/lab-" + st.Name + "/"
		cfg.Store.Etcd.SessionTTL = config.Duration(3 * time.Second)
		cfg.Store.Etcd.DialTimeout = config.Duration(2 * time.Second)
	}
	// A lab host that comes back is trusted after 10 s of stable answers (30 s by default).
	cfg.Timings.StableFor = config.Duration(10 * time.Second)
	// A repaired lab host is healthy 5 s after its health clears, and VMs return home to a host
	// healthy for 20 s (1 min and 5 min by default), so that a demo shows failback.
	cfg.Health.ClearAfter = config.Duration(5 * time.Second)
	cfg.Failback.StableFor = config.Duration(20 * time.Second)
	cfg.Failback.WaveInterval = config.Duration(2 * time.Second)
	// A lab BMC's health (a degrade fault) is read every 2 s, not every 30 s: a lab has a few
	// emulated BMCs, and a demo shows the degrade within seconds.
	cfg.Timings.BMCHealthInterval = config.Duration(2 * time.Second)
	// Its own API port, so that labs side by side can each run a daemon.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		cfg.API.Listen = ln.Addr().String()
		ln.Close()
	}
	for i := range st.Hosts {
		h := &st.Hosts[i]
		// Each BMC emulator's self-signed certificate is pinned; only a lab state from before
		// pins were recorded falls back to insecure.
		b := config.BMC{Type: config.BMCRedfish, Endpoint: h.BMCURL, SystemID: h.Name,
			CredentialsFile: h.BMCCredFile, PinnedSHA256: h.BMCSHA256, Insecure: h.BMCSHA256 == ""}
		ch := config.Host{Name: h.Name, URI: libvirtURI(h), Role: config.Role(h.Role), Group: "lab", BMC: b}
		ch.Fence = fenceLadder(h, b)
		cfg.Hosts = append(cfg.Hosts, ch)
	}
	// libvirt learns no address for the lab's guests (a plain bridge, static addresses, and no
	// address of the host on that bridge for an ARP entry): the lab, which gave each Linux guest
	// its address, says where to probe it when its host is cut off.
	for _, g := range st.Guests {
		if g.IP != "" {
			cfg.Protection.VMs = append(cfg.Protection.VMs, config.VMRule{Name: g.Name, Probe: g.IP})
		}
	}
	if err := cfg.Validate(); err != nil {
		return "", fmt.Errorf("testenv: lab config: %w", err)
	}
	b, err := config.Marshal(cfg)
	if err != nil {
		return "", err
	}
	p := filepath.Join(st.Dir, "lifeboat.yaml")
	hdr := fmt.Sprintf("# lifeboat daemon configuration for lab %s, written by `lifeboat lab up`.\n# Start the daemon with: lifeboat daemon --config %s\n", st.Name, p)
	if err := os.WriteFile(p, append([]byte(hdr), b...), 0o644); err != nil {
		return "", fmt.Errorf("testenv: write %s: %w", p, err)
	}
	return p, nil
}

// fenceLadder is a lab host's fence ladder: its Redfish BMC first (native, and the BMC the daemon
// also reads health and power from), then its IPMI-over-LAN BMC through the real ipmitool: a
// second protocol, to the same power, for when the Redfish service hangs or refuses (Pacemaker
// topology levels run the same way: the preferred device, then the next). Without ipmi_sim the
// host keeps the one-rung ladder of its bmc entry.
func fenceLadder(h *hostState, redfish config.BMC) []config.BMC {
	if h.IPMIPort == 0 {
		return nil
	}
	return []config.BMC{redfish, {Type: config.BMCIPMI, Endpoint: "127.0.0.1", Port: h.IPMIPort,
		CipherSuite: ipmisim.CipherSuite, CredentialsFile: h.IPMICredFile}}
}
