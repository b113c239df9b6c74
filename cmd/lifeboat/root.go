package main

import (
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// commit is the commit the binary was built from, set at build time with -ldflags
// "-X main.commit=..." (the Makefile and the package do); else the Go toolchain's VCS stamp is
// used, when it made one.
var commit = ""

// newRootCmd builds the whole command tree.
func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "lifeboat",
		Short: "Failover controller for KVM clusters",
		Long: `lifeboat keeps the VMs of a KVM cluster running: it watches every hypervisor host
through libvirt, live-migrates VMs off hosts that degrade, fences hosts that die and restarts
their VMs on standby hosts, and moves them home once the host has recovered.

'lifeboat lab' runs a real multi-host KVM cluster on this machine to try it on.

Every command that prints takes -o table|json|yaml. 'lifeboat completion bash|zsh|fish' prints a
shell completion script; it completes hosts, VMs, plans and migrations by asking the daemon.

` + exitCodesHelp,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newLabCmd(), newDaemonCmd(), newConfigCmd(), newPreflightCmd(), newFenceCmd())
	root.AddCommand(newStatusCmd(), newHostsCmd(), newVMsCmd(), newEventsCmd(), newExplainCmd(),
		newSwitchoverCmd(), newDrainCmd(), newUndrainCmd(), newMigrationsCmd(), newCancelCmd(),
		newRecoveriesCmd(), newHostCmd(), newPlansCmd(), newPlanCmd(), newApproveCmd(), newRejectCmd(), newSimulateCmd(),
		newWhatIfCmd(), newCapacityCmd(), newStoreCmd(), newVersionCmd(),
		newDisarmCmd(), newArmCmd(), newWhoamiCmd(), newTokenCmd())
	addCompletions(root)
	markUsageErrors(root)
	return root
}
