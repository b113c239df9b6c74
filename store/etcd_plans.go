package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// NextPlanID returns a new plan id, "p-1", "p-2", ... from the stored plan counter.
func (s *Etcd) NextPlanID(ctx context.Context) (string, error) {
	const what = "next plan id"
	var n uint64
	err := retry(ctx, what, func() error {
		resp, err := s.get(ctx, what, etcdPlanSeq)
		if err != nil {
			return err
		}
		last, rev, err := counterOf(resp)
		if err != nil {
			return err
		}
		n = last + 1
		return s.commit(ctx, what, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(s.prefix+etcdPlanSeq), "=", rev)},
			clientv3.OpPut(s.prefix+etcdPlanSeq, strconv.FormatUint(n, 10)))
	})
	if err != nil {
		return "", err
	}
	return planIDPrefix + strconv.FormatUint(n, 10), nil
}

// PutPlan stores p under p.ID (see DB.PutPlan for how Seq and the plan counter are kept).
func (s *Etcd) PutPlan(ctx context.Context, p Plan) error {
	if err := validatePlan(p); err != nil {
		return err
	}
	const what = "put plan"
	key, ckey := s.prefix+etcdPlans+p.ID, s.prefix+etcdPlanSeq
	return retry(ctx, what, func() error {
		c, cancel, err := s.reqCtx(ctx, what)
		if err != nil {
			return err
		}
		resp, err := s.cli.Txn(c).Then(clientv3.OpGet(ckey), clientv3.OpGet(key)).Commit()
		cancel()
		if err != nil {
			return s.wrap(what, err)
		}
		counter, old := resp.Responses[0].GetResponseRange(), resp.Responses[1].GetResponseRange()
		last, crev, err := counterOf((*clientv3.GetResponse)(counter))
		if err != nil {
			return err
		}
		var orev int64
		q := p
		if len(old.Kvs) > 0 {
			orev = old.Kvs[0].ModRevision
			if q.Seq == 0 {
				prev, err := decodePlan([]byte(p.ID), old.Kvs[0].Value)
				if err != nil {
					return err
				}
				q.Seq = prev.Seq
			}
		}
		n := planNumber(p.ID)
		newLast := max(last, n)
		if q.Seq == 0 {
			q.Seq = n
		}
		if q.Seq == 0 {
			newLast++
			q.Seq = newLast
		}
		v, err := json.Marshal(q)
		if err != nil {
			return fmt.Errorf("store: put plan %q: %w", p.ID, err)
		}
		ops := []clientv3.Op{clientv3.OpPut(key, string(v))}
		if newLast != last {
			ops = append(ops, clientv3.OpPut(ckey, strconv.FormatUint(newLast, 10)))
		}
		return s.commit(ctx, what, []clientv3.Cmp{
			clientv3.Compare(clientv3.ModRevision(ckey), "=", crev),
			clientv3.Compare(clientv3.ModRevision(key), "=", orev),
		}, ops...)
	})
}

// ListPlans returns every plan, sorted by Seq, then ID.
func (s *Etcd) ListPlans(ctx context.Context) ([]Plan, error) {
	plans, _, err := s.readPlans(ctx, "list plans")
	return plans, err
}

// readPlans returns the plans sorted, and each one's mod revision by ID.
func (s *Etcd) readPlans(ctx context.Context, what string) ([]Plan, map[string]int64, error) {
	out := []Plan{}
	revs := map[string]int64{}
	resp, err := s.get(ctx, what, etcdPlans, clientv3.WithPrefix())
	if err != nil {
		return nil, nil, err
	}
	for _, kv := range resp.Kvs {
		id := string(kv.Key[len(s.prefix+etcdPlans):])
		p, err := decodePlan([]byte(id), kv.Value)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, p)
		revs[p.ID] = kv.ModRevision
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Seq != out[j].Seq {
			return out[i].Seq < out[j].Seq
		}
		return out[i].ID < out[j].ID
	})
	return out, revs, nil
}

// PrunePlans deletes the oldest decided plans beyond the newest keep of them (see
// DB.PrunePlans). A plan changed meanwhile is read again.
func (s *Etcd) PrunePlans(ctx context.Context, keep int) error {
	if keep < 0 {
		return &fieldError{what: "prune plans", field: "keep", problem: fmt.Sprintf("is %d, want 0 or more", keep)}
	}
	const what = "prune plans"
	return retry(ctx, what, func() error {
		plans, revs, err := s.readPlans(ctx, what)
		if err != nil {
			return err
		}
		var decided []Plan
		for _, p := range plans {
			if !p.State.Open() {
				decided = append(decided, p)
			}
		}
		if len(decided) <= keep {
			return nil
		}
		gone := decided[:len(decided)-keep]
		for len(gone) > 0 {
			n := min(len(gone), etcdTxnChunk)
			var cmps []clientv3.Cmp
			var ops []clientv3.Op
			for _, p := range gone[:n] {
				key := s.prefix + etcdPlans + p.ID
				cmps = append(cmps, clientv3.Compare(clientv3.ModRevision(key), "=", revs[p.ID]))
				ops = append(ops, clientv3.OpDelete(key))
			}
			if err := s.commit(ctx, what, cmps, ops...); err != nil {
				return err
			}
			gone = gone[n:]
		}
		return nil
	})
}
