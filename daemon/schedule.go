package daemon

import (
	"container/heap"
	"sync"
	"time"
)

// decideQueue holds the hosts that wait for a decision: those whose signals changed (dirty),
// and each host's next check (policy.NextCheck), in a min-heap. It has its own lock, taken
// after d.mu or alone, never before it: marking a host dirty is cheap wherever an observation
// is stored.
type decideQueue struct {
	mu    sync.Mutex
	dirty []bool // by host index
	order []int  // the dirty hosts, in the order they were marked
	due   checkHeap
	pos   []int // each host's index in due, -1 when it has no next check
	// wake tells the decide loop that a host was marked dirty.
	wake chan struct{}
}

func newDecideQueue(hosts int) *decideQueue {
	q := &decideQueue{dirty: make([]bool, hosts), pos: make([]int, hosts), wake: make(chan struct{}, 1)}
	for i := range q.pos {
		q.pos[i] = -1
	}
	return q
}

// mark asks for a decision on host i as soon as possible.
func (q *decideQueue) mark(i int) {
	q.mu.Lock()
	if !q.dirty[i] {
		q.dirty[i] = true
		q.order = append(q.order, i)
	}
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// markAll asks for a decision on every host (after a change that touches all of them).
func (q *decideQueue) markAll() {
	for i := range q.dirty {
		q.mark(i)
	}
}

// schedule sets host i's next check; the zero time removes it.
func (q *decideQueue) schedule(i int, at time.Time) {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch p := q.pos[i]; {
	case at.IsZero() && p >= 0:
		heap.Remove(&checkHeapOps{q}, p)
	case at.IsZero():
	case p >= 0:
		q.due[p].at = at
		heap.Fix(&checkHeapOps{q}, p)
	default:
		heap.Push(&checkHeapOps{q}, check{host: i, at: at})
	}
}

// take removes and returns the hosts to decide at now: the dirty ones, then those whose next
// check has come, each once.
func (q *decideQueue) take(now time.Time) []int {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.order
	q.order = nil
	for _, i := range out {
		q.dirty[i] = false
	}
	for len(q.due) > 0 && !q.due[0].at.After(now) {
		c := heap.Pop(&checkHeapOps{q}).(check)
		out = append(out, c.host)
	}
	if len(out) > 1 {
		seen := make(map[int]bool, len(out))
		uniq := out[:0]
		for _, i := range out {
			if !seen[i] {
				seen[i] = true
				uniq = append(uniq, i)
			}
		}
		out = uniq
	}
	return out
}

// next is the earliest next check, if any host has one.
func (q *decideQueue) next() (time.Time, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.due) == 0 {
		return time.Time{}, false
	}
	return q.due[0].at, true
}

// pending counts the dirty hosts and the hosts with a next check, for tests.
func (q *decideQueue) pending() (dirty, timed int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.order), len(q.due)
}

// check is one host's next check.
type check struct {
	host int
	at   time.Time
}

type checkHeap []check

// checkHeapOps is heap.Interface over the queue's heap, keeping each host's position. Caller
// holds q.mu.
type checkHeapOps struct{ q *decideQueue }

func (h *checkHeapOps) Len() int           { return len(h.q.due) }
func (h *checkHeapOps) Less(i, j int) bool { return h.q.due[i].at.Before(h.q.due[j].at) }
func (h *checkHeapOps) Swap(i, j int) {
	d := h.q.due
	d[i], d[j] = d[j], d[i]
	h.q.pos[d[i].host], h.q.pos[d[j].host] = i, j
}
func (h *checkHeapOps) Push(x any) {
	c := x.(check)
	h.q.pos[c.host] = len(h.q.due)
	h.q.due = append(h.q.due, c)
}
func (h *checkHeapOps) Pop() any {
	d := h.q.due
	c := d[len(d)-1]
	h.q.due = d[:len(d)-1]
	h.q.pos[c.host] = -1
	return c
}
