package migrate

import (
	"context"
	"sync"
)

// Budgets bound concurrent migrations. Zero fields take the defaults.
type Budgets struct {
	// PerHostOut is how many migrations may leave one host at once.
	PerHostOut int `json:"per_host_out"`
	// PerHostIn is how many migrations may enter one host at once.
	PerHostIn int `json:"per_host_in"`
	// Cluster is how many migrations may run at once in the whole cluster.
	Cluster int `json:"cluster"`
}

// DefaultBudgets: 2 out and 2 in per host (oVirt's default), 8 in the cluster.
func DefaultBudgets() Budgets { return Budgets{PerHostOut: 2, PerHostIn: 2, Cluster: 8} }

func (b Budgets) withDefaults() Budgets {
	d := DefaultBudgets()
	if b.PerHostOut <= 0 {
		b.PerHostOut = d.PerHostOut
	}
	if b.PerHostIn <= 0 {
		b.PerHostIn = d.PerHostIn
	}
	if b.Cluster <= 0 {
		b.Cluster = d.Cluster
	}
	return b
}

// slots counts running migrations against the budgets.
type slots struct {
	b       Budgets
	mu      sync.Mutex
	out, in map[string]int
	total   int
	changed chan struct{} // closed and replaced whenever a slot is released
}

func newSlots(b Budgets) *slots {
	return &slots{b: b.withDefaults(), out: map[string]int{}, in: map[string]int{}, changed: make(chan struct{})}
}

// acquire waits until a migration from → to fits every budget, then takes its slots.
func (s *slots) acquire(ctx context.Context, from, to string) error {
	for {
		s.mu.Lock()
		if s.out[from] < s.b.PerHostOut && s.in[to] < s.b.PerHostIn && s.total < s.b.Cluster {
			s.out[from]++
			s.in[to]++
			s.total++
			s.mu.Unlock()
			return nil
		}
		ch := s.changed
		s.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// release gives a migration's slots back.
func (s *slots) release(from, to string) {
	s.mu.Lock()
	s.out[from]--
	s.in[to]--
	s.total--
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}
