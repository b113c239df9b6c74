package preflight

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"reflect"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

// Run makes every check for the configuration, in order: libvirt per host, migration per pair
// of hosts, the lease directory, each BMC, each rung of each fence ladder (hosts[].fence) that is
// not the host's BMC entry, each secret file, and capacity per host.
func Run(ctx context.Context, cfg config.Config, env Env) Report {
	if env.Timeout <= 0 {
		env.Timeout = 10 * time.Second
	}
	var r Report
	surveys := make(map[string]*hypervisor.Survey, len(cfg.Hosts))
	for _, h := range cfg.Hosts {
		c, s := checkLibvirt(ctx, env, h)
		r.add(c)
		surveys[h.Name] = s
	}
	for _, a := range cfg.Hosts {
		for _, b := range cfg.Hosts {
			if a.Name != b.Name {
				r.add(checkMigration(ctx, env, a, b, surveys))
			}
		}
	}
	r.add(checkLeases(env, cfg, surveys))
	for _, h := range cfg.Hosts {
		if h.BMC.Type != config.BMCNone && h.BMC.Type != "" {
			r.add(checkBMC(ctx, env, h.Name, CheckBMC, "", h.BMC))
		}
	}
	for i, h := range cfg.Hosts {
		for j, rung := range h.Fence {
			if reflect.DeepEqual(rung, h.BMC) {
				continue // checked as the host's BMC
			}
			r.add(checkBMC(ctx, env, h.Name, CheckFence, fmt.Sprintf("hosts[%d].fence[%d] ", i, j), rung))
		}
	}
	for _, c := range checkSecrets(env, cfg) {
		r.add(c)
	}
	for _, c := range checkCapacity(cfg, surveys) {
		r.add(c)
	}
	r.OK = true
	for _, c := range r.Checks {
		r.OK = r.OK && c.OK
	}
	return r
}

// transport is a libvirt URI's transport: tcp, tls, ssh, ... ("tls" when the URI has none).
func transport(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	_, t, _ := strings.Cut(u.Scheme, "+")
	if t == "" && u.Host != "" {
		t = "tls"
	}
	return t
}

// libvirtHint says how to make a URI of this transport connect.
func libvirtHint(uri string) string {
	switch transport(uri) {
	case "tcp":
		return "on the host: listen_tcp = 1 in libvirtd.conf (or the libvirtd-tcp.socket), auth_tcp set as you need it, port 16509 open from this node"
	case "tls":
		return "on the host: listen_tls = 1 (or libvirtd-tls.socket), port 16514 open; here: /etc/pki/CA/cacert.pem and /etc/pki/libvirt/clientcert.pem, private/clientkey.pem signed by the same CA, and the host's certificate must name the URI's host"
	case "ssh", "libssh", "libssh2":
		return "root's SSH key (or ?keyfile=) must log in without a prompt and the host key must be in known_hosts: try 'virsh -c URI version' as root"
	}
	return "check that 'virsh -c URI version' works from this node"
}

func checkLibvirt(ctx context.Context, env Env, h config.Host) (Check, *hypervisor.Survey) {
	c := Check{Name: CheckLibvirt, Host: h.Name}
	sctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	s, err := env.Survey(sctx, h.URI)
	if err != nil {
		c.Detail, c.Hint = fmt.Sprintf("%s (%s): %v", h.URI, transport(h.URI), err), libvirtHint(h.URI)
		return c, nil
	}
	c.OK = true
	c.Detail = fmt.Sprintf("%s (%s): %s answers, libvirt %s, QEMU %s, %d CPUs, %d MiB, %d VMs running",
		h.URI, transport(h.URI), s.Hostname, hypervisor.Version(s.LibvirtVersion), hypervisor.Version(s.QEMUVersion), s.CPUs, s.MemoryKiB/1024, len(s.Running))
	return c, &s
}

