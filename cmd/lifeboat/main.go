// Command lifeboat is a failover controller for KVM clusters: it watches every hypervisor host
// through libvirt, live-migrates VMs off degrading hosts, fences dead hosts and restarts their
// VMs elsewhere, and brings them home again. It also runs a real lab cluster on one machine.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRootCmd()
	if err := root.ExecuteContext(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "lifeboat:", err)
		stop()
		os.Exit(exitCode(err))
	}
}
