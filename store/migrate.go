package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// MigrateStats counts what Migrate copied.
type MigrateStats struct {
	VMs, Hosts, Plans, Fences, Restarts, Journal int
	LastSeq, PlanCounter                         uint64
}

// Migrate copies everything an embedded store holds into an etcd prefix that holds nothing
// yet: VM and host records, plans with their numbers and the plan counter, the guards, and the
// journal with its sequence numbers (so that clients following the journal carry on). A
// prefix that already has records is refused: nothing is overwritten.
func Migrate(ctx context.Context, from *DB, to *Etcd) (MigrateStats, error) {
	var st MigrateStats
	for _, dir := range []string{etcdVMs, etcdHosts, etcdJournal, etcdPlans, etcdGuards, etcdJournalSeq, etcdPlanSeq} {
		resp, err := to.get(ctx, "migrate", dir, clientv3.WithPrefix(), clientv3.WithCountOnly())
		if err != nil {
			return st, err
		}
		if resp.Count > 0 {
			return st, fmt.Errorf("store: migrate: %s already holds lifeboat records (%s%s...); migrate only into an empty prefix", to.Location(), to.prefix, dir)
		}
	}
	vms, err := from.ListVMs(ctx)
	if err != nil {
		return st, err
	}
	for _, r := range vms {
		if err := to.PutVM(ctx, r); err != nil {
			return st, err
		}
	}
	st.VMs = len(vms)
	hosts, err := from.ListHosts(ctx)
	if err != nil {
		return st, err
	}
	for _, r := range hosts {
		if err := to.PutHost(ctx, r); err != nil {
			return st, err
		}
	}
	st.Hosts = len(hosts)
	plans, err := from.ListPlans(ctx)
	if err != nil {
		return st, err
	}
	for _, p := range plans {
		if err := to.PutPlan(ctx, p); err != nil {
			return st, err
		}
	}
	st.Plans = len(plans)
	if st.PlanCounter, err = from.planCounter(ctx); err != nil {
		return st, err
	}
	if err := to.put(ctx, "migrate the plan counter", etcdPlanSeq, []byte(strconv.FormatUint(st.PlanCounter, 10))); err != nil {
		return st, err
	}
	g, err := from.Guards(ctx)
	if err != nil {
		return st, err
	}
	for _, r := range g.Fences {
		if err := to.PutFence(ctx, r); err != nil {
			return st, err
		}
	}
	for _, r := range g.Restarts {
		if err := to.PutRestart(ctx, r); err != nil {
			return st, err
		}
	}
	if g.Freeze.Frozen || !g.Freeze.Since.IsZero() {
		if err := to.PutFreeze(ctx, g.Freeze); err != nil {
			return st, err
		}
	}
	st.Fences, st.Restarts = len(g.Fences), len(g.Restarts)
	dis, err := from.GetDisarm(ctx)
	if err != nil {
		return st, err
	}
	if dis.Disarmed {
		if err := to.PutDisarm(ctx, dis); err != nil {
			return st, err
		}
	}
	for after := uint64(0); ; {
		es, err := from.Journal(ctx, after, etcdTxnChunk)
		if err != nil {
			return st, err
		}
		if len(es) == 0 {
			break
		}
		ops := make([]clientv3.Op, 0, len(es))
		for _, e := range es {
			v, err := json.Marshal(e)
			if err != nil {
				return st, fmt.Errorf("store: migrate journal entry %d: %w", e.Seq, err)
			}
			ops = append(ops, clientv3.OpPut(to.prefix+journalKey(e.Seq), string(v)))
		}
		if err := to.commit(ctx, "migrate the journal", nil, ops...); err != nil {
			return st, err
		}
		st.Journal += len(es)
		after = es[len(es)-1].Seq
	}
	if st.LastSeq, err = from.LastSeq(ctx); err != nil {
		return st, err
	}
	if err := to.put(ctx, "migrate the journal counter", etcdJournalSeq, []byte(strconv.FormatUint(st.LastSeq, 10))); err != nil {
		return st, err
	}
	return st, nil
}