// checkMigration checks what the management node can see of a migration from a to b: both
// hosts answer libvirt (peer-to-peer migrations are driven by a's libvirtd connecting to b's URI),
// b's URI host resolves and b's libvirt port answers.
func checkMigration(ctx context.Context, env Env, a, b config.Host, surveys map[string]*hypervisor.Survey) Check {
	c := Check{Name: CheckMigration, Host: a.Name + "->" + b.Name}
	if surveys[a.Name] == nil || surveys[b.Name] == nil {
		c.Detail, c.Hint = "not checked: libvirt does not answer on both hosts", "fix the libvirt checks first"
		return c
	}
	ep, err := hypervisor.Endpoint(b.URI)
	if err != nil || ep == "" {
		c.Detail, c.Hint = fmt.Sprintf("%s: not a remote URI", b.URI), "use a qemu+tls://, qemu+ssh:// or qemu+tcp:// URI that every host can reach"
		return c
	}
	host, _, _ := net.SplitHostPort(ep)
	lctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	addrs, err := env.Lookup(lctx, host)
	if err != nil {
		c.Detail, c.Hint = fmt.Sprintf("%s does not resolve: %v", host, err), "the peer URI's host must resolve on every host and here (DNS or /etc/hosts)"
		return c
	}
	if err := env.Dial(lctx, ep); err != nil {
		c.Detail, c.Hint = fmt.Sprintf("%s (%s) does not answer: %v", ep, strings.Join(addrs, ","), err), "open the libvirt port between the hosts; the migration data port range (migration_port_min/max in qemu.conf, 49152-49215 by default) too"
		return c
	}
	c.OK = true
	c.Detail = fmt.Sprintf("%s's libvirt connects to %s (%s answers); data goes to %s unless migration_host or a data URI says otherwise", a.Name, b.URI, ep, surveys[b.Name].Hostname)
	return c
}

func checkLeases(env Env, cfg config.Config, surveys map[string]*hypervisor.Survey) Check {
	c := Check{Name: CheckLeases}
	if cfg.LeaseDir == "" {
		c.Detail = "lease_dir is not set: the disk-lease witness is off"
		c.Hint = "mount the hosts' shared lockd lockspace (file_lockspace_dir in qemu-lockd.conf, on NFS) on this node and set lease_dir to it"
		return c
	}
	fi, err := env.Stat(cfg.LeaseDir)
	if err != nil || !fi.IsDir() {
		c.Detail = fmt.Sprintf("lease_dir %s: not a directory here (%v)", cfg.LeaseDir, err)
		c.Hint = "mount the hosts' shared lockd lockspace at lease_dir on this node"
		return c
	}
	var disks, missing []string
	for _, h := range cfg.Hosts {
		if s := surveys[h.Name]; s != nil {
			for _, d := range s.Running {
				for _, p := range d.Disks {
					disks = append(disks, p)
					if k, _, _ := env.Leases(cfg.LeaseDir, []string{p}); k == 0 {
						missing = append(missing, d.Name+" ("+p+")")
					}
				}
			}
		}
	}
	known, held, err := env.Leases(cfg.LeaseDir, disks)
	if err != nil {
		c.Detail, c.Hint = fmt.Sprintf("lease_dir %s: %v", cfg.LeaseDir, err), "this node must be able to read the lease files"
		return c
	}
	if len(missing) > 0 {
		c.Detail = fmt.Sprintf("lease_dir %s: no lease for %d of %d running disks: %s", cfg.LeaseDir, len(missing), len(disks), strings.Join(missing, ", "))
		c.Hint = "the hosts must use lock_manager = \"lockd\" with auto_disk_leases = 1 and file_lockspace_dir on this shared directory"
		return c
	}
	c.OK = true
	c.Detail = fmt.Sprintf("lease_dir %s: the leases of all %d running disks are visible, %d held", cfg.LeaseDir, known, held)
	return c
}

// checkBMC reads the power through a BMC entry (the host's BMC, or a rung of its fence ladder,
// which field names): the entry answers and accepts its credentials. It never changes the power.
func checkBMC(ctx context.Context, env Env, host, name, field string, b config.BMC) Check {
	c := Check{Name: name, Host: host}
	pctx, cancel := context.WithTimeout(ctx, env.Timeout)
	defer cancel()
	power, err := env.Power(pctx, b)
	if err != nil {
		c.Detail = field + err.Error()
		if b.Type != config.BMCRedfish { // Redfish errors name the endpoint already
			c.Detail = fmt.Sprintf("%s%s %s: %v", field, b.Type, b.Endpoint, err)
		}
		switch {
		case errors.Is(err, redfish.ErrUnauthorized):
			c.Hint = "the BMC refuses the credentials: check username= and password= in " + b.CredentialsFile
		case errors.Is(err, context.DeadlineExceeded):
			c.Hint = "the BMC does not answer in time: check the management network to it"
		case b.Type == config.BMCExec:
			c.Hint = "check that the fence agent " + b.Endpoint + " runs here and that its status action reaches the device"
		default:
			c.Hint = "check the endpoint, the credentials in " + b.CredentialsFile + " and that this node reaches the BMC"
		}
		return c
	}
	c.OK = true
	c.Detail = fmt.Sprintf("%s%s %s: credentials accepted, power %s", field, b.Type, b.Endpoint, power)
	return c
}
