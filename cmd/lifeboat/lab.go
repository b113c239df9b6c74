package main

import (
	"github.com/spf13/cobra"
)

// newLabCmd groups the lab commands.
func newLabCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run a real multi-host KVM lab cluster on this machine",
		Long: `A lab is a real KVM cluster on one machine: each host is a libvirtd and virtlockd in its
own mount, UTS and network namespaces on a management bridge; guests are real QEMU processes on
shared LUNs (loop devices) with disk leases, on a guest network that spans every host; each host
has a Redfish BMC emulator (HTTPS) that can power it off and on, and, when OpenIPMI's ipmi_sim is
installed, an IPMI-over-LAN BMC (127.0.0.1, a UDP port of its own) that ipmitool drives the same
power through. Faults can be injected on demand.
Needs root, /dev/kvm and the packages that 'make deps' installs.`,
	}
	cmd.AddCommand(newLabUpCmd(), newLabRunCmd(), newLabStatusCmd(), newLabFaultCmd(), newLabDownCmd())
	return cmd
}

// defaultLabDir is where lab commands look when --dir is not given.
const defaultLabDir = "lifeboat-lab"
