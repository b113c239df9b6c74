package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newSwitchoverCmd live-migrates one VM through the daemon.
func newSwitchoverCmd() *cobra.Command {
	var to, output string
	var dryRun, detach bool
	var timeout time.Duration
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "switchover VM",
		Short: "Live-migrate a VM to another host (planned switchover)",
		Long: `Live-migrate a VM to another host. Without --to the daemon picks the best host (capacity,
roles, groups, affinity; 'lifeboat explain vm VM --to-host' shows why). The command waits with a
progress bar unless --detach; --dry-run prints the plan and changes nothing. The VM keeps running
throughout; if the migration does not converge, the daemon escalates (higher max downtime, then
post-copy if allowed) and otherwise aborts, leaving the VM running on its source. Once it
succeeds, the target is the VM's new home (failback brings it back there). Under the approval
mode the switchover becomes a plan: 'lifeboat approve PLAN' runs it; the command then exits with
status 3 (waiting for approval). A refused switchover (the VM is not running, already migrating,
or no host can take it) exits with status 4. --timeout stops waiting (exit status 5); the migration
goes on.

With -o json or -o yaml the command prints the daemon's answer as data ({"vm", "from", "to",
"reason", "migration", "plan", "plan_state", "candidates", ...}); the progress goes to standard
error.`,
		Example: "  lifeboat switchover g1 --to h3\n  lifeboat switchover g1 --dry-run",
		Args:    oneArg("VM name", "; 'lifeboat vms' lists the VMs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			res, err := c.Switchover(cmd.Context(), api.SwitchoverRequest{VM: args[0], To: to, DryRun: dryRun})
			if err != nil {
				return apiError(err)
			}
			w := cmd.OutOrStdout()
			if output != "table" {
				if err := printData(w, output, res); err != nil {
					return err
				}
				w = cmd.ErrOrStderr() // what follows is for people
			}
			fmt.Fprintf(w, "%s: %s → %s (%s)\n", res.VM, res.From, res.To, res.Reason)
			if dryRun {
				fmt.Fprintln(w, "dry run: nothing changed")
				fmt.Fprintln(w)
				printCandidates(w, res.Candidates)
				return nil
			}
			if res.Plan != "" {
				if res.PlanState == "pending" {
					return fmt.Errorf("%w: plan %s (approval mode): 'lifeboat plan show %s', then 'lifeboat approve %s' or 'lifeboat reject %s --reason TEXT'", errPendingApproval, res.Plan, res.Plan, res.Plan, res.Plan)
				} else {
					fmt.Fprintf(w, "plan %s %s (approval mode notify-only): lifeboat does not move the VM\n", res.Plan, res.PlanState)
				}
				return nil
			}
			fmt.Fprintf(w, "migration %s started\n", res.Migration)
			if detach {
				return nil
			}
			m, err := followMigration(cmd.Context(), c, w, res.Migration, timeout)
			if err != nil {
				return err
			}
			if m.State != "succeeded" {
				return fmt.Errorf("migration %s %s: %s (the VM stays on %s)", m.ID, m.State, m.Error, m.From)
			}
			return nil
		},
	}
	cf = addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	cmd.Flags().StringVar(&to, "to", "", "target host (default: the best host)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	cmd.Flags().BoolVar(&detach, "detach", false, "return once the migration has started")
	cmd.Flags().DurationVar(&timeout, "timeout", 0, "stop waiting after this long (0: until the migration ends); the migration goes on")
	return cmd
}

// followMigration prints a progress bar (redrawn in place on a terminal) until the migration ends, or until timeout (0: no limit)
// has passed, which is an error matching errTimedOut.
func followMigration(ctx context.Context, c *api.Client, w io.Writer, id string, timeout time.Duration) (api.MigrationView, error) {
	start := time.Now()
	p := newProgress(w)
	last := ""
	for {
		m, err := c.Migration(ctx, id)
		if err != nil {
			return m, apiError(err)
		}
		line := progressLine(m)
		if line != last {
			p.line(id, line)
			last = line
		}
		if m.Done() {
			return m, nil
		}
		if timeout > 0 && time.Since(start) >= timeout {
			return m, fmt.Errorf("%w after --timeout %s: migration %s of %s is %s (it goes on; 'lifeboat cancel %s' stops it)", errTimedOut, timeout, id, m.VM, m.State, id)
		}
		select {
		case <-ctx.Done():
			return m, fmt.Errorf("stopped following migration %s (it goes on; 'lifeboat cancel %s' stops it): %w", id, id, ctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// progressLine renders one migration as a line with a bar.
func progressLine(m api.MigrationView) string {
	const width = 30
	n := int(m.Percent / 100 * width)
	n = max(0, min(width, n))
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	s := fmt.Sprintf("%s %-9s %s → %s [%s] %3.0f%%", m.VM, m.State, m.From, m.To, bar, m.Percent)
	if m.DataRemaining > 0 && !m.Done() {
		s += fmt.Sprintf(" %d MiB left, max downtime %d ms", m.DataRemaining>>20, m.MaxDowntimeMs)
	}
	if m.State == "succeeded" {
		s += fmt.Sprintf(" in %s, downtime %d ms", m.Ended.Sub(m.Started).Round(10*time.Millisecond), m.DowntimeMs)
	}
	if len(m.Steps) > 0 {
		s += " | " + m.Steps[len(m.Steps)-1]
	}
	return s
}
