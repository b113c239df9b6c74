package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newExplainCmd groups the commands that say why lifeboat sees something the way it does.
func newExplainCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "explain",
		Short: "Explain a verdict: the rule and the signals behind it",
		Long: `Explain why lifeboat sees something the way it does: the rule that decided, and the
signals (libvirt, tcp, BMC power and health, lease witness, operator) it looked at.`,
		Example: "  lifeboat explain host h2\n  lifeboat explain host h2 -o json\n  lifeboat explain vm g1 --to-host",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return cmd.Help()
			}
			return fmt.Errorf("unknown explain target %q: want 'lifeboat explain host NAME' or 'lifeboat explain vm NAME'", args[0])
		},
	}
	cf := addClientFlags(cmd)
	addOutputFlag(cmd, cmd.PersistentFlags(), &output)
	cmd.AddCommand(newExplainHostCmd(cf, &output), newExplainVMCmd(cf, &output))
	return cmd
}

// newExplainHostCmd explains a host's verdict.
func newExplainHostCmd(cf *clientFlags, output *string) *cobra.Command {
	return &cobra.Command{
		Use:   "host NAME",
		Short: "Explain a host's verdict",
		Long: `Explain a host's verdict: its state and since when, the reason code and message, the rule
that decided, the signals it looked at with their age, and the host's recent verdicts. With -o
json the output is an object with host, state, reason, message, since, rule, signals (name,
value, at, detail) and history (events).`,
		Args: oneArg("host NAME", "; 'lifeboat hosts' lists the hosts"),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return completeHostNames(cf), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			ex, err := c.ExplainHost(cmd.Context(), args[0])
			if errors.Is(err, api.ErrNotFound) {
				return fmt.Errorf("%w; 'lifeboat hosts' lists the hosts", err)
			}
			if err != nil {
				return apiError(err)
			}
			if *output != "table" {
				return printData(cmd.OutOrStdout(), *output, ex)
			}
			printExplanation(cmd.OutOrStdout(), ex, time.Now())
			return nil
		},
	}
}

// completeHostNames asks the daemon for host names, for shell completion; nil when it cannot.
func completeHostNames(cf *clientFlags) []string {
	c, err := cf.client()
	if err != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	hosts, err := c.Hosts(ctx)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(hosts))
	for _, h := range hosts {
		names = append(names, h.Name)
	}
	return names
}

// printExplanation writes an explanation: the verdict, the rule, the signals and the history.
func printExplanation(w io.Writer, ex api.Explanation, now time.Time) {
	tw := newTable(w)
	fmt.Fprintf(tw, "host:\t%s\n", ex.Host)
	fmt.Fprintf(tw, "state:\t%s for %s (since %s)\n", dash(ex.State), age(ex.Since, now), when(ex.Since))
	fmt.Fprintf(tw, "reason:\t%s\n", dash(ex.Reason))
	fmt.Fprintf(tw, "message:\t%s\n", dash(ex.Message))
	fmt.Fprintf(tw, "rule:\t%s\n", dash(ex.Rule))
	_ = tw.Flush()

	fmt.Fprintln(w, "\nsignals:")
	if len(ex.Signals) == 0 {
		fmt.Fprintln(w, "  none")
	} else {
		tw = newTable(w)
		fmt.Fprintln(tw, "  NAME\tVALUE\tAGE\tDETAIL")
		for _, s := range ex.Signals {
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", s.Name, dash(s.Value), age(s.At, now), dash(s.Detail))
		}
		_ = tw.Flush()
	}

	fmt.Fprintln(w, "\nhistory:")
	if len(ex.History) == 0 {
		fmt.Fprintln(w, "  none")
		return
	}
	tw = newTable(w)
	fmt.Fprintln(tw, "  TIME\tKIND\tREASON\tMESSAGE")
	for _, e := range ex.History {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", when(e.At), dash(e.Kind), dash(e.Reason), e.Message)
	}
	_ = tw.Flush()
}
