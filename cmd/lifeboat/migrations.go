package main

import (
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newMigrationsCmd lists running and recent migrations.
func newMigrationsCmd() *cobra.Command {
	return viewCommand(&cobra.Command{
		Use:   "migrations",
		Short: "List running and recent live migrations with their progress",
		Long: `List running and recent live migrations: id, VM, hosts, state, progress, the escalation
steps taken, and for finished ones the duration and the guest's downtime. -o json prints a list.`,
	}, (*api.Client).Migrations, func(w io.Writer, _ *api.Client, ms []api.MigrationView) error {
		tw := newTable(w)
		fmt.Fprintln(tw, "ID\tVM\tFROM\tTO\tSTATE\tPROGRESS\tDURATION\tDOWNTIME\tWHY")
		for _, m := range ms {
			dur := "-"
			if !m.Started.IsZero() {
				end := m.Ended
				if end.IsZero() {
					end = time.Now()
				}
				dur = end.Sub(m.Started).Round(100 * time.Millisecond).String()
			}
			why := m.Why
			if m.Error != "" {
				why += " — " + m.Error
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.0f%%\t%s\t%d ms\t%s\n", m.ID, m.VM, m.From, m.To, m.State, m.Percent, dur, m.DowntimeMs, why)
		}
		return tw.Flush()
	})
}

// newCancelCmd cancels a migration.
func newCancelCmd() *cobra.Command {
	var cf *clientFlags
	var output string
	cmd := &cobra.Command{
		Use:   "cancel MIGRATION",
		Short: "Cancel a queued or running migration; the VM stays on its source",
		Args:  oneArg("MIGRATION id", "; 'lifeboat migrations' lists them"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			if err := c.CancelMigration(cmd.Context(), args[0]); err != nil {
				return apiError(err)
			}
			return reportDone(cmd, output, args[0], args[0]+": cancel requested")
		},
	}
	cf = addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	return cmd
}
