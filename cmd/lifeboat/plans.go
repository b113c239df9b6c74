package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// planIDHint ends the error for a missing or extra plan id.
const planIDHint = "; 'lifeboat plans' lists them"

// newPlansCmd lists the approval mode's plans.
func newPlansCmd() *cobra.Command {
	return viewCommand(&cobra.Command{
		Use:   "plans",
		Short: "List the plans waiting for approval, then recent decided ones",
		Long: `List the plans of the approval mode: what lifeboat wants to do (evacuation, failback,
switchover, recovery), pending ones first, then recent decided ones. EXPIRES is when a pending
plan lapses unapproved. 'lifeboat plan show ID' shows a plan's moves; 'lifeboat approve ID' and
'lifeboat reject ID --reason TEXT' decide it. -o json prints a list.`,
	}, (*api.Client).Plans, func(w io.Writer, _ *api.Client, ps []api.PlanView) error {
		return printPlans(w, ps, time.Now())
	})
}

// printPlans writes the plans as a table.
func printPlans(w io.Writer, ps []api.PlanView, now time.Time) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "ID\tKIND\tHOST\tSTATE\tMOVES\tCREATED\tEXPIRES\tSUMMARY")
	for _, p := range ps {
		expires := "-"
		if p.State == "pending" {
			expires = until(p.Expires, now)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n",
			p.ID, dash(p.Kind), dash(p.Host), dash(p.State), len(p.Moves), age(p.Created, now), expires, dash(p.Summary))
	}
	return tw.Flush()
}

// until says how long until t, compactly: "in 4m12s"; "now" once it has passed, "-" for the
// zero time.
func until(t, now time.Time) string {
	switch {
	case t.IsZero():
		return "-"
	case !t.After(now):
		return "now"
	}
	return "in " + age(now, t)
}

// newPlanCmd groups the commands on one plan.
func newPlanCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Show one plan of the approval mode",
	}
	cmd.AddCommand(newPlanShowCmd())
	return cmd
}

// newPlanShowCmd shows one plan: what, why, its decision, and which VM goes where.
func newPlanShowCmd() *cobra.Command {
	var output string
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a plan: what, why, its decision, and which VM goes where and why",
		Long: `Show a plan: its kind, host, state and summary, the host it fences first (recovery), when
it was made, when it lapses and (recovery) when it proceeds without approval, who decided and
why, and how it ended; then a table of its moves: each VM, from where, to where, and why there.
-o json prints the plan object.`,
		Example: "  lifeboat plan show p-3",
		Args:    oneArg("plan ID", planIDHint),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			return completePlanIDs(cf, args, false), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			p, err := c.Plan(cmd.Context(), args[0])
			if err != nil {
				return planError(err)
			}
			if output != "table" {
				if p.Moves == nil {
					p.Moves = []api.PlanMove{}
				}
				return printData(cmd.OutOrStdout(), output, p)
			}
			return printPlan(cmd.OutOrStdout(), p, time.Now())
		},
	}
	cf = addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	return cmd
}

// printPlan writes a plan as aligned lines, then its moves as a table.
func printPlan(w io.Writer, p api.PlanView, now time.Time) error {
	tw := newTable(w)
	fmt.Fprintf(tw, "id:\t%s\n", p.ID)
	fmt.Fprintf(tw, "kind:\t%s\n", dash(p.Kind))
	fmt.Fprintf(tw, "host:\t%s\n", dash(p.Host))
	fmt.Fprintf(tw, "group:\t%s\n", dash(p.Group))
	fmt.Fprintf(tw, "mode:\t%s\n", dash(p.Mode))
	fmt.Fprintf(tw, "state:\t%s\n", dash(p.State))
	fmt.Fprintf(tw, "summary:\t%s\n", dash(p.Summary))
	fence := "-"
	if p.Fence != "" {
		fence = p.Fence + " (powered off and verified before any restart)"
	}
	fmt.Fprintf(tw, "fence:\t%s\n", fence)
	fmt.Fprintf(tw, "created:\t%s (%s ago)\n", when(p.Created), age(p.Created, now))
	fmt.Fprintf(tw, "expires:\t%s\n", pointInTime(p.Expires, now))
	deadline := "-"
	if !p.Deadline.IsZero() {
		deadline = pointInTime(p.Deadline, now) + ": proceeds without approval unless rejected"
	}
	fmt.Fprintf(tw, "deadline:\t%s\n", deadline)
	decided := "-"
	if p.DecidedBy != "" || !p.DecidedAt.IsZero() {
		decided = fmt.Sprintf("by %s at %s", dash(p.DecidedBy), when(p.DecidedAt))
	}
	fmt.Fprintf(tw, "decided:\t%s\n", decided)
	fmt.Fprintf(tw, "reason:\t%s\n", dash(p.DecisionReason))
	fmt.Fprintf(tw, "result:\t%s\n", dash(p.Result))
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	if len(p.Moves) == 0 {
		_, err := fmt.Fprintln(w, "no VM moves")
		return err
	}
	tw = newTable(w)
	fmt.Fprintln(tw, "VM\tFROM\tTO\tWHY")
	for _, mv := range p.Moves {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mv.VM, dash(mv.From), dash(mv.To), dash(mv.Why))
	}
	return tw.Flush()
}

