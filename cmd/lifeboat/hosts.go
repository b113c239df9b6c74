package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newHostsCmd lists the hosts with their verdicts.
func newHostsCmd() *cobra.Command {
	return viewCommand(&cobra.Command{
		Use:   "hosts",
		Short: "List the hosts with their verdicts",
		Long: `List the hosts with their verdicts: state, the reason code, how long the host has been in
that state, its role, how many VMs run there and why, in a sentence. 'lifeboat explain host NAME'
shows the signals behind a verdict. With -o json the output is a list of objects with name,
state, reason, message, since, vms (the names of the VMs running there), role and group.`,
	}, (*api.Client).Hosts, func(w io.Writer, _ *api.Client, hosts []api.HostView) error {
		printHosts(w, hosts, time.Now())
		return nil
	})
}

// printHosts writes the hosts as a table.
func printHosts(w io.Writer, hosts []api.HostView, now time.Time) {
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tSTATE\tREASON\tSINCE\tROLE\tVMS\tMESSAGE")
	for _, h := range hosts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n",
			h.Name, dash(h.State), dash(h.Reason), age(h.Since, now), dash(h.Role), len(h.VMs), dash(h.Message))
	}
	_ = tw.Flush()
}
