package agentd

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/guest"
)

func TestExec(t *testing.T) {
	s := NewServer("g1")
	defer s.Dirtier.Stop()
	s.Uptime = func() float64 { return 42.5 }

	var st guest.Status
	if err := json.Unmarshal([]byte(s.Exec("status")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Name != "g1" || st.UptimeSeconds != 42.5 || st.Dirtying || st.DirtySizeMiB != 0 {
		t.Errorf("idle status = %+v", st)
	}
	if r := s.Exec("dirty 100 2"); r != "ok" {
		t.Fatalf("dirty: %q", r)
	}
	if r := s.Exec("dirty 200 2"); r != "ok" {
		t.Fatalf("dirty (change rate): %q", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		st = s.Status()
		if st.DirtiedMiBTotal > 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !st.Dirtying || st.DirtyRateMiBs != 200 || st.DirtySizeMiB != 2 || st.DirtiedMiBTotal <= 0 {
		t.Errorf("dirtying status = %+v", st)
	}
	if r := s.Exec("stop"); r != "ok" {
		t.Fatalf("stop: %q", r)
	}
	if st = s.Status(); st.Dirtying || st.DirtySizeMiB != 0 || st.MeasuredRateMiBs != 0 {
		t.Errorf("stopped status = %+v", st)
	}
	if r := s.Exec("dirty 1"); !strings.HasPrefix(r, "error: usage") {
		t.Errorf("malformed dirty: %q", r)
	}
	if r := s.Exec("panic"); !strings.Contains(r, "not supported") {
		t.Errorf("panic without a Panic func: %q", r)
	}
}

// TestServePanic: the panic command is answered "ok" before the guest is crashed.
func TestServePanic(t *testing.T) {
	s := NewServer("g1")
	crashed := make(chan struct{})
	s.Panic = func() error { close(crashed); return nil }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = s.Serve(ctx, ln) }()
	if err := guest.Panic(ctx, ln.Addr().String()); err != nil {
		t.Fatal(err)
	}
	select {
	case <-crashed:
	case <-time.After(10 * time.Second):
		t.Fatal("the reply came, but Panic was never called")
	}
}

func TestExecMemoryCheck(t *testing.T) {
	s := NewServer("g1")
	defer s.Dirtier.Stop()
	s.MemAvailableMiB = func() (int, error) { return 50, nil }
	if r := s.Exec("dirty 1 40"); !strings.Contains(r, "does not fit") {
		t.Errorf("oversized dirty: %q", r)
	}
	if r := s.Exec("dirty 1 30"); r != "ok" {
		t.Errorf("dirty that fits: %q", r)
	}
	// The current 30 MiB buffer is freed by a new dirty, so 60 MiB fits in 50+30-12.
	if r := s.Exec("dirty 1 60"); r != "ok" {
		t.Errorf("dirty replacing the buffer: %q", r)
	}
	s.MemAvailableMiB = func() (int, error) { return 0, errors.New("no /proc") }
	if r := s.Exec("dirty 1 1"); r != "ok" {
		t.Errorf("dirty without a memory figure: %q", r)
	}
}

func TestDirtierRate(t *testing.T) {
	var d Dirtier
	defer d.Stop()
	if err := d.Start(20, 4); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	st := d.Stats()
	// 20 MiB/s for 1.5 s is 30 MiB; leave room for a loaded build machine.
	if st.TotalMiB < 20 || st.TotalMiB > 31 {
		t.Errorf("dirtied %.1f MiB in 1.5 s at 20 MiB/s", st.TotalMiB)
	}
	if st.MeasuredMiBs < 15 || st.MeasuredMiBs > 25 {
		t.Errorf("measured %.1f MiB/s, want about 20", st.MeasuredMiBs)
	}
}

func TestDirtierUnlimited(t *testing.T) {
	var d Dirtier
	defer d.Stop()
	if err := d.Start(0, 8); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if st := d.Stats(); st.TotalMiB < 8 {
		t.Errorf("unlimited dirtier wrote only %.1f MiB in 200 ms", st.TotalMiB)
	}
	d.Stop()
	d.Stop()
	if st := d.Stats(); st.Active || st.SizeMiB != 0 {
		t.Errorf("after stop: %+v", st)
	}
}
