package store

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// TestGuardsRoundTrip: fence records, the freeze and restart records are kept and read back.
func TestGuardsRoundTrip(t *testing.T) {
	ctx := context.Background()
	db := openNew(t, Options{})
	g, err := db.Guards(ctx)
	if err != nil || len(g.Fences) != 0 || len(g.Restarts) != 0 || g.Freeze.Frozen {
		t.Fatalf("Guards of a new store = %+v, %v", g, err)
	}
	at := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	fr := policy.FenceRecord{Host: "h1", Attempted: at, Outcome: policy.FenceVerified, At: at.Add(time.Second), By: "redfish"}
	fz := policy.Freeze{Frozen: true, Reason: policy.ReasonMassFailure, Since: at, Hosts: []string{"h1", "h2"}, Message: "mass failure"}
	rr := policy.RestartRecord{VM: "db1", UUID: "u1", From: "h1", To: "h3", Stage: policy.RestartRestarting, Since: at}
	if err := db.PutFence(ctx, fr); err != nil {
		t.Fatal(err)
	}
	if err := db.PutFreeze(ctx, fz); err != nil {
		t.Fatal(err)
	}
	if err := db.PutRestart(ctx, rr); err != nil {
		t.Fatal(err)
	}
	if err := db.PutRestart(ctx, policy.RestartRecord{VM: "db2", UUID: "u2", From: "h1", Stage: policy.RestartStuck, Since: at}); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteRestart(ctx, "u2"); err != nil {
		t.Fatal(err)
	}
	g, err = db.Guards(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := g.Fence("h1"); !got.Attempted.Equal(fr.Attempted) || got.Outcome != fr.Outcome || got.By != "redfish" {
		t.Errorf("fence record %+v, want %+v", got, fr)
	}
	if !g.Freeze.Frozen || len(g.Freeze.Hosts) != 2 || g.Freeze.Reason != policy.ReasonMassFailure {
		t.Errorf("freeze %+v", g.Freeze)
	}
	if len(g.Restarts) != 1 || g.Restarts["u1"].To != "h3" {
		t.Errorf("restarts %+v", g.Restarts)
	}
	if err := db.PutFence(ctx, policy.FenceRecord{}); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "host") {
		t.Errorf("a fence record without a host: %v, want ErrInvalid naming the host", err)
	}
}
