package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newDrainCmd empties a host for maintenance through the daemon.
func newDrainCmd() *cobra.Command {
	var dryRun, detach bool
	var timeout time.Duration
	var output string
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "drain HOST",
		Short: "Put a host in maintenance and live-migrate every VM off it",
		Long: `Put a host in maintenance (no new placements) and live-migrate every VM off it, within the
concurrency budgets (per host out and in, cluster-wide). The command shows each VM's progress and a
final report unless --detach; --dry-run prints the plan and changes nothing. The drain is durable:
a restarted daemon carries on with it. 'lifeboat undrain HOST' ends the maintenance.

A VM that cannot leave is named with the reason: no host can take it, or its live migration
failed (the daemon retries it with a growing backoff, from 5 s up to 5 min, instead of every
second). The command waits until the host is empty; it stops with an error, and exit status 1,
once every VM left is hopeless (no host can take it, or its migration failed 3 times in a row),
or after --timeout (exit status 5). The drain itself goes on in the daemon either way.

With -o json or -o yaml the command prints the drain's plan as data ({"host", "dry_run", "plan"});
the progress and the report go to standard error.`,
		Example: "  lifeboat drain h1 --dry-run\n  lifeboat drain h1",
		Args:    oneArg("HOST", "; 'lifeboat hosts' lists the hosts"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			res, err := c.Drain(cmd.Context(), args[0], dryRun)
			if err != nil {
				return apiError(err)
			}
			w := cmd.OutOrStdout()
			if output != "table" {
				if err := printData(w, output, res); err != nil {
					return err
				}
				if dryRun || detach || len(res.Plan) == 0 {
					return nil
				}
				cmd.SetOut(cmd.ErrOrStderr()) // the progress and report, for people
				return followDrain(cmd, c, res, timeout)
			}
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
			return followDrain(cmd, c, res, timeout)
		},
	}
	cf = addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&detach, "detach", false, "return once the drain has started")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop waiting after this long (0: until the host is empty or no VM left can move); the drain goes on")
	return cmd
}

// errDrainUnfinished is returned when a drain cannot finish (every VM left is stuck) or the
// wait timed out; the drain itself goes on in the daemon.
var errDrainUnfinished = errors.New("drain not finished")

// followDrain prints the drain's migrations as they progress (a migration's line redrawn in
// place on a terminal while nothing else was printed after it) until the host is empty, then a
// report. It names each VM that cannot leave, and why, as the daemon reports it; it stops waiting
// when every VM left is hopeless (no host can take it, or its migration keeps failing) or after
// timeout (0: no limit), with an error that says which VMs stay and why.
func followDrain(cmd *cobra.Command, c *api.Client, res api.DrainResult, timeout time.Duration) error {
	ctx, w := cmd.Context(), cmd.OutOrStdout()
	want := map[string]bool{}
	for _, mv := range res.Plan {
		want[mv.VM] = true
	}
	start := time.Now()
	seen := map[string]string{}
	said := map[string]string{}
	p := newProgress(w)
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
				p.line(m.ID, line)
			}
		}
		hosts, err := c.Hosts(ctx)
		if err != nil {
			return apiError(err)
		}
		var host *api.HostView
		for i := range hosts {
			if hosts[i].Name == res.Host {
				host = &hosts[i]
			}
		}
		if host == nil {
			return fmt.Errorf("host %s is gone from the daemon's view", res.Host)
		}
		if len(host.VMs) == 0 {
			fmt.Fprintf(w, "\n%s drained in %s\n", res.Host, time.Since(start).Round(100*time.Millisecond))
			printDrainReport(cmd, ms, want, res.Host, start)
			return nil
		}
		for _, sv := range host.Stuck {
			if said[sv.VM] != sv.Reason {
				said[sv.VM] = sv.Reason
				if sv.Failures > 0 {
					p.text("%s cannot leave %s: %s%s\n", sv.VM, res.Host, sv.Reason, retryNote(sv))
				} else { // the daemon's sentence names the VM and why it stays
					p.text("%s\n", sv.Reason)
				}
			}
		}
		if hopeless(host) {
			return fmt.Errorf("%w: %s still runs %s, and none of them can leave:\n%s\n%s stays in maintenance; 'lifeboat undrain %s' ends it",
				errDrainUnfinished, res.Host, strings.Join(host.VMs, ", "), stuckList(host.Stuck), res.Host, res.Host)
		}
		if timeout > 0 && time.Since(start) >= timeout {
			why := ""
			if len(host.Stuck) > 0 {
				why = ":\n" + stuckList(host.Stuck)
			}
			return fmt.Errorf("%w (%w) after --timeout %s: %s still runs %s%s\nthe drain goes on in the daemon", errDrainUnfinished, errTimedOut, timeout, res.Host, strings.Join(host.VMs, ", "), why)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("stopped following the drain of %s (it goes on): %w", res.Host, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// hopeless reports whether every VM still on the host is stuck for good: no host can take it, or
// its migration has failed again and again.
func hopeless(h *api.HostView) bool {
	stuck := map[string]bool{}
	for _, sv := range h.Stuck {
		if sv.Hopeless {
			stuck[sv.VM] = true
		}
	}
	for _, vm := range h.VMs {
		if !stuck[vm] {
			return false
		}
	}
	return len(h.VMs) > 0
}

// stuckList is one indented line per stuck VM.
func stuckList(ss []api.StuckVM) string {
	var b strings.Builder
	for i, sv := range ss {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "  %s: %s%s", sv.VM, sv.Reason, retryNote(sv))
	}
	return b.String()
}

// retryNote says when the daemon tries a stuck VM again.
func retryNote(sv api.StuckVM) string {
	if sv.RetryAt.IsZero() {
		return ""
	}
	return "; the daemon tries again at " + sv.RetryAt.Local().Format("15:04:05")
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
	var output string
	cmd := &cobra.Command{
		Use:   "undrain HOST",
		Short: "End a host's maintenance: it takes new placements again",
		Args:  oneArg("HOST", ""),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			if err := c.Undrain(cmd.Context(), args[0]); err != nil {
				return apiError(err)
			}
			return reportDone(cmd, output, args[0], args[0]+": maintenance ended")
		},
	}
	cf = addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	return cmd
}
