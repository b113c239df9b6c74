package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// newCapacityCmd shows how many host failures the cluster absorbs.
func newCapacityCmd() *cobra.Command {
	return viewCommand(&cobra.Command{
		Use:   "capacity",
		Short: "Show how many host failures the cluster absorbs with every protected VM restarted",
		Long: `Show how many hosts can fail at once, whichever they are, with every protected VM still
finding room on the healthy hosts that remain (like vSphere HA's "host failures cluster
tolerates"). Placement is the one recovery uses: standby hosts first, overcommit and affinity
rules as configured. The figure is about room only: a mass-failure freeze, manual recovery and
approval delay restarts but are not counted.

Every set of failed hosts is checked while that takes at most 20,000 placement runs; beyond that
larger sets are checked worst first (see the README), and the figure says whether it is exact.
WORST is a smallest set of hosts whose loss leaves some protected VM without room. The same
figure is the metric lifeboat_failover_capacity_hosts. -o json prints one JSON object.`,
	}, (*api.Client).Capacity, func(w io.Writer, _ *api.Client, c api.CapacityView) error {
		exact := "exact"
		if !c.Exact {
			exact = fmt.Sprintf("every set of up to %d hosts checked, larger ones worst first", c.ExhaustiveUpTo)
		}
		plural := "s"
		if c.Tolerates == 1 {
			plural = ""
		}
		fmt.Fprintf(w, "Tolerates: %d host failure%s at once (%s)\n", c.Tolerates, plural, exact)
		if len(c.Worst) > 0 {
			fmt.Fprintf(w, "Worst:     %s\n", strings.Join(c.Worst, ", "))
		}
		fmt.Fprintf(w, "Why:       %s\n\n", c.Reason)
		tw := newTable(w)
		fmt.Fprintln(tw, "HOST\tSTATE\tMEMORY FREE\tVCPUS FREE")
		for _, h := range c.Hosts {
			fmt.Fprintf(tw, "%s\t%s\t%d MiB\t%d\n", h.Name, h.State, h.MemoryFreeMiB, h.VCPUsFree)
		}
		return tw.Flush()
	})
}
