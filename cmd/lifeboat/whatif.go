package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newWhatIfCmd asks the daemon what recovery would do if some hosts failed now.
func newWhatIfCmd() *cobra.Command {
	var fail []string
	cmd := &cobra.Command{
		Use:   "whatif --fail HOST[,HOST...]",
		Short: "Show what recovery would do if some hosts lost power now (changes nothing)",
		Long: `Ask the daemon what would happen if the named hosts lost power now. The daemon runs the
same reconciler that recovers real failures on a copy of its state, with the hosts failed
(libvirt timing out, the BMC reading power off), their fences assumed verified and each restart
done, until nothing more would happen. Nothing changes: no fence, no restart, no journal entry.

It prints the hosts that would be fenced, the VMs that would restart and where (and why there),
the VMs that would find no room, whether recovery would freeze (a mass failure, or this
controller cut off), and what would be held back and why (approval mode, recovery.automatic
off, a fence window, ...). Under approval mode the restarts are shown as if the plan were
approved. -o json prints the answer as one JSON object.`,
		Example: "  lifeboat whatif --fail h1\n  lifeboat whatif --fail h1,h2 -o json",
	}
	cmd = viewCommand(cmd, func(c *api.Client, ctx context.Context) (api.WhatIfResult, error) {
		if len(fail) == 0 {
			return api.WhatIfResult{}, errors.New("--fail is required: name the hosts to fail, e.g. --fail h1,h2")
		}
		return c.WhatIf(ctx, fail)
	}, func(w io.Writer, _ *api.Client, r api.WhatIfResult) error { return printWhatIf(w, r) })
	cmd.Flags().StringSliceVar(&fail, "fail", nil, "hosts to fail, comma-separated or repeated")
	return cmd
}

// printWhatIf prints a what-if answer for people.
func printWhatIf(w io.Writer, r api.WhatIfResult) error {
	fmt.Fprintf(w, "If %s lost power now (nothing was changed):\n", strings.Join(r.Fail, ", "))
	if r.Frozen {
		fmt.Fprintf(w, "\nFROZEN: %s\n", r.Reason)
	}
	if len(r.Fences) > 0 {
		fmt.Fprintf(w, "\nWould fence (power off, verified): %s\n", strings.Join(r.Fences, ", "))
	} else {
		fmt.Fprintln(w, "\nNo host would be fenced.")
	}
	if len(r.Restarts) > 0 {
		fmt.Fprintln(w)
		tw := newTable(w)
		fmt.Fprintln(tw, "RESTART\tFROM\tTO\tWHY")
		for _, x := range r.Restarts {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.VM, x.From, x.To, x.Reason)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Stuck) > 0 {
		fmt.Fprintln(w)
		tw := newTable(w)
		fmt.Fprintln(tw, "NO ROOM\tFROM\tWHY")
		for _, x := range r.Stuck {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", x.VM, x.From, x.Why)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if len(r.Held) > 0 {
		fmt.Fprintln(w)
		tw := newTable(w)
		fmt.Fprintln(tw, "HELD\tCODE\tWHY")
		for _, x := range r.Held {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", x.Host, x.Code, x.Why)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(w, "\n%d VMs would restart, %d would find no room.\n", len(r.Restarts), len(r.Stuck))
	return err
}
