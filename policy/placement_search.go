package policy

// Placement: the branch-and-bound search for the best hosts of one VM.

import (
	"math"
)

// pick is a feasible host found by a search.
type pick struct {
	rank int32
	s    parts
}

// search is a branch-and-bound search for the best planKeep feasible hosts of one VM, by score
// then host name. It visits the more promising child first and skips a subtree when it cannot
// fit the VM or its score bound cannot beat the worst host kept.
type search struct {
	p *planner
	x *vmCtx
	t *hostTree
	// lo and hi are the positions searched.
	lo, hi int
	// group is the group part of every host searched: 1 among the VM's group, else 0.
	group float64
	// skipGid: the hosts of this group were searched already (-1: none).
	skipGid int32
	top     [planKeep]pick
	n       int
}

// best finds the best planKeep feasible hosts for the VM: its home host, then the hosts of its
// group, then all the others.
func (p *planner) best(x *vmCtx) ([planKeep]pick, int) {
	s := search{p: p, x: x, t: &p.tree, skipGid: -1}
	if h := x.home; h >= 0 && p.fits(h, x) {
		s.offer(h, p.score(h, x))
	}
	if x.gid >= 0 {
		s.group = 1
		for _, rg := range p.groupRanges[x.gid] {
			s.lo, s.hi = rg[0], rg[1]
			if s.hi-s.lo <= 2*blockSize {
				s.scanRange(s.lo, s.hi, true)
			} else {
				s.run()
			}
		}
		s.group, s.skipGid = 0, x.gid
	}
	s.lo, s.hi = 0, len(s.t.hot)
	s.run()
	return s.top, s.n
}

func (s *search) run() {
	if s.viable(1) {
		s.visit(1, 0, s.t.size, s.bound(1))
	}
}

// viable reports whether some host below node i may have room for the VM.
func (s *search) viable(i int) bool {
	nd := &s.t.nodes[i]
	return nd.count > 0 && nd.maxM >= s.x.m && nd.maxC >= s.x.c
}

// bound is an upper bound of the score (in millionths) of any host below node i that the search
// looks at: the best base among the hosts with room for the VM's request class, less the VM's
// share of the largest capacity, plus the search's group bonus. It never falls below a host's
// exact score: float rounding errors are far smaller than the margin of a thousandth of a
// millionth.
func (s *search) bound(i int) int64 {
	nd := &s.t.nodes[i]
	x := s.x
	u := min(nd.baseC[x.cpuClass], nd.baseM[x.memClass]) - WeightMemoryFree*(float64(x.m)*nd.invM) -
		WeightCPUFree*(float64(x.c)*nd.invC) + WeightGroup*s.group
	return int64(math.Floor(u*scoreScale + 0.501))
}

// worthIt reports whether a subtree with score bound ub and smallest rank minRank may hold a
// host better than the worst one kept.
func (s *search) worthIt(ub int64, minRank int32) bool {
	if s.n < planKeep {
		return true
	}
	last := &s.top[s.n-1]
	return ub > last.s.micro || ub == last.s.micro && minRank < last.rank
}

// visit searches node i, whose blocks are bl to bh-1.
func (s *search) visit(i, bl, bh int, ub int64) {
	t := s.t
	if bh*blockSize <= s.lo || bl*blockSize >= s.hi || !s.worthIt(ub, t.nodes[i].minRank) {
		return
	}
	if i >= t.size {
		s.scanRange(max(s.lo, bl*blockSize), min(s.hi, bh*blockSize, len(t.hot)), t.uniform[bl])
		return
	}
	mid := (bl + bh) / 2
	l, r := 2*i, 2*i+1
	vl, vr := s.viable(l), s.viable(r)
	switch {
	case vl && vr:
		ul, ur := s.bound(l), s.bound(r)
		if ur > ul || ur == ul && t.nodes[r].minRank < t.nodes[l].minRank {
			s.visit(r, mid, bh, ur)
			s.visit(l, bl, mid, ul)
		} else {
			s.visit(l, bl, mid, ul)
			s.visit(r, mid, bh, ur)
		}
	case vl:
		s.visit(l, bl, mid, s.bound(l))
	case vr:
		s.visit(r, mid, bh, s.bound(r))
	}
}

// scanRange scores the hosts at positions lo to hi-1 that can take the VM and may beat the
// hosts kept. uniform says they all have one capacity.
func (s *search) scanRange(lo, hi int, uniform bool) {
	t, x := s.t, s.x
	m, c := float64(x.m), float64(x.c)
	// A host's own bound, as for a node, is cheaper than its exact score; with one capacity the
	// VM's share is the same for every host.
	share := func(i int) float64 { return WeightMemoryFree*(m*t.cold[i].invM) + WeightCPUFree*(c*t.cold[i].invC) }
	var pen float64
	if uniform && lo < hi {
		pen = share(lo)
	}
	bonus := WeightGroup * s.group
	for i := lo; i < hi; i++ {
		h := &t.hot[i]
		if h.freeM < x.m || h.freeC < x.c {
			continue
		}
		if s.n == planKeep {
			p := pen
			if !uniform {
				p = share(i)
			}
			if !s.worthIt(int64(math.Floor((h.base-p+bonus)*scoreScale+0.501)), h.rank) {
				continue
			}
		}
		r := h.rank
		if r == x.home || s.skipGid >= 0 && h.gid == s.skipGid {
			continue // scored already
		}
		if x.hasAntiCur && (r == x.cur || !s.p.rules.antiAllowed(x.anti, r)) {
			continue
		}
		st := &t.cold[i]
		s.offer(r, scoreOf(h.freeM-x.m, h.freeC-x.c, st.capM, st.capC, st.role, 0, s.group))
	}
}

// offer keeps host r, scoring sc, if it is among the best planKeep so far.
func (s *search) offer(r int32, sc parts) {
	c := pick{rank: r, s: sc}
	i := s.n
	if i == planKeep {
		i--
		if !better(c, s.top[i]) {
			return
		}
	} else {
		s.n++
	}
	for ; i > 0 && better(c, s.top[i-1]); i-- {
		s.top[i] = s.top[i-1]
	}
	s.top[i] = c
}

func better(a, b pick) bool {
	return a.s.micro > b.s.micro || a.s.micro == b.s.micro && a.rank < b.rank
}
