package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// eventsFormat lays out the events table in fixed-width columns, so that lines printed one at a
// time while following stay aligned.
const eventsFormat = "%-23s  %-12s  %-16s  %-24s  %s\n"

// newEventsCmd shows the journal.
func newEventsCmd() *cobra.Command {
	var (
		output string
		follow bool
		audit  bool
		after  uint64
		limit  int
	)
	cmd := &cobra.Command{
		Use:   "events",
		Short: "Show the journal: observations, verdicts, decisions and migrations",
		Long: `Show the journal: every verdict, migration, fence and restart, oldest first. Without
--after it shows the last --limit events; with --after N, the events after number N. --follow
then keeps printing new events as they happen, until interrupted. With -o json the output is a
list of objects with seq, at, kind, host, vm, reason, message and data; with --follow, one such
object a line. With --audit it shows only the audit trail: every API call that changed something
or tried to (who, with which role, from where, what, and the result; kind audit) and the daemon's
own decisions and actions (kinds decision and action).`,
		Example: "  lifeboat events --limit 10\n  lifeboat events --follow\n  lifeboat events --after 1200 -o json\n  lifeboat events --audit",
		Args:    cobra.NoArgs,
	}
	cf := addClientFlags(cmd)
	f := cmd.Flags()
	addOutputFlag(cmd, f, &output)
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	f.BoolVar(&audit, "audit", false, "only the audit trail: API calls that change something, and the daemon's decisions and actions")
	f.Uint64Var(&after, "after", 0, "show the events after this sequence number (default: the last --limit events)")
	f.IntVar(&limit, "limit", 50, fmt.Sprintf("how many events to show, 1 to %d", api.MaxEventsLimit))
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		if limit < 1 || limit > api.MaxEventsLimit {
			return fmt.Errorf("--limit %d: want 1 to %d", limit, api.MaxEventsLimit)
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		ctx := cmd.Context()
		if audit && !follow {
			evs, err := auditEvents(ctx, c, after, cmd.Flags().Changed("after"), limit)
			if err != nil {
				return apiError(err)
			}
			return printEvents(cmd.OutOrStdout(), evs, output)
		}
		if !cmd.Flags().Changed("after") {
			st, err := c.Status(ctx)
			if err != nil {
				return apiError(err)
			}
			after = st.LastEvent - min(st.LastEvent, uint64(limit))
		}
		w := cmd.OutOrStdout()
		if follow {
			return followEvents(ctx, c, w, after, output, audit)
		}
		evs, err := c.Events(ctx, after, limit)
		if err != nil {
			return apiError(err)
		}
		return printEvents(w, evs, output)
	}
	return cmd
}

// auditEvents returns the audit events after after (when given), else the last limit of them.
func auditEvents(ctx context.Context, c *api.Client, after uint64, hasAfter bool, limit int) ([]api.Event, error) {
	if hasAfter {
		return c.AuditEvents(ctx, after, limit)
	}
	var last []api.Event
	for {
		evs, err := c.AuditEvents(ctx, after, api.MaxEventsLimit)
		if err != nil {
			return nil, err
		}
		last = append(last, evs...)
		if len(last) > limit {
			last = last[len(last)-limit:]
		}
		if len(evs) < api.MaxEventsLimit {
			return last, nil
		}
		after = evs[len(evs)-1].Seq
	}
}

// printEvents writes events as a table, or as a JSON or YAML list.
func printEvents(w io.Writer, evs []api.Event, output string) error {
	if output != "table" {
		if evs == nil {
			evs = []api.Event{}
		}
		return printData(w, output, evs)
	}
	fmt.Fprintf(w, eventsFormat, "TIME", "KIND", "HOST/VM", "REASON", "MESSAGE")
	for _, e := range evs {
		printEvent(w, e)
	}
	return nil
}

// followEvents prints every event after after as it happens until ctx ends, which is success.
func followEvents(ctx context.Context, c *api.Client, w io.Writer, after uint64, output string, audit bool) error {
	emit := func(e api.Event) error {
		if output == "yaml" {
			fmt.Fprintln(w, "---")
			return printYAML(w, e)
		}
		if output == "json" {
			b, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode event %d: %w", e.Seq, err)
			}
			_, err = fmt.Fprintf(w, "%s\n", b)
			return err
		}
		printEvent(w, e)
		return nil
	}
	if output == "table" {
		fmt.Fprintf(w, eventsFormat, "TIME", "KIND", "HOST/VM", "REASON", "MESSAGE")
	}
	follow := c.FollowEvents
	if audit {
		follow = c.FollowAuditEvents
	}
	err := follow(ctx, after, emit)
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil // interrupted: the normal way to stop following
	}
	return apiError(err)
}

// printEvent writes one event as a table line.
func printEvent(w io.Writer, e api.Event) {
	subject := e.Host
	switch {
	case e.Host != "" && e.VM != "":
		subject = e.Host + "/" + e.VM
	case e.VM != "":
		subject = e.VM
	}
	fmt.Fprintf(w, eventsFormat, when(e.At), dash(e.Kind), dash(subject), dash(e.Reason), api.Printable(e.Message))
}
