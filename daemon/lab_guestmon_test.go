package daemon

import (
	"context"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/guest"
)

// TestLabGuestPanicRestartsInPlace: a real guest kernel panics (SysRq c through the lab agent);
// its pvpanic device stops it in QEMU's guest-panicked state, which libvirt keeps (on_crash
// preserve). The daemon confirms it through QMP (go-qemu query-status), restarts the VM in place
// on the same host (a new QEMU process, a fresh boot), journals it, and fences nothing.
func TestLabGuestPanicRestartsInPlace(t *testing.T) {
	testenv.Parallel(t)
	l, c := startRecoveryLab(t, testenv.Options{Hosts: 1, Standby: 1, VMs: 1}, nil)
	stop := watchInvariants(t, l, false)
	defer stop()
	ctx := context.Background()
	g := l.Guests()[0]
	wctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	err := testenv.WaitGuestUp(wctx, g.IP)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	before, err := l.Running()
	if err != nil || len(before) != 1 {
		t.Fatalf("guests running before the panic: %+v, %v", before, err)
	}

	t0 := time.Now()
	if err := guest.Panic(ctx, guest.Addr(g.IP)); err != nil {
		t.Fatal(err)
	}
	deadline := t0.Add(60 * time.Second)
	for !journalHas(t, c, "recovery", "guest_restarted", g.Home) {
		if time.Now().After(deadline) {
			evs, _ := c.Events(ctx, 0, 1000)
			t.Fatalf("no guest_restarted in the journal 60 s after the panic: %+v", evs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	restarted := time.Since(t0)
	if !journalHas(t, c, "recovery", "guest_panicked", g.Home) {
		t.Error("the journal does not say the guest panicked")
	}
	wctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	err = testenv.WaitGuestUp(wctx, g.IP)
	cancel()
	if err != nil {
		t.Fatalf("the guest does not answer after its restart in place: %v", err)
	}
	answering := time.Since(t0)
	st, err := guest.GetStatus(ctx, guest.Addr(g.IP))
	if err != nil {
		t.Fatal(err)
	}
	if up := time.Duration(st.UptimeSeconds * float64(time.Second)); up > answering {
		t.Errorf("the guest's uptime %s is longer than the time since its panic (%s): it did not boot again", up, answering)
	}
	after, err := l.Running()
	if err != nil || len(after) != 1 || after[0].Host != g.Home || after[0].PID == before[0].PID {
		t.Fatalf("after the restart in place: %+v (before %+v), want one new QEMU process on %s", after, before, g.Home)
	}
	if journalHas(t, c, "action", "fenced", "") {
		t.Error("a host was fenced for a guest panic")
	}
	t.Logf("guest panic: restarted in place in %s, answering again after %s", restarted.Round(10*time.Millisecond), answering.Round(10*time.Millisecond))
}
