package daemon

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// capacityTick is how often the failover capacity is worked out again (when its inputs
// changed): often enough for a metric, rare enough to cost nothing on a small cluster.
// capacityRest bounds the loop's share of the CPU on a large one: after a figure that took T
// to work out, the next waits at least capacityRest×T, so the loop keeps to about a tenth of
// a core. At 5,000 hosts a figure takes about 15 s of CPU (the exhaustive level alone is one
// placement run per host), and a recovery wave changes its inputs on every restart: without
// the rest it would take a whole core from detection and restarts.
const (
	capacityTick = 10 * time.Second
	capacityRest = 9
)

var _ api.Forecaster = (*Daemon)(nil)

// Capacity alert reasons (journal and webhook).
const (
	reasonCapacityExhausted = "capacity_exhausted"
	reasonCapacityRestored  = "capacity_restored"
)

// WhatIf says what recovery would do if the named hosts lost power now. It runs the reconciler
// on a copy of the daemon's snapshot and changes nothing. Unknown hosts wrap api.ErrBadRequest.
func (d *Daemon) WhatIf(_ context.Context, fail []string) (api.WhatIfResult, error) {
	now := d.now()
	d.mu.Lock()
	snap := d.snapshot()
	d.mu.Unlock()
	res, err := policy.WhatIf(snap, fail, now)
	if errors.Is(err, policy.ErrUnknownHost) || errors.Is(err, policy.ErrNoHosts) {
		return res, fmt.Errorf("%w: %w", api.ErrBadRequest, err)
	}
	return res, err
}

// Capacity says how many host failures the cluster absorbs with every protected VM restarted.
// The figure is worked out again only when its inputs changed since the latest one.
func (d *Daemon) Capacity(context.Context) (api.CapacityView, error) {
	d.mu.Lock()
	snap := d.snapshot()
	cached := d.capCache
	d.mu.Unlock()
	key := capacityKey(snap)
	if cached.ok && cached.key == key {
		return cached.c, nil
	}
	c := policy.FailoverCapacity(snap)
	d.mu.Lock()
	d.capCache = capacityFigure{key: key, c: c, ok: true}
	d.mu.Unlock()
	return c, nil
}

// capacityFigure is the latest capacity worked out, with the key of its inputs.
type capacityFigure struct {
	key uint64
	c   policy.Capacity
	ok  bool
}

// capacityState is the capacity loop's memory: the inputs of the latest figure, and whether
// capacity is exhausted (for alerts on a change).
type capacityState struct {
	key       uint64
	known     bool
	exhausted bool
}

// capacityLoop works out the failover capacity every capacityTick, publishes it as
// lifeboat_failover_capacity_hosts, and alerts once when it drops to 0 (capacity_exhausted)
// and once when it rises again (capacity_restored).
func (d *Daemon) capacityLoop(ctx context.Context) {
	var st capacityState
	wait := capacityTick
	for {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		wait = max(capacityTick, capacityRest*d.capacityOnce(ctx, &st))
	}
}

// capacityOnce is one pass of the capacity loop. Until every host has been heard from and
// has reported its size, there is no figure (the gauge reads NaN); when nothing that counts
// changed since the latest figure, it stands. It returns how long working out a figure took
// (zero when none was).
func (d *Daemon) capacityOnce(ctx context.Context, st *capacityState) time.Duration {
	d.mu.Lock()
	snap := d.snapshot()
	d.mu.Unlock()
	if !capacityReady(snap) {
		return 0
	}
	key := capacityKey(snap)
	if st.known && key == st.key {
		return 0
	}
	t0 := time.Now()
	c := policy.FailoverCapacity(snap)
	took := time.Since(t0)
	d.mu.Lock()
	d.capCache = capacityFigure{key: key, c: c, ok: true}
	d.mu.Unlock()
	st.key = key
	d.m.capacity.Set(float64(c.Tolerates))
	exhausted := c.Tolerates == 0
	if st.known && exhausted == st.exhausted || !st.known && !exhausted {
		st.known, st.exhausted = true, exhausted
		return took
	}
	st.known, st.exhausted = true, exhausted
	now := d.now()
	reason, msg := reasonCapacityRestored, fmt.Sprintf("failover capacity restored: the cluster absorbs %d host failures (%s)", c.Tolerates, c.Reason)
	if exhausted {
		reason, msg = reasonCapacityExhausted, "failover capacity exhausted: a host failure would leave protected VMs without room: "+c.Reason
	}
	d.journal(ctx, store.Entry{At: now, Kind: "decision", Reason: reason, Message: msg})
	d.notify(notify.Notification{Kind: reason, At: now, Message: msg})
	return took
}

// capacityReady reports whether the snapshot can give a capacity figure: every host heard from,
// and every host that is up has reported its size.
func capacityReady(s policy.Snapshot) bool {
	for _, h := range s.Hosts {
		if !h.Heard {
			return false
		}
		switch h.Verdict.State {
		case policy.Failed, policy.Unreachable, policy.Fenced:
		default:
			if h.MemoryMiB <= 0 || h.VCPUs <= 0 {
				return false
			}
		}
	}
	return true
}

// capacityKey is a hash of what the failover capacity depends on: the hosts' states and sizes,
// the VMs' places, sizes and protection, and the placement settings.
func capacityKey(s policy.Snapshot) uint64 {
	h := fnv.New64a()
	w := func(parts ...string) {
		for _, p := range parts {
			h.Write([]byte(p))
			h.Write([]byte{0})
		}
	}
	n := strconv.Itoa
	f := func(x float64) string { return strconv.FormatUint(math.Float64bits(x), 16) }
	b := strconv.FormatBool
	pc := s.Config.Placement
	w(f(pc.MemoryOvercommit), f(pc.CPUOvercommit))
	for _, r := range pc.Rules {
		w(r.Name, b(r.Anti), n(len(r.VMs)))
		w(r.VMs...)
	}
	for _, x := range s.Hosts {
		w(x.Name, x.Role, x.Group, string(x.Verdict.State), n(x.MemoryMiB), n(x.VCPUs))
	}
	for _, v := range s.VMs {
		w(v.Name, v.Current, v.Home, n(v.MemoryMiB), n(v.VCPUs), n(v.Priority), b(v.Protected), b(v.Restartable))
	}
	return h.Sum64()
}
