package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// hostStateOrder is the order in which host states are listed, worst news last.
var hostStateOrder = []string{"healthy", "recovering", "maintenance", "suspect", "degraded", "unknown", "unreachable", "failed", "fenced"}

// newStatusCmd shows the daemon and the cluster at a glance.
func newStatusCmd() *cobra.Command {
	return viewCommand(&cobra.Command{
		Use:   "status",
		Short: "Show the daemon and the cluster at a glance",
		Long: `Show the daemon and the cluster at a glance: the cluster's name, the daemon's version and
whether it leads, the hosts counted by state, the VMs and the last journal event. With -o json the
output is the daemon's status object (cluster, version, started_at, leader, hosts, host_states,
vms, protected_vms, store, last_event, and disarm: disarmed, reason, by, since) with
"controller": {name, role (leader, follower or single), acting, leader, leader_url, term, peers,
why}: which of the cluster's daemons acts, and why.`,
	}, (*api.Client).Status, func(w io.Writer, c *api.Client, st api.StatusView) error {
		printStatus(w, c.Server(), st, time.Now())
		return nil
	})
}

// printStatus writes the status as aligned lines.
func printStatus(w io.Writer, server string, st api.StatusView, now time.Time) {
	role := "leader"
	if !st.Leader {
		role = "not the leader (standing by)"
	}
	lastEvent := "none"
	if st.LastEvent > 0 {
		lastEvent = fmt.Sprintf("#%d ('lifeboat events' shows the journal)", st.LastEvent)
	}
	tw := newTable(w)
	fmt.Fprintf(tw, "cluster:\t%s\n", dash(st.Cluster))
	fmt.Fprintf(tw, "daemon:\t%s, version %s, %s\n", server, dash(st.Version), role)
	if c := st.Controller; c != nil {
		var peers []string
		for _, p := range c.Peers {
			peers = append(peers, p.Name)
		}
		fmt.Fprintf(tw, "controller:\t%s, %s, leader %s, term %d, peers %s\n", dash(c.Name), c.Role, dash(c.Leader), c.Term, dash(strings.Join(peers, " ")))
		if c.Why != "" {
			fmt.Fprintf(tw, "\t%s\n", c.Why)
		}
	}
	fmt.Fprintf(tw, "up:\t%s (since %s)\n", age(st.StartedAt, now), when(st.StartedAt))
	fmt.Fprintf(tw, "hosts:\t%d%s\n", st.Hosts, countsByState(st.HostStates))
	fmt.Fprintf(tw, "vms:\t%d, %d protected\n", st.VMs, st.ProtectedVMs)
	fmt.Fprintf(tw, "store:\t%s\n", dash(st.Store))
	if st.StoreError != "" {
		fmt.Fprintf(tw, "\tunreadable: %s\n", st.StoreError)
	}
	fmt.Fprintf(tw, "last event:\t%s\n", lastEvent)
	if d := st.Disarm; d.Disarmed {
		fmt.Fprintf(tw, "DISARMED:\tno automatic action since %s (%s ago), by %s: %s; 'lifeboat arm' resumes\n",
			when(d.Since), age(d.Since, now), dash(d.By), dash(d.Reason))
	} else {
		fmt.Fprintf(tw, "automatic action:\tarmed\n")
	}
	_ = tw.Flush()
}

// countsByState lists non-zero counts as ": 2 healthy, 1 failed", known states first.
func countsByState(counts map[string]int) string {
	var parts []string
	for _, s := range hostStateOrder {
		if n := counts[s]; n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	for _, s := range slices.Sorted(maps.Keys(counts)) {
		if n := counts[s]; n > 0 && !slices.Contains(hostStateOrder, s) {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return ": " + strings.Join(parts, ", ")
}