// pointInTime shows a point in time with how far it is from now: "2025-03-14 09:36:53.000
// (in 4m12s)" or "(4m12s ago)"; "-" for the zero time.
func pointInTime(t, now time.Time) string {
	switch {
	case t.IsZero():
		return "-"
	case t.After(now):
		return fmt.Sprintf("%s (%s)", when(t), until(t, now))
	default:
		return fmt.Sprintf("%s (%s ago)", when(t), age(t, now))
	}
}

// newApproveCmd approves a pending plan.
func newApproveCmd() *cobra.Command {
	var by, output string
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "approve ID [--by NAME]",
		Short: "Approve a pending plan: lifeboat carries it out",
		Long: `Approve a pending plan: lifeboat carries it out now (needs the operator role). The
daemon records who approved, as the credential used proves it (a users-file token's name, a
client certificate's common name, or "token" for api.token_file), and from which address. Only
when the API has no authentication at all does it record --by (default the login user at this
host), marked "unauthenticated". 'lifeboat plan show ID' shows what it will do.`,
		Example: "  lifeboat approve p-3",
		Args:    oneArg("plan ID", planIDHint),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			return completePlanIDs(cf, args, true), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			return decidePlan(cmd, cf, args[0], "approved", api.PlanDecision{By: by}, output)
		},
	}
	cf = addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	cmd.Flags().StringVar(&by, "by", "", byHelp)
	return cmd
}

// newRejectCmd rejects a pending plan.
func newRejectCmd() *cobra.Command {
	var by, reason, output string
	var cf *clientFlags
	cmd := &cobra.Command{
		Use:   "reject ID --reason TEXT [--by NAME]",
		Short: "Reject a pending plan: nothing moves",
		Long: `Reject a pending plan, with a reason: nothing moves (needs the operator role). The
daemon records who rejected, as the credential used proves it, from which address, and why.
Only when the API has no authentication at all does it record --by (default the login user at
this host), marked "unauthenticated".`,
		Example: "  lifeboat reject p-3 --reason 'change freeze until 18:00'",
		Args:    oneArg("plan ID", planIDHint),
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			return completePlanIDs(cf, args, true), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(reason) == "" {
				return usageError(fmt.Errorf("reject %s: --reason is required: say why nothing should move", args[0]))
			}
			return decidePlan(cmd, cf, args[0], "rejected", api.PlanDecision{By: by, Reason: reason}, output)
		},
	}
	cf = addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	cmd.Flags().StringVar(&reason, "reason", "", "why the plan is rejected (required; recorded with the decision)")
	cmd.Flags().StringVar(&by, "by", "", byHelp)
	return cmd
}

// decidePlan sends an approval or rejection (verb: approved or rejected) and prints the plan's
// resulting state in one line (with -o json|yaml: the plan).
func decidePlan(cmd *cobra.Command, cf *clientFlags, id, verb string, d api.PlanDecision, output string) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	if cmd.Flags().Changed("by") {
		if strings.TrimSpace(d.By) == "" {
			return errors.New("--by is empty: name who decides, e.g. alice@ws1")
		}
	} else {
		d.By, _ = defaultDecider() // only a hint for a daemon without authentication
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	decide := c.Approve
	if verb == "rejected" {
		decide = c.Reject
	}
	p, err := decide(cmd.Context(), id, d)
	if err != nil {
		return planError(err)
	}
	if output != "table" {
		return printData(cmd.OutOrStdout(), output, p)
	}
	decidedBy := p.DecidedBy
	if decidedBy == "" {
		decidedBy = d.By
	}
	fmt.Fprintf(cmd.OutOrStdout(), "plan %s %s by %s: %s\n", p.ID, verb, dash(decidedBy), dash(p.State))
	if cmd.Flags().Changed("by") && !strings.HasPrefix(decidedBy, d.By+" ") {
		fmt.Fprintf(cmd.ErrOrStderr(), "note: --by %s was ignored: the daemon records the identity of your credential\n", d.By)
	}
	return nil
}

// byHelp describes the --by flag of approve and reject.
const byHelp = "who decides, recorded only when the API has no authentication (default $SUDO_USER or $USER, then @ and this host's name); with authentication the credential's identity is recorded instead"

// defaultDecider names the person at this terminal: $SUDO_USER or $USER (else the login
// account), then "@" and the host's name.
func defaultDecider() (string, error) {
	name := os.Getenv("SUDO_USER")
	if name == "" {
		name = os.Getenv("USER")
	}
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		return "", errors.New("cannot tell who you are ($SUDO_USER and $USER are empty): give --by NAME")
	}
	host, err := os.Hostname()
	if err != nil || host == "" {
		return name, nil
	}
	return name + "@" + host, nil
}

// planError adds a hint to an error about a plan.
func planError(err error) error {
	if errors.Is(err, api.ErrNotFound) {
		return fmt.Errorf("%w%s", err, planIDHint)
	}
	return apiError(err)
}

// completePlanIDs lists the plans' ids (with their summaries) for shell completion of the one ID
// argument, only pending ones if pendingOnly; it stays quiet when the daemon cannot be reached.
func completePlanIDs(cf *clientFlags, args []string, pendingOnly bool) []string {
	if len(args) > 0 {
		return nil
	}
	c, err := cf.client()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	ps, err := c.Plans(ctx)
	if err != nil {
		return nil
	}
	var ids []string
	for _, p := range ps {
		if !pendingOnly || p.State == "pending" {
			ids = append(ids, p.ID+"\t"+p.Summary)
		}
	}
	return ids
}
