package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/testenv"
)

// newLabStatusCmd shows a lab's hosts, faults and the guests found running on each.
func newLabStatusCmd() *cobra.Command {
	var dir, output string
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show a lab's hosts, injected faults and running guests",
		Long: `Show a lab's hosts, injected faults and running guests. The guests on each host come
from a scan of that host's processes, not from libvirt. With -o json the output is an object with
"hosts" (name, address, libvirt_uri, bmc_url, power, frozen, partitioned, guests, ...), "vms" and
"config" (the path of the daemon configuration written for the lab).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			ctl, err := testenv.Dial(dir)
			if err != nil {
				return err
			}
			st, err := ctl.Status(cmd.Context())
			stale := false
			if errors.Is(err, testenv.ErrNoSupervisor) {
				stale = true
				st, err = testenv.ReadStatus(dir)
			}
			if err != nil {
				return err
			}
			if output != "table" {
				return printData(cmd.OutOrStdout(), output, st)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab %s in %s\n\n", st.Name, st.Dir)
			printLab(cmd.OutOrStdout(), st)
			fmt.Fprintf(cmd.OutOrStdout(), "\ndaemon config: %s\n", st.Config)
			if stale {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning: the lab process is not running: BMCs do not answer and faults cannot be injected; run 'lifeboat lab down' to clean up")
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultLabDir, "directory that holds the lab")
	addOutputFlag(cmd, cmd.Flags(), &output)
	return cmd
}
