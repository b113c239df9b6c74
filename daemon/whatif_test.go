package daemon

import (
	"context"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// forecastDaemon is a daemon (not running) over three simulated hosts of 8 GiB and 8 CPUs, the
// last one a standby, all heard from and healthy, with one protected VM on each active host.
func forecastDaemon(t *testing.T) (*Daemon, *fakeClock) {
	t.Helper()
	cfg := fleetConfig(t.TempDir(), 3)
	cfg.Hosts[2].Role = "standby"
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	d := newTestDaemon(t, cfg, clk)
	t.Cleanup(func() { d.db.Close() })
	for _, w := range d.hosts {
		w.sig.Libvirt.Result = policy.ProbeOK
		w.info = hypervisor.HostInfo{CPUs: 8, MemoryKiB: 8 << 20}
		w.verdict = policy.Verdict{Host: w.cfg.Name, State: policy.Healthy, Reason: policy.ReasonLibvirtOK}
	}
	for i, name := range []string{"web", "db"} {
		r := &store.VMRecord{UUID: "uuid-" + name, Name: name, Definition: "<domain/>", HomeHost: d.hosts[i].cfg.Name,
			CurrentHost: d.hosts[i].cfg.Name, State: "running", Protected: true, MemoryMiB: 3072, VCPUs: 2}
		d.vms[r.UUID] = r
	}
	return d, clk
}

// journalReasons lists the journal's decision reasons.
func journalReasons(t *testing.T, d *Daemon) []string {
	t.Helper()
	evs, err := d.Events(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Kind == "decision" {
			out = append(out, e.Reason)
		}
	}
	return out
}

// WhatIf answers from the daemon's own state and changes none of it.
func TestDaemonWhatIfChangesNothing(t *testing.T) {
	ctx := context.Background()
	d, _ := forecastDaemon(t)
	d.mu.Lock()
	before := d.snapshot()
	d.mu.Unlock()

	res, err := d.WhatIf(ctx, []string{"sim00000"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Fences, []string{"sim00000"}) || len(res.Restarts) != 1 || res.Restarts[0].VM != "web" || res.Restarts[0].To != "sim00002" || res.Frozen {
		t.Errorf("whatif sim00000: %+v", res)
	}
	// Both active hosts at once: a mass failure (2 of 3 > 0.34) freezes recovery.
	res, err = d.WhatIf(ctx, []string{"sim00000", "sim00001"})
	if err != nil || !res.Frozen || !strings.Contains(res.Reason, "mass failure") || len(res.Fences) != 0 {
		t.Errorf("whatif both: %v %+v", err, res)
	}
	if _, err := d.WhatIf(ctx, []string{"sim00000", "bogus"}); !errors.Is(err, api.ErrBadRequest) || !strings.Contains(err.Error(), `"bogus"`) {
		t.Errorf("whatif bogus: %v", err)
	}

	d.mu.Lock()
	after := d.snapshot()
	d.mu.Unlock()
	if !reflect.DeepEqual(before, after) {
		t.Errorf("WhatIf changed the daemon's state:\nbefore %+v\nafter  %+v", before, after)
	}
	if rs := journalReasons(t, d); len(rs) != 0 {
		t.Errorf("WhatIf journaled decisions: %v", rs)
	}
}

// The capacity gauge has no figure until every host is known, then follows the cluster; a drop
// to 0 is journaled once, and so is the way back.
func TestCapacityGaugeAndAlerts(t *testing.T) {
	ctx := context.Background()
	d, _ := forecastDaemon(t)
	var st capacityState

	d.mu.Lock()
	d.hosts[1].info = hypervisor.HostInfo{} // its size is not known yet
	d.mu.Unlock()
	d.capacityOnce(ctx, &st)
	if v := testutil.ToFloat64(d.m.capacity); !math.IsNaN(v) {
		t.Fatalf("capacity before every host is known: %v, want NaN", v)
	}

	d.mu.Lock()
	d.hosts[1].info = hypervisor.HostInfo{CPUs: 8, MemoryKiB: 8 << 20}
	d.mu.Unlock()
	d.capacityOnce(ctx, &st)
	// Either active host's VM fits on the standby; both do too (6144 of 8192); losing the
	// standby and one active leaves 5120 free on the other: fine; all three: no room.
	if v := testutil.ToFloat64(d.m.capacity); v != 2 {
		t.Fatalf("capacity = %v, want 2", v)
	}
	if rs := journalReasons(t, d); len(rs) != 0 {
		t.Fatalf("alerts with room to spare: %v", rs)
	}

	grow := func(mem int) {
		d.mu.Lock()
		for _, r := range d.vms {
			r.MemoryMiB = mem
		}
		d.mu.Unlock()
	}
	grow(7168) // no host has 7168 free besides the standby, and it takes only one
	d.capacityOnce(ctx, &st)
	d.capacityOnce(ctx, &st)
	if v := testutil.ToFloat64(d.m.capacity); v != 1 {
		t.Fatalf("capacity = %v, want 1", v)
	}
	grow(8192) // full hosts: a VM of a failed host fits nowhere but the standby... which fits one
	d.mu.Lock()
	d.hosts[2].info = hypervisor.HostInfo{CPUs: 8, MemoryKiB: 4 << 20} // the standby shrinks
	d.mu.Unlock()
	if took := d.capacityOnce(ctx, &st); took <= 0 {
		t.Errorf("a figure worked out took %v: the loop would not rest after it", took)
	}
	if took := d.capacityOnce(ctx, &st); took != 0 { // unchanged: no second alert
		t.Errorf("an unchanged figure took %v, want 0 (not worked out again)", took)
	}
	if v := testutil.ToFloat64(d.m.capacity); v != 0 {
		t.Fatalf("capacity = %v, want 0", v)
	}
	grow(1024)
	d.capacityOnce(ctx, &st)
	if v := testutil.ToFloat64(d.m.capacity); v != 2 {
		t.Fatalf("capacity = %v, want 2", v)
	}
	if rs := journalReasons(t, d); !slices.Equal(rs, []string{reasonCapacityExhausted, reasonCapacityRestored}) {
		t.Errorf("journal: %v, want one exhausted then one restored", rs)
	}
}
