package store

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/lifeboat-ha/lifeboat/policy"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// etcdVMBatch is the most VM records one etcd transaction of PutVM holds: etcd refuses a
// transaction of more than --max-txn-ops operations (128 by default).
const etcdVMBatch = 64

// PutVM stores each record under its UUID, replacing any record with that UUID (see DB.PutVM),
// etcdVMBatch records per transaction.
func (s *Etcd) PutVM(ctx context.Context, rs ...VMRecord) error {
	vs, err := encodeVMs(rs)
	if err != nil {
		return err
	}
	for len(rs) > 0 {
		n := min(len(rs), etcdVMBatch)
		ops := make([]clientv3.Op, n)
		for i := range n {
			ops[i] = clientv3.OpPut(s.prefix+etcdVMs+rs[i].UUID, string(vs[i]))
		}
		if err := s.commit(ctx, "put vm", nil, ops...); err != nil {
			return err
		}
		rs, vs = rs[n:], vs[n:]
	}
	return nil
}

// ListVMs returns every VM record, sorted by Name, then UUID.
func (s *Etcd) ListVMs(ctx context.Context) ([]VMRecord, error) {
	out := []VMRecord{}
	err := s.each(ctx, "list vms", etcdVMs, func(k string, v []byte) error {
		r, err := decodeVM([]byte(k), v)
		out = append(out, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].UUID < out[j].UUID
	})
	return out, nil
}

// PutHost stores r under r.Name, replacing any record with that name (see DB.PutHost).
func (s *Etcd) PutHost(ctx context.Context, r HostRecord) error {
	if err := r.validate(); err != nil {
		return err
	}
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("store: put host %q: %w", r.Name, err)
	}
	return s.put(ctx, "put host", etcdHosts+r.Name, v)
}

// ListHosts returns every host record, sorted by Name.
func (s *Etcd) ListHosts(ctx context.Context) ([]HostRecord, error) {
	out := []HostRecord{}
	err := s.each(ctx, "list hosts", etcdHosts, func(k string, v []byte) error {
		r, err := decodeHost([]byte(k), v)
		out = append(out, r)
		return err
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// each calls fn with every key under dir (without the prefix and dir) and its value.
func (s *Etcd) each(ctx context.Context, what, dir string, fn func(k string, v []byte) error) error {
	resp, err := s.get(ctx, what, dir, clientv3.WithPrefix())
	if err != nil {
		return err
	}
	for _, kv := range resp.Kvs {
		if err := fn(strings.TrimPrefix(string(kv.Key), s.prefix+dir), kv.Value); err != nil {
			return err
		}
	}
	return nil
}

// Guards reads the recovery guards' durable state (see DB.Guards).
func (s *Etcd) Guards(ctx context.Context) (policy.Guards, error) {
	g := emptyGuards()
	err := s.each(ctx, "read guards", etcdGuards, func(key string, v []byte) error {
		return decodeGuard(&g, key, v)
	})
	return g, err
}

// decodeGuard adds one record of the guards (key as in the bbolt bucket) to g.
func decodeGuard(g *policy.Guards, key string, v []byte) error {
	var err error
	switch {
	case key == guardFreeze:
		err = json.Unmarshal(v, &g.Freeze)
	case strings.HasPrefix(key, guardFencePrefix):
		var r policy.FenceRecord
		if err = json.Unmarshal(v, &r); err == nil {
			g.Fences[r.Host] = r
		}
	case strings.HasPrefix(key, guardRestartPrefix):
		var r policy.RestartRecord
		if err = json.Unmarshal(v, &r); err == nil {
			g.Restarts[r.UUID] = r
		}
	case strings.HasPrefix(key, guardResetPrefix):
		var r policy.GuestReset
		if err = json.Unmarshal(v, &r); err == nil {
			g.Resets[r.UUID] = r
		}
	default:
		err = fmt.Errorf("unknown key")
	}
	if err != nil {
		return fmt.Errorf("store: guard %q: %w: %w", key, ErrCorrupt, err)
	}
	return nil
}

// PutFence stores a host's fence record. Host is required.
func (s *Etcd) PutFence(ctx context.Context, r policy.FenceRecord) error {
	return s.putGuard(ctx, "fence record", "host", r.Host, guardFencePrefix+r.Host, r)
}

// PutRestart stores one VM's restart record. UUID is required.
func (s *Etcd) PutRestart(ctx context.Context, r policy.RestartRecord) error {
	return s.putGuard(ctx, "restart record", "uuid", r.UUID, guardRestartPrefix+r.UUID, r)
}

// DeleteRestart forgets one VM's restart record (deleting a missing one is not an error).
func (s *Etcd) DeleteRestart(ctx context.Context, uuid string) error {
	return s.commit(ctx, "delete restart", nil, clientv3.OpDelete(s.prefix+etcdGuards+guardRestartPrefix+uuid))
}

// PutGuestReset stores one VM's in-place restart record. UUID is required.
func (s *Etcd) PutGuestReset(ctx context.Context, r policy.GuestReset) error {
	return s.putGuard(ctx, "guest reset record", "uuid", r.UUID, guardResetPrefix+r.UUID, r)
}

// DeleteGuestReset forgets one VM's in-place restart record (a missing one is not an error).
func (s *Etcd) DeleteGuestReset(ctx context.Context, uuid string) error {
	return s.commit(ctx, "delete guest reset", nil, clientv3.OpDelete(s.prefix+etcdGuards+guardResetPrefix+uuid))
}

// PutFreeze stores the freeze of automatic recovery.
func (s *Etcd) PutFreeze(ctx context.Context, f policy.Freeze) error {
	return s.putGuard(ctx, "freeze", "freeze", guardFreeze, guardFreeze, f)
}

func (s *Etcd) putGuard(ctx context.Context, what, field, id, key string, v any) error {
	if err := validateKey(what, field, id, func() error { return nil }); err != nil {
		return err
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("store: put %s %q: %w", what, id, err)
	}
	return s.put(ctx, "put "+what, etcdGuards+key, raw)
}

// PutDisarm stores whether an admin has stopped all automatic action (fenced like the guards).
func (s *Etcd) PutDisarm(ctx context.Context, d Disarm) error {
	raw, err := json.Marshal(d)
	if err != nil {
		return fmt.Errorf("store: put disarm: %w", err)
	}
	return s.put(ctx, "put disarm", etcdDisarm, raw)
}

// GetDisarm returns the disarm record; a prefix that never had one is armed.
func (s *Etcd) GetDisarm(ctx context.Context) (Disarm, error) {
	var d Disarm
	resp, err := s.get(ctx, "get disarm", etcdDisarm)
	if err != nil {
		return d, err
	}
	if len(resp.Kvs) == 0 {
		return d, nil
	}
	if err := json.Unmarshal(resp.Kvs[0].Value, &d); err != nil {
		return d, fmt.Errorf("store: disarm record: %w", err)
	}
	return d, nil
}
