package agentd

import "time"

// PageSize is the dirtying stride: one byte is written per PageSize bytes.
const PageSize = 4096

// PagesPerMiB is the number of pages dirtied per MiB.
const PagesPerMiB = (1 << 20) / PageSize

// Pacer spreads page writes evenly over time: at every time slice, Take says how many pages are
// due so that the total written follows the rate. It holds no clock; callers pass the time, so
// it is a pure function of its inputs.
type Pacer struct {
	pagesPerSec int64
	maxBacklog  int64
	start       time.Time
	done        int64
}

// NewPacer returns a pacer for rateMiBs MiB/s starting at start. If the caller falls behind by
// more than maxBacklog worth of pages (the guest was paused, or cannot keep up), the excess is
// forgiven instead of being written in one burst.
func NewPacer(rateMiBs int, start time.Time, maxBacklog time.Duration) *Pacer {
	pps := int64(rateMiBs) * PagesPerMiB
	return &Pacer{pagesPerSec: pps, maxBacklog: max(pagesIn(pps, maxBacklog), 1), start: start}
}

// Take returns the number of pages due at now and counts them as written.
func (p *Pacer) Take(now time.Time) int64 {
	target := pagesIn(p.pagesPerSec, now.Sub(p.start))
	due := target - p.done
	if due > p.maxBacklog {
		due = p.maxBacklog // forgive the rest of the backlog
	}
	if due <= 0 {
		return 0
	}
	p.done = target
	return due
}

// pagesIn returns how many pages are due in d at pps pages per second, without overflowing.
func pagesIn(pps int64, d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	sec, frac := int64(d/time.Second), int64(d%time.Second)
	return pps*sec + pps*frac/int64(time.Second)
}
