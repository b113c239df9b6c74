package daemon

import (
	"context"
	"fmt"
	"reflect"
	"strings"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/store"
)

// conf is the configuration in force. Its reloadable sections may change on SIGHUP (Reload);
// read it once per decision rather than keeping it.
func (d *Daemon) conf() *config.Config { return d.cfgp.Load() }

// Reloadable names the configuration sections a running daemon takes over on SIGHUP: they are
// read afresh for every decision. Every other section (hosts, timings, store, api, migration,
// notify, alerts, lease_dir, ...) is wired into connections and loops at start, and needs a
// restart; so do recovery.fence_timeout and recovery.partition_policy, which are built into the
// fence ladders and the failure detector.
var Reloadable = []string{"recovery", "placement", "approval", "failback", "health"}

// Reload takes over the reloadable sections of next, a configuration read again (SIGHUP). It
// returns the settings it applied and those that need a restart (they keep their running
// values). An invalid next changes nothing.
func (d *Daemon) Reload(ctx context.Context, next config.Config) (applied, restart []string, err error) {
	if err := next.Validate(); err != nil {
		return nil, nil, fmt.Errorf("configuration not reloaded: %w", err)
	}
	cur := d.conf()
	merged := *cur
	for _, sec := range config.Diff(*cur, next) {
		switch sec {
		case "recovery":
			r := next.Recovery
			if r.FenceTimeout != cur.Recovery.FenceTimeout {
				restart, r.FenceTimeout = append(restart, "recovery.fence_timeout"), cur.Recovery.FenceTimeout
			}
			if r.PartitionPolicy != cur.Recovery.PartitionPolicy {
				restart, r.PartitionPolicy = append(restart, "recovery.partition_policy"), cur.Recovery.PartitionPolicy
			}
			if !reflect.DeepEqual(r, cur.Recovery) {
				applied = append(applied, sec)
			}
			merged.Recovery = r
		case "placement":
			merged.Placement, applied = next.Placement, append(applied, sec)
		case "approval":
			merged.Approval, applied = next.Approval, append(applied, sec)
		case "failback":
			merged.Failback, applied = next.Failback, append(applied, sec)
		case "health":
			merged.Health, applied = next.Health, append(applied, sec)
		default:
			restart = append(restart, sec)
		}
	}
	d.cfgp.Store(&merged)
	if len(applied) > 0 || len(restart) > 0 {
		msg := "configuration reloaded"
		if len(applied) > 0 {
			msg += ": applied " + strings.Join(applied, ", ")
		}
		if len(restart) > 0 {
			msg += "; needs a restart, kept as running: " + strings.Join(restart, ", ")
		}
		d.journal(ctx, store.Entry{Kind: "decision", Reason: "config_reloaded", Message: msg})
	}
	d.kickDecide()
	d.kickDrain()
	return applied, restart, nil
}
