package testenv

import (
	"context"
	"fmt"
	"html"
	"path/filepath"
	"strings"

	"libvirt.org/go/libvirt"
)

// domainXML is the libvirt definition of a lab guest. Linux guests boot the tiny image under TCG
// (a Linux kernel hangs under nested KVM on this machine kind); BIOS guests idle in SeaBIOS under
// KVM. Both have a shared LUN (with an automatic disk lease) and a NIC on the guest network.
func domainXML(s *labState, g *guestState, kind GuestKind, memMiB int, guestDir string) string {
	var b strings.Builder
	domType := "kvm"
	if kind == GuestLinux {
		domType = "qemu"
	}
	fmt.Fprintf(&b, "<domain type='%s'>\n  <name>%s</name>\n  <uuid>%s</uuid>\n", domType, html.EscapeString(g.Name), g.UUID)
	fmt.Fprintf(&b, "  <metadata><lifeboat:lab xmlns:lifeboat='https://lifeboat.dev/xmlns/lab/1' name='%s' home='%s'/></metadata>\n",
		html.EscapeString(s.Name), html.EscapeString(g.Home))
	fmt.Fprintf(&b, "  <memory unit='MiB'>%d</memory>\n  <vcpu>1</vcpu>\n", memMiB)
	b.WriteString("  <os>\n    <type arch='x86_64' machine='pc'>hvm</type>\n")
	if kind == GuestLinux {
		fmt.Fprintf(&b, "    <kernel>%s</kernel>\n    <initrd>%s</initrd>\n", filepath.Join(guestDir, "vmlinuz"), filepath.Join(guestDir, "initrd.img"))
		fmt.Fprintf(&b, "    <cmdline>console=ttyS0 quiet lb.name=%s lb.ip=%s/24 lb.gw=%s.%d.1</cmdline>\n", g.Name, g.IP, guestNet, s.Subnet)
	}
	// ACPI describes the pvpanic device to the guest (its driver binds to ACPI QEMU0001).
	b.WriteString("  </os>\n  <features><acpi/></features>\n  <on_poweroff>destroy</on_poweroff>\n  <on_reboot>restart</on_reboot>\n  <on_crash>preserve</on_crash>\n")
	b.WriteString("  <devices>\n")
	fmt.Fprintf(&b, "    <disk type='block' device='disk'>\n      <driver name='qemu' type='raw' cache='none' io='native'/>\n      <source dev='%s'/>\n      <target dev='vda' bus='virtio'/>\n    </disk>\n", g.LUNDev)
	fmt.Fprintf(&b, "    <interface type='bridge'>\n      <source bridge='br-vm'/>\n      <mac address='%s'/>\n      <model type='virtio'/>\n    </interface>\n", g.MAC)
	fmt.Fprintf(&b, "    <serial type='file'>\n      <source path='/var/log/libvirt/qemu/%s-console.log'/>\n      <target port='0'/>\n    </serial>\n", g.Name)
	// pvpanic: a guest kernel panic stops the guest in QEMU's guest-panicked state, which
	// on_crash preserve keeps for lifeboat's guest monitoring to see.
	b.WriteString("    <panic model='isa'><address type='isa' iobase='0x505'/></panic>\n")
	b.WriteString("    <memballoon model='none'/>\n  </devices>\n</domain>\n")
	return b.String()
}

// hostConn opens a libvirt connection to a host through its private UNIX socket, which the lab
// can use even while the host's management link is cut.
func hostConn(s *labState, h *hostState) (*libvirt.Connect, error) {
	uri := fmt.Sprintf("qemu+unix:///system?socket=%s", filepath.Join(hostDir(s, h), "run", "libvirt-sock"))
	c, err := libvirt.NewConnect(uri)
	if err != nil {
		return nil, fmt.Errorf("testenv: connect to host %s: %w", h.Name, err)
	}
	return c, nil
}

// defineAndStart defines the guest persistently on a host and starts it.
func defineAndStart(ctx context.Context, s *labState, h *hostState, xml string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c, err := hostConn(s, h)
	if err != nil {
		return err
	}
	defer c.Close()
	dom, err := c.DomainDefineXML(xml)
	if err != nil {
		return fmt.Errorf("testenv: define guest on %s: %w", h.Name, err)
	}
	defer dom.Free()
	if err := dom.Create(); err != nil {
		return fmt.Errorf("testenv: start guest on %s: %w", h.Name, err)
	}
	return nil
}
