package agentd

import "time"

// Meter measures the dirtying rate actually achieved, over fixed windows. Like Pacer it takes
// the time from its caller.
type Meter struct {
	window time.Duration
	start  time.Time
	pages  int64
	rate   float64
}

// NewMeter returns a meter whose windows last window, the first starting at start.
func NewMeter(window time.Duration, start time.Time) *Meter {
	return &Meter{window: window, start: start}
}

// Add records pages written at now, closing the current window if it has lasted long enough.
func (m *Meter) Add(now time.Time, pages int64) {
	m.pages += pages
	if el := now.Sub(m.start); el >= m.window {
		m.rate = float64(m.pages) / PagesPerMiB / el.Seconds()
		m.start, m.pages = now, 0
	}
}

// RateMiBs returns the rate over the last completed window, in MiB/s (0 before the first).
func (m *Meter) RateMiBs() float64 {
	return m.rate
}
