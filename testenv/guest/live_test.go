package guest_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/guest"
)

// TestLiveAgent talks to a real booted guest when LIFEBOAT_GUEST_AGENT is set to its agent's
// address (for example 127.0.0.1:17777 through a QEMU host forward).
func TestLiveAgent(t *testing.T) {
	addr := os.Getenv("LIFEBOAT_GUEST_AGENT")
	if addr == "" {
		t.Skip("LIFEBOAT_GUEST_AGENT not set")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := guest.GetStatus(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("idle:     %+v", st)
	if err := guest.Dirty(ctx, addr, 20, 32); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if st, err = guest.GetStatus(ctx, addr); err != nil {
		t.Fatal(err)
	}
	t.Logf("20 MiB/s: %+v", st)
	if !st.Dirtying || st.DirtySizeMiB != 32 || st.MeasuredRateMiBs < 10 {
		t.Errorf("dirtying at 20 MiB/s over 32 MiB: %+v", st)
	}
	if err := guest.Dirty(ctx, addr, 0, 32); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if st, err = guest.GetStatus(ctx, addr); err != nil {
		t.Fatal(err)
	}
	t.Logf("unlimited: %+v", st)
	if err := guest.Dirty(ctx, addr, 10, 4096); err == nil {
		t.Error("a 4 GiB buffer was accepted by a small guest")
	} else {
		t.Logf("oversized: %v", err)
	}
	if err := guest.StopDirty(ctx, addr); err != nil {
		t.Fatal(err)
	}
	if st, err = guest.GetStatus(ctx, addr); err != nil {
		t.Fatal(err)
	}
	t.Logf("stopped:  %+v", st)
	if st.Dirtying || st.DirtySizeMiB != 0 {
		t.Errorf("after stop: %+v", st)
	}
}
