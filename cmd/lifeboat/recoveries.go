package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newRecoveriesCmd lists what is being recovered after host failures.
func newRecoveriesCmd() *cobra.Command {
	return viewCommand(&cobra.Command{
		Use:   "recoveries",
		Short: "Show what is being recovered after host failures, and why",
		Long: `Show the VMs of failed hosts and where their recovery stands: queued (waiting for a host
with room), restarting, running (restarted elsewhere) or stuck, with the reason; hosts being
fenced; and whether automatic recovery is frozen (a mass failure: at least two hosts lost within
recovery.mass_failure_window, more than recovery.mass_failure_fraction of those up; or the
controller cut off from most hosts and BMCs). The records survive a daemon restart. -o json prints
a list.`,
	}, (*api.Client).Recoveries, func(w io.Writer, _ *api.Client, rs []api.RecoveryView) error {
		tw := newTable(w)
		fmt.Fprintln(tw, "VM\tHOST\tFROM\tTO\tSTATE\tSINCE\tREASON")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", dash(r.VM), dash(r.Host), dash(r.From), dash(r.To), r.State, age(r.Since, time.Now()), r.Reason)
		}
		return tw.Flush()
	})
}

// newHostCmd groups the operator's commands on one host.
func newHostCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Operator actions on one host",
	}
	cmd.AddCommand(newConfirmOffCmd(), newDegradeCmd(), newRepairCmd())
	return cmd
}

// newDegradeCmd marks a host degraded.
func newDegradeCmd() *cobra.Command {
	var reason, output string
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "degrade HOST --reason TEXT",
		Short: "Mark a host degraded: no new placements, its VMs live-migrated off",
		Long: `Mark a host degraded, with a reason (a critical health observation, kept across daemon
restarts). It takes no new placements, and its VMs are live-migrated off it before it fails
(unless recovery.automatic is off or a mass failure froze recovery; under the approval mode the
evacuation waits as a plan). 'lifeboat host repair HOST' clears the mark.`,
		Example: "  lifeboat host degrade h1 --reason 'DIMM A1 correctable ECC storm'",
		Args:    oneArg("HOST", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if reason == "" {
				return usageError(fmt.Errorf("degrade %s: --reason is required", args[0]))
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			if err := c.Degrade(cmd.Context(), args[0], reason); err != nil {
				return apiError(err)
			}
			return reportDone(cmd, output, args[0], fmt.Sprintf("%s marked degraded: %s", args[0], reason))
		},
	}
	cf = addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	cmd.Flags().StringVar(&reason, "reason", "", "why the host is degraded (shown in its verdict)")
	return cmd
}

// newRepairCmd clears an operator's degraded mark.
func newRepairCmd() *cobra.Command {
	var cf *clientFlags
	var output string
	cmd := &cobra.Command{
		Use:   "repair HOST",
		Short: "Clear an operator's degraded mark on a host",
		Long: `Clear an operator's degraded mark on a host, and the guest I/O errors latched against it.
Firing alerts and the BMC's health still count. The host is healthy again once its health score
has stayed below health.clear_score for health.clear_after; after failback.stable_for its VMs
return home.`,
		Args: oneArg("HOST", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			if err := c.Repair(cmd.Context(), args[0]); err != nil {
				return apiError(err)
			}
			return reportDone(cmd, output, args[0], args[0]+": degraded mark cleared")
		},
	}
	cf = addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	return cmd
}

// newConfirmOffCmd records an operator's word that a host is off.
func newConfirmOffCmd() *cobra.Command {
	var confirm, output string
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "confirm-off HOST --confirm HOST",
		Short: "Confirm that a host is powered off, so that its VMs may restart elsewhere",
		Long: `Confirm that a host is powered off. Use it only when every fence method failed (the BMC
died with the host, say) and you have checked, by other means, that the host is off: the daemon
then restarts its VMs elsewhere (even while recovery is frozen). Repeat the host's name with
--confirm. It is refused while anything says the host is alive: libvirt answers, the host answers
on the network (libvirtd down), its BMC reads power on, or its guests answer. The confirmation is
stored and journaled as operator_confirmed_off, never as a verified fence. The disk leases stay on
as the last guard.`,
		Example: "  lifeboat host confirm-off h2 --confirm h2",
		Args:    oneArg("HOST", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if confirm != args[0] {
				return usageError(fmt.Errorf("confirm-off %s: repeat the host's name with --confirm %s after checking that it is powered off", args[0], args[0]))
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			if err := c.ConfirmOff(cmd.Context(), args[0], confirm); err != nil {
				return apiError(err)
			}
			return reportDone(cmd, output, args[0], args[0]+" confirmed off: its VMs may restart elsewhere")
		},
	}
	cf = addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	cmd.Flags().StringVar(&confirm, "confirm", "", "the host's name again, as confirmation")
	return cmd
}
