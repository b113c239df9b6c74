package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newDrainCmd empties a host for maintenance through the daemon.
func newDrainCmd() *cobra.Command {
	var dryRun, detach bool
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "drain HOST",
		Short: "Put a host in maintenance and live-migrate every VM off it",
		Long: `Put a host in maintenance (no new placements) and live-migrate every VM off it, within the
concurrency budgets (per host out and in, cluster-wide). The command shows each VM's progress and a
final report unless --detach; --dry-run prints the plan and changes nothing. The drain is durable:
a restarted daemon carries on with it. 'lifeboat undrain HOST' ends the maintenance.`,
		Example: "  lifeboat drain h1 --dry-run\n  lifeboat drain h1",
		Args:    oneArg("HOST", "; 'lifeboat hosts' lists the hosts"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			res, err := c.Drain(cmd.Context(), args[0], dryRun)
			if err != nil {
				return apiError(err)
			}
			w := cmd.OutOrStdout()
			tw := newTable(w)
			fmt.Fprintln(tw, "VM\tFROM\tTO\tWHY")
			for _, mv := range res.Plan {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mv.VM, mv.From, dash(mv.To), mv.Why)
			}
			tw.Flush()
			if dryRun {
				fmt.Fprintln(w, "dry run: nothing changed")
				return nil
			}
			fmt.Fprintf(w, "%s is in maintenance; %d VMs to move\n", res.Host, len(res.Plan))
			if detach || len(res.Plan) == 0 {
				return nil
			}
			return followDrain(cmd, c, res)
		},
	}
	cf = addClientFlags(cmd)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&detach, "detach", false, "return once the drain has started")
	return cmd
}

// followDrain prints the drain's migrations as they progress until the host is empty, then a report.
func followDrain(cmd *cobra.Command, c *api.Client, res api.DrainResult) error {
	ctx, w := cmd.Context(), cmd.OutOrStdout()
	want := map[string]bool{}
	for _, mv := range res.Plan {
		want[mv.VM] = true
	}
	start := time.Now()
	seen := map[string]string{}
	for {
		ms, err := c.Migrations(ctx)
		if err != nil {
			return apiError(err)
		}
		for _, m := range ms {
			if !want[m.VM] || m.From != res.Host || m.Queued.Before(start.Add(-time.Minute)) {
				continue
			}
			if line := progressLine(m); seen[m.ID] != line {
				seen[m.ID] = line
				fmt.Fprintln(w, line)
			}
		}
		hosts, err := c.Hosts(ctx)
		if err != nil {
			return apiError(err)
		}
		for _, h := range hosts {
			if h.Name == res.Host && len(h.VMs) == 0 {
				fmt.Fprintf(w, "\n%s drained in %s\n", res.Host, time.Since(start).Round(100*time.Millisecond))
				printDrainReport(cmd, ms, want, res.Host, start)
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped following the drain of %s (it goes on): %w", res.Host, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// printDrainReport prints each VM's migration outcome.
func printDrainReport(cmd *cobra.Command, ms []api.MigrationView, want map[string]bool, host string, start time.Time) {
	tw := newTable(cmd.OutOrStdout())
	fmt.Fprintln(tw, "VM\tTO\tSTATE\tDURATION\tDOWNTIME")
	for _, m := range ms {
		if !want[m.VM] || m.From != host || m.Queued.Before(start.Add(-time.Minute)) {
			continue
		}
		dur := "-"
		if !m.Ended.IsZero() && !m.Started.IsZero() {
			dur = m.Ended.Sub(m.Started).Round(10 * time.Millisecond).String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d ms\n", m.VM, m.To, m.State, dur, m.DowntimeMs)
	}
	tw.Flush()
}

// newUndrainCmd ends a host's maintenance.
func newUndrainCmd() *cobra.Command {
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "undrain HOST",
		Short: "End a host's maintenance: it takes new placements again",
		Args:  oneArg("HOST", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := cf.client()
			if err != nil {
				return err
			}
			if err := c.Undrain(cmd.Context(), args[0]); err != nil {
				return apiError(err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: maintenance ended\n", args[0])
			return nil
		},
	}
	cf = addClientFlags(cmd)
	return cmd
}
