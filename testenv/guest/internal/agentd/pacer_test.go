package agentd

import (
	"testing"
	"time"
)

func TestPacerSteady(t *testing.T) {
	t0 := time.Unix(1000, 0)
	p := NewPacer(1, t0, 100*time.Millisecond) // 256 pages/s
	var total int64
	for i := 1; i <= 100; i++ {
		n := p.Take(t0.Add(time.Duration(i) * Slice))
		if n < 2 || n > 3 {
			t.Fatalf("slice %d: %d pages due, want 2 or 3 (256 pages/s in 10 ms slices)", i, n)
		}
		total += n
	}
	if total != 256 {
		t.Errorf("after 1 s: %d pages, want 256", total)
	}
}

func TestPacerLongRun(t *testing.T) {
	t0 := time.Unix(0, 0)
	p := NewPacer(1024, t0, time.Second) // 262144 pages/s
	var total int64
	for i := 1; i <= 60*100; i++ {
		total += p.Take(t0.Add(time.Duration(i) * Slice))
	}
	if want := int64(60 * 1024 * PagesPerMiB); total != want {
		t.Errorf("after 60 s: %d pages, want %d", total, want)
	}
}

func TestPacerForgivesBacklog(t *testing.T) {
	t0 := time.Unix(0, 0)
	p := NewPacer(10, t0, 100*time.Millisecond) // 2560 pages/s, backlog cap 256
	if n := p.Take(t0.Add(10 * time.Second)); n != 256 {
		t.Errorf("after a 10 s stall: %d pages due, want the 256-page cap", n)
	}
	if n := p.Take(t0.Add(10*time.Second + Slice)); n != 25 {
		t.Errorf("slice after the stall: %d pages due, want 25", n)
	}
}

func TestPacerClockEdgeCases(t *testing.T) {
	t0 := time.Unix(0, 0)
	p := NewPacer(1, t0, 0)
	if n := p.Take(t0.Add(-time.Second)); n != 0 {
		t.Errorf("time before start: %d pages due, want 0", n)
	}
	if n := p.Take(t0); n != 0 {
		t.Errorf("at start: %d pages due, want 0", n)
	}
	if n := p.Take(t0.Add(time.Second)); n != 1 {
		t.Errorf("zero backlog: %d pages due, want the 1-page minimum", n)
	}
}

func TestPagesInNoOverflow(t *testing.T) {
	pps := int64(MaxRateMiBs) * PagesPerMiB
	if got, want := pagesIn(pps, 1000*time.Hour), pps*3600*1000; got != want {
		t.Errorf("pagesIn = %d, want %d", got, want)
	}
}

func TestMeter(t *testing.T) {
	t0 := time.Unix(0, 0)
	m := NewMeter(time.Second, t0)
	for i := 1; i <= 99; i++ {
		m.Add(t0.Add(time.Duration(i)*Slice), PagesPerMiB)
	}
	if r := m.RateMiBs(); r != 0 {
		t.Errorf("before the first window closes: %v MiB/s, want 0", r)
	}
	m.Add(t0.Add(time.Second), PagesPerMiB)
	if r := m.RateMiBs(); r != 100 {
		t.Errorf("rate = %v MiB/s, want 100", r)
	}
}

func TestTouch(t *testing.T) {
	buf := make([]byte, 3*PageSize)
	pos := touch(buf, 0, 4)
	if pos != PageSize {
		t.Errorf("pos = %d, want %d", pos, PageSize)
	}
	if buf[0] != 2 || buf[PageSize] != 1 || buf[2*PageSize] != 1 || buf[1] != 0 {
		t.Errorf("page bytes = %d %d %d (byte 1 = %d); want 2 1 1 (0)", buf[0], buf[PageSize], buf[2*PageSize], buf[1])
	}
	if touch(nil, 0, 5) != 0 {
		t.Error("touch on an empty buffer moved")
	}
}
