package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newExplainVMCmd explains where a VM runs and how every host scores as its target.
func newExplainVMCmd(cf *clientFlags, output *string) *cobra.Command {
	var toHost bool
	cmd := &cobra.Command{
		Use:   "vm NAME",
		Short: "Explain where a VM runs and where it would go",
		Long: `Explain where a VM runs and where it belongs, and, with --to-host, how every host scores as
its target: feasibility (state, capacity, affinity) and the score breakdown behind the choice.`,
		Example: "  lifeboat explain vm g1 --to-host",
		Args:    oneArg("VM NAME", "; 'lifeboat vms' lists the VMs"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(*output); err != nil {
				return err
			}
			c, err := cf.client()
			if err != nil {
				return err
			}
			ex, err := c.ExplainVM(cmd.Context(), args[0])
			if err != nil {
				return apiError(err)
			}
			if *output != "table" {
				return printData(cmd.OutOrStdout(), *output, ex)
			}
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "vm:       %s (%s)\nstate:    %s on %s\nhome:     %s\nnote:     %s\nbest:     %s\nreason:   %s\n",
				ex.VM, ex.UUID, dash(ex.State), dash(ex.Host), dash(ex.HomeHost), dash(ex.Note), dash(ex.Best), ex.Reason)
			if ex.Guest != "" {
				fmt.Fprintf(w, "guest:    %s\n", ex.Guest)
			}
			if toHost {
				fmt.Fprintln(w)
				printCandidates(w, ex.Candidates)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&toHost, "to-host", false, "show every host's score breakdown as a target")
	return cmd
}

// printCandidates prints placement candidates with their score parts.
func printCandidates(w io.Writer, cands []api.CandidateView) {
	tw := newTable(w)
	fmt.Fprintln(tw, "HOST\tFEASIBLE\tSCORE\tBREAKDOWN / WHY NOT")
	for _, c := range cands {
		detail := strings.Join(c.Reasons, "; ")
		if c.Feasible {
			keys := make([]string, 0, len(c.Parts))
			for k := range c.Parts {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s=%.2f", k, c.Parts[k]))
			}
			detail = strings.Join(parts, " ")
		}
		feasible := "no"
		if c.Feasible {
			feasible = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3f\t%s\n", c.Host, feasible, c.Total, detail)
	}
	tw.Flush()
}
