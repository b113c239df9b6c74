package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// newRecoveriesCmd lists what is being recovered after host failures.
func newRecoveriesCmd() *cobra.Command {
	var output string
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "recoveries",
		Short: "Show what is being recovered after host failures, and why",
		Long: `Show the VMs of failed hosts and where their recovery stands: queued (waiting for a host
with room), restarting, running (restarted elsewhere) or stuck, with the reason; hosts being
fenced; and whether automatic recovery is frozen by a mass failure. -o json prints a list.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			rs, err := c.Recoveries(cmd.Context())
			if err != nil {
				return apiError(err)
			}
			if output == "json" {
				return printJSON(cmd.OutOrStdout(), rs)
			}
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "VM\tHOST\tFROM\tTO\tSTATE\tSINCE\tREASON")
			for _, r := range rs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(r.VM), dash(r.Host), dash(r.From), dash(r.To), r.State, age(r.Since, time.Now()), r.Reason)
			}
			return tw.Flush()
		},
	}
	cf = addClientFlags(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: table or json")
	return cmd
}

// newHostCmd groups the operator's commands on one host.
func newHostCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Operator actions on one host",
	}
	cmd.AddCommand(newConfirmOffCmd())
	return cmd
}

// newConfirmOffCmd records an operator's word that a host is off.
func newConfirmOffCmd() *cobra.Command {
	var confirm string
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "confirm-off HOST --confirm HOST",
		Short: "Confirm that a host is powered off, so that its VMs may restart elsewhere",
		Long: `Confirm that a host is powered off. Use it only when every fence method failed (the BMC
died with the host, say) and you have checked, by other means, that the host is off: the daemon
then restarts its VMs elsewhere. Repeat the host's name with --confirm. The confirmation is
journaled with the time. The disk leases stay on as the last guard.`,
		Example: "  lifeboat host confirm-off h2 --confirm h2",
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) != 1 {
				return fmt.Errorf("want one HOST, got %d arguments", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if confirm != args[0] {
				return fmt.Errorf("confirm-off %s: repeat the host's name with --confirm %s after checking that it is powered off", args[0], args[0])
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			if err := c.ConfirmOff(cmd.Context(), args[0], confirm); err != nil {
				return apiError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s confirmed off: its VMs may restart elsewhere\n", args[0])
			return nil
		},
	}
	cf = addClientFlags(cmd)
	cmd.Flags().StringVar(&confirm, "confirm", "", "the host's name again, as confirmation")
	return cmd
}
