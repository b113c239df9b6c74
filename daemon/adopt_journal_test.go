package daemon

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/testenv/fleet"
)

// TestAdoptOwesUnjournaledFences: a fence whose record holds its outcome but whose journal
// entry is missing (the controller stopped between the two writes) is owed to the journal; one
// journaled after its attempt is not, nor one attempted before the fence window.
func TestAdoptOwesUnjournaledFences(t *testing.T) {
	cfg := fleetConfig(t.TempDir(), 3)
	d, err := New(context.Background(), cfg, Options{Dial: fleet.New(1).Dial})
	if err != nil {
		t.Fatal(err)
	}
	defer d.db.Close()
	ctx := context.Background()
	now := d.now()
	g := policy.Guards{Fences: map[string]policy.FenceRecord{
		"sim00000": {Host: "sim00000", Attempted: now.Add(-time.Minute), Outcome: policy.FenceVerified, At: now.Add(-59 * time.Second), By: "redfish"},
		"sim00001": {Host: "sim00001", Attempted: now.Add(-time.Minute), Outcome: policy.FenceFailed, At: now.Add(-50 * time.Second), Detail: "BMC timeout"},
		"sim00002": {Host: "sim00002", Attempted: now.Add(-2 * cfg.Recovery.FenceWindow.D()), Outcome: policy.FenceVerified, At: now.Add(-2 * cfg.Recovery.FenceWindow.D())},
	}}
	// sim00001's failure is journaled; sim00000 has only an older fence entry.
	if _, err := d.db.Append(ctx,
		store.Entry{At: now.Add(-time.Hour), Kind: "action", Host: "sim00000", Reason: "fenced", Message: "an older fence"},
		store.Entry{At: now.Add(-50 * time.Second), Kind: "action", Host: "sim00001", Reason: "fence_failed", Message: "failed"}); err != nil {
		t.Fatal(err)
	}
	owed, err := d.unjournaledFences(ctx, g)
	if err != nil {
		t.Fatal(err)
	}
	if len(owed) != 1 || owed[0].Host != "sim00000" || owed[0].Reason != "fenced" || !owed[0].At.Equal(g.Fences["sim00000"].At) ||
		!strings.Contains(owed[0].Message, "stopped before journaling it") {
		t.Fatalf("owed: %+v", owed)
	}
}
