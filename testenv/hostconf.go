package testenv

import (
	"fmt"
	"os"
	"path/filepath"
)

// hostDir is where a host's private copies of the libvirt directories live.
func hostDir(s *labState, h *hostState) string { return filepath.Join(s.Dir, "hosts", h.Name) }

// privateDirs maps each libvirt directory to its private copy under the host directory; each is
// bind-mounted over the real one inside the host's mount namespace.
func privateDirs(s *labState, h *hostState) [][2]string {
	d := hostDir(s, h)
	return [][2]string{
		{filepath.Join(d, "etc"), "/etc/libvirt"},
		{filepath.Join(d, "run"), "/run/libvirt"},
		{filepath.Join(d, "lib"), "/var/lib/libvirt"},
		{filepath.Join(d, "log"), "/var/log/libvirt"},
		{filepath.Join(d, "cache"), "/var/cache/libvirt"},
	}
}

// lockspaceDir is the disk-lease directory every host shares (as it would on shared storage).
func lockspaceDir(s *labState) string { return filepath.Join(s.Dir, "lockspace") }

// writeHostConfig writes libvirtd, virtlockd and QEMU driver configuration for one host.
func writeHostConfig(s *labState, h *hostState) error {
	for _, pd := range privateDirs(s, h) {
		if err := os.MkdirAll(pd[0], 0o755); err != nil {
			return fmt.Errorf("testenv: host %s: %w", h.Name, err)
		}
	}
	// Guests' serial consoles log here, on whichever host they run.
	if err := os.MkdirAll(filepath.Join(hostDir(s, h), "log", "qemu"), 0o755); err != nil {
		return fmt.Errorf("testenv: host %s: %w", h.Name, err)
	}
	etc := filepath.Join(hostDir(s, h), "etc")
	files := map[string]string{
		"libvirtd.conf": fmt.Sprintf(`# lifeboat lab host %[1]s (lab only: no authentication)
listen_tls = 0
listen_tcp = 1
listen_addr = "%[2]s"
tcp_port = "16509"
auth_tcp = "none"
host_uuid = "%[3]s"
keepalive_interval = 5
keepalive_count = 5
max_clients = 200
log_outputs = "3:file:/var/log/libvirt/libvirtd.log"
`, h.Name, h.Address, h.HostUUID),
		"virtlockd.conf": `log_outputs = "3:file:/var/log/libvirt/virtlockd.log"
`,
		"qemu.conf": fmt.Sprintf(`user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
stdio_handler = "file"
lock_manager = "lockd"
migration_address = "%[1]s"
migration_host = "%[1]s"
`, h.Address),
		"qemu-lockd.conf": fmt.Sprintf(`auto_disk_leases = 1
require_lease_for_disks = 1
file_lockspace_dir = "%s"
`, lockspaceDir(s)),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(etc, name), []byte(body), 0o644); err != nil {
			return fmt.Errorf("testenv: host %s: %w", h.Name, err)
		}
	}
	return nil
}
