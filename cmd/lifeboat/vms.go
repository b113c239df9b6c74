package main

import (
	"fmt"
	"io"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newVMsCmd lists the VMs.
func newVMsCmd() *cobra.Command {
	return viewCommand(&cobra.Command{
		Use:   "vms",
		Short: "List the VMs, where they run and whether lifeboat protects them",
		Long: `List the VMs: the host each runs on and its home host (where it goes back to after a
recovery), its state, whether lifeboat protects it and its priority (higher recovers first). With
-o json the output is a list of objects with name, uuid, host, home_host, state, protected and
priority.`,
	}, (*api.Client).VMs, func(w io.Writer, _ *api.Client, vms []api.VMView) error {
		printVMs(w, vms)
		return nil
	})
}

// printVMs writes the VMs as a table.
func printVMs(w io.Writer, vms []api.VMView) {
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tHOST\tHOME\tSTATE\tPROTECTED\tPRIORITY\tUUID")
	for _, v := range vms {
		protected := "no"
		if v.Protected {
			protected = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			v.Name, dash(v.Host), dash(v.HomeHost), dash(v.State), protected, strconv.Itoa(v.Priority), dash(v.UUID))
	}
	_ = tw.Flush()
}
