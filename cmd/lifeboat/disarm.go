package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// newDisarmCmd stops all automatic action.
func newDisarmCmd() *cobra.Command {
	var reason string
	cmd := &cobra.Command{
		Use:   "disarm --reason TEXT",
		Short: "Stop all automatic action cluster-wide (admin)",
		Long: `Stop all automatic action, cluster-wide: no fence, restart, evacuation or failback
happens until 'lifeboat arm'. Monitoring, verdicts, the journal, the API and operator commands
(switchover, drain, confirm-off, approvals) go on. Use it during maintenance of the network or
the storage, when lifeboat would see failures that are not. It survives a daemon restart, and
'lifeboat status' shows it. Needs the admin role; the journal records who and why.`,
		Example: "  lifeboat disarm --reason 'core switch firmware upgrade, CHG-1234'",
		Args:    cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	cmd.Flags().StringVar(&reason, "reason", "", "why automatic action stops (required; recorded)")
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if strings.TrimSpace(reason) == "" {
			return fmt.Errorf("--reason is required: say why automatic action stops")
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		v, err := c.Disarm(cmd.Context(), reason)
		if err != nil {
			return apiError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "disarmed by %s: %s\nno automatic fence, restart, evacuation or failback until 'lifeboat arm'\n", dash(v.By), dash(v.Reason))
		return nil
	}
	return cmd
}

// newArmCmd resumes automatic action.
func newArmCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:     "arm",
		Short:   "Resume automatic action after 'lifeboat disarm' (admin)",
		Long:    `Resume automatic action after 'lifeboat disarm'. Needs the admin role; the journal records who.`,
		Example: "  lifeboat arm",
		Args:    cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := cf.client()
		if err != nil {
			return err
		}
		if _, err := c.Arm(cmd.Context()); err != nil {
			return apiError(err)
		}
		fmt.Fprintln(cmd.OutOrStdout(), "armed: automatic action resumes")
		return nil
	}
	return cmd
}

// newWhoamiCmd shows the caller as the daemon sees it.
func newWhoamiCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Show who the daemon takes you for: name, role and how you authenticated",
		Args:  cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		c, err := cf.client()
		if err != nil {
			return err
		}
		v, err := c.Whoami(cmd.Context())
		if err != nil {
			return apiError(err)
		}
		fmt.Fprintf(cmd.OutOrStdout(), "%s (role %s, by %s, from %s)\n", dash(v.Name), dash(v.Role), dash(v.Method), dash(v.Remote))
		return nil
	}
	return cmd
}
