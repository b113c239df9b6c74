package policy

// Placement: the order in which a plan places its VMs (priority, then name).

import (
	"cmp"
	"slices"
)

// vmPlan is one VM request of a plan, resolved.
type vmPlan struct {
	name, group    string
	m, c           int64
	prio           int
	cur, home, gid int32 // host ranks and group, -1 when none
	rules          int32 // index into batchRules, -1 without rules
	invalid, dup   bool  // a bad size (see badSize); a later request for a name already requested
}

// nameKey sorts VM names: the first 16 bytes, then the whole name.
type nameKey struct {
	a, b uint64
	i    int32 // input index
}

// prioKey sorts VMs by priority (higher first), name and input index.
type prioKey struct {
	prio uint64 // higher priority first: ^(priority with its sign bit flipped)
	rest uint64 // name rank << 32 | input index
}

func (k prioKey) idx() int { return int(uint32(k.rest)) }

// priorityOrder sorts the requests by priority (higher first), name, and input index, and marks
// every request for a name requested earlier in that order. Names are compared once, in one
// sort by name; the priority sort then compares numbers only.
func priorityOrder(reqs []vmPlan, byName []nameKey) []prioKey {
	slices.SortFunc(byName, func(x, y nameKey) int {
		if x.a != y.a {
			return cmp.Compare(x.a, y.a)
		}
		if x.b != y.b {
			return cmp.Compare(x.b, y.b)
		}
		return cmp.Or(cmp.Compare(reqs[x.i].name, reqs[y.i].name), cmp.Compare(x.i, y.i))
	})
	order := make([]prioKey, len(reqs))
	// Requests for one name are adjacent in name order (by input index): keep the first with
	// the highest priority, the first in priority order.
	markRun := func(lo, hi int) {
		keep := lo
		for j := lo + 1; j < hi; j++ {
			if reqs[byName[j].i].prio > reqs[byName[keep].i].prio {
				keep = j
			}
		}
		for j := lo; j < hi; j++ {
			reqs[byName[j].i].dup = j != keep
		}
	}
	rank, run := uint64(0), 0
	for j, k := range byName {
		if j > 0 && (k.a != byName[j-1].a || k.b != byName[j-1].b || reqs[k.i].name != reqs[byName[j-1].i].name) {
			markRun(run, j)
			rank, run = rank+1, j
		}
		order[j] = prioKey{^(uint64(reqs[k.i].prio) ^ 1<<63), rank<<32 | uint64(uint32(k.i))}
	}
	markRun(run, len(byName))
	slices.SortFunc(order, func(x, y prioKey) int { return cmp.Or(cmp.Compare(x.prio, y.prio), cmp.Compare(x.rest, y.rest)) })
	return order
}

// prefix16 is s's first 16 bytes as two big-endian numbers, zero-padded: comparing them
// compares the names, up to ties.
func prefix16(s string) (uint64, uint64) {
	var a, b uint64
	for i := range 16 {
		var c uint64
		if i < len(s) {
			c = uint64(s[i])
		}
		if i < 8 {
			a = a<<8 | c
		} else {
			b = b<<8 | c
		}
	}
	return a, b
}
