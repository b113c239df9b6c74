package agentd

import (
	"sync"
	"sync/atomic"
	"time"
)

// Slice is the pacing time slice: a paced dirtier writes its due pages once per Slice.
const Slice = 10 * time.Millisecond

// maxBacklog is how far a paced dirtier may catch up after falling behind.
const maxBacklog = 100 * time.Millisecond

// fastChunk is how many pages an unlimited dirtier writes between checks for a stop.
const fastChunk = PagesPerMiB

// Dirtier writes one byte per page of a buffer, round and round, at a steady rate. Its methods
// are safe for concurrent use. The zero value is ready and idle.
type Dirtier struct {
	ctl  sync.Mutex // serialises Start and Stop
	buf  []byte
	rate int
	stop chan struct{}
	done chan struct{}

	total atomic.Int64 // pages written since creation

	mu    sync.Mutex // guards meter
	meter *Meter
}

// DirtyStats is a snapshot of a Dirtier.
type DirtyStats struct {
	// Active reports whether dirtying is running.
	Active bool
	// RateMiBs is the requested rate (0 = unlimited).
	RateMiBs int
	// SizeMiB is the buffer size; 0 when idle.
	SizeMiB int
	// TotalMiB is the MiB written since the Dirtier was created.
	TotalMiB float64
	// MeasuredMiBs is the rate achieved over the last completed second; 0 when idle.
	MeasuredMiBs float64
}

// Start starts dirtying a sizeMiB MiB buffer at rateMiBs MiB/s (0 = as fast as possible),
// replacing what runs. The buffer is kept if its size is unchanged, else replaced.
func (d *Dirtier) Start(rateMiBs, sizeMiB int) error {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	d.halt()
	if len(d.buf) != sizeMiB<<20 {
		freeBuffer(d.buf)
		d.buf = nil
		buf, err := allocBuffer(sizeMiB << 20)
		if err != nil {
			return err
		}
		d.buf = buf
	}
	d.rate = rateMiBs
	d.stop, d.done = make(chan struct{}), make(chan struct{})
	now := time.Now()
	d.mu.Lock()
	d.meter = NewMeter(time.Second, now)
	d.mu.Unlock()
	go d.run(d.buf, rateMiBs, now, d.stop, d.done)
	return nil
}

// Stop stops dirtying and frees the buffer. Stopping an idle Dirtier does nothing.
func (d *Dirtier) Stop() {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	d.halt()
	freeBuffer(d.buf)
	d.buf, d.rate = nil, 0
}

// SizeMiB returns the size of the current buffer, 0 when idle.
func (d *Dirtier) SizeMiB() int {
	d.ctl.Lock()
	defer d.ctl.Unlock()
	return len(d.buf) >> 20
}

// Stats returns a snapshot of the dirtier.
func (d *Dirtier) Stats() DirtyStats {
	d.ctl.Lock()
	st := DirtyStats{Active: d.stop != nil, RateMiBs: d.rate, SizeMiB: len(d.buf) >> 20}
	d.ctl.Unlock()
	st.TotalMiB = float64(d.total.Load()) / PagesPerMiB
	if st.Active {
		d.mu.Lock()
		st.MeasuredMiBs = d.meter.RateMiBs()
		d.mu.Unlock()
	}
	return st
}

// halt stops the running loop, if any, and waits for it. d.ctl must be held.
func (d *Dirtier) halt() {
	if d.stop == nil {
		return
	}
	close(d.stop)
	<-d.done
	d.stop, d.done = nil, nil
}

// run is the dirtying loop.
func (d *Dirtier) run(buf []byte, rateMiBs int, start time.Time, stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	pos := 0
	if rateMiBs == 0 {
		for {
			select {
			case <-stop:
				return
			default:
			}
			pos = touch(buf, pos, fastChunk)
			d.record(time.Now(), fastChunk)
		}
	}
	pacer := NewPacer(rateMiBs, start, maxBacklog)
	tick := time.NewTicker(Slice)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-tick.C:
			n := pacer.Take(now)
			pos = touch(buf, pos, n)
			d.record(now, n)
		}
	}
}

// record counts n pages written at now.
func (d *Dirtier) record(now time.Time, n int64) {
	d.total.Add(n)
	d.mu.Lock()
	d.meter.Add(now, n)
	d.mu.Unlock()
}

// touch writes one byte in each of n pages of buf, starting at byte offset pos and wrapping
// around, and returns the offset to continue from. Each write changes the byte, so the page
// really is dirty.
func touch(buf []byte, pos int, n int64) int {
	if len(buf) == 0 {
		return 0
	}
	for ; n > 0; n-- {
		buf[pos]++
		pos += PageSize
		if pos >= len(buf) {
			pos = 0
		}
	}
	return pos
}
