package policy

// Placement: the tree of hosts that PlanPlacements' search walks.

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
)

// hostTree indexes sound, healthy hosts for PlanPlacements' search. Hosts sit in blocks of
// blockSize, in arrays by position; a complete binary tree over the blocks keeps, for each
// subtree, bounds over its hosts (most free memory and vCPUs, best VM-independent score, largest
// capacities), so that a search can skip subtrees that cannot fit a VM or cannot beat the hosts
// found so far, and scan the blocks that can. The tree is small enough to stay in cache.
//
// A host's score splits into a part that does not depend on the VM (its free shares and role,
// its base), minus what the VM takes (its size over the host's capacity), plus the home and
// group bonuses. A node keeps its best base among all hosts below, and among those with at least
// 2^k vCPUs or 2^j GiB free, so that hosts too full for a VM do not make a subtree look
// promising for it. Hosts are ordered by capacity first, so that most blocks and nodes hold
// hosts of one capacity, for which base minus the VM's share is the exact best score, then by
// group, so that a group's hosts of one capacity are contiguous. The bonuses stay out of the
// bounds: a search scores the home host first, then the hosts of the VM's group (where the
// group bonus is the same for every host), then all the others. Ties between equal scores are
// broken by host name, through each node's smallest name rank.
type hostTree struct {
	size  int     // number of blocks, a power of two
	nodes []tnode // heap layout: the root is 1, the children of i are 2i and 2i+1, block b is size+b
	// pos is the position of each host by rank, -1 for a host not in the tree.
	pos []int32
	// hot holds what a scan reads of every host, by position; the other slices what it reads of
	// the few it scores.
	hot  []slot
	cold []hostStatic
	// uniform is set for the blocks whose hosts all have one capacity.
	uniform []bool
}

type hostStatic struct {
	capM, capC int64
	invM, invC float64 // 1 / capacity
	role       float64
}

type slot struct {
	freeM, freeC int64
	base         float64 // memory_free, cpu_free and role score before any VM
	rank, gid    int32
}

const blockSize = 32

type tnode struct {
	// baseC[k] is the best base among the hosts below in cpu class k or higher; baseM[j] the
	// same by memory class.
	baseC          [cpuClasses]float64
	baseM          [memClasses]float64
	invM, invC     float64 // 1 / the largest capacity
	maxM, maxC     int64   // the most free memory and vCPUs
	minM, minC     int64   // the least free memory and vCPUs
	minRank, count int32   // the smallest host rank below; hosts below
}

// Request classes: class 0 holds every host; cpu class k > 0 the hosts with at least 2^(k-1)
// vCPUs free, memory class j > 0 those with at least 2^(j-1) GiB free.
const (
	cpuClasses = 7
	memClasses = 8
)

// cpuClass is the largest class whose minimum does not exceed c vCPUs.
func cpuClass(c int64) int {
	if c <= 0 {
		return 0
	}
	return min(bits.Len64(uint64(c)), cpuClasses-1)
}

// memClass is the largest class whose minimum does not exceed m MiB.
func memClass(m int64) int {
	if m <= 0 {
		return 0
	}
	return min(max(bits.Len64(uint64(m))-10, 0), memClasses-1)
}

var emptyNode = func() tnode {
	n := tnode{
		invM: math.Inf(1), invC: math.Inf(1),
		maxM: math.MinInt64, maxC: math.MinInt64, minM: math.MaxInt64, minC: math.MaxInt64,
		minRank: math.MaxInt32,
	}
	for k := range n.baseC {
		n.baseC[k] = math.Inf(-1)
	}
	for j := range n.baseM {
		n.baseM[j] = math.Inf(-1)
	}
	return n
}()

// buildTree builds the tree of all sound, healthy hosts and finds each group's ranges in it.
func (p *planner) buildTree() {
	var order []int32
	for r := range p.hosts {
		if p.hosts[r].eligible {
			order = append(order, int32(r))
		}
	}
	slices.SortFunc(order, func(a, b int32) int {
		ha, hb := &p.hosts[a], &p.hosts[b]
		return cmp.Or(cmp.Compare(hb.capM, ha.capM), cmp.Compare(hb.capC, ha.capC), cmp.Compare(ha.gid, hb.gid),
			cmp.Compare(hb.rolePart, ha.rolePart), cmp.Compare(a, b))
	})
	pos := make([]int32, len(p.hosts))
	for i := range pos {
		pos[i] = -1
	}
	p.tree = newHostTree(p, order, pos)
	p.groupRanges = make([][][2]int, len(p.groupIDs))
	for lo := 0; lo < len(order); {
		h := &p.hosts[order[lo]]
		hi := lo + 1
		for hi < len(order) {
			o := &p.hosts[order[hi]]
			if o.gid != h.gid || o.capM != h.capM || o.capC != h.capC {
				break
			}
			hi++
		}
		if h.gid >= 0 {
			p.groupRanges[h.gid] = append(p.groupRanges[h.gid], [2]int{lo, hi})
		}
		lo = hi
	}
}

func newHostTree(p *planner, ranks, pos []int32) hostTree {
	n := len(ranks)
	size := 1
	for size*blockSize < n {
		size *= 2
	}
	t := hostTree{
		size: size, nodes: make([]tnode, 2*size), pos: pos, hot: make([]slot, n),
		cold: make([]hostStatic, n), uniform: make([]bool, size),
	}
	for i, r := range ranks {
		h := &p.hosts[r]
		t.pos[r] = int32(i)
		t.hot[i].rank, t.hot[i].gid = r, h.gid
		t.cold[i] = hostStatic{capM: h.capM, capC: h.capC, invM: 1 / float64(h.capM), invC: 1 / float64(h.capC), role: h.rolePart}
		t.setHost(p, i)
	}
	for b := range size {
		// The static part of a block: capacities, ranks, count.
		n := &t.nodes[size+b]
		*n = emptyNode
		t.uniform[b] = true
		for i := b * blockSize; i < min((b+1)*blockSize, len(t.hot)); i++ {
			n.invM, n.invC = min(n.invM, t.cold[i].invM), min(n.invC, t.cold[i].invC)
			n.minRank, n.count = min(n.minRank, t.hot[i].rank), n.count+1
			t.uniform[b] = t.uniform[b] && t.cold[i].capM == t.cold[b*blockSize].capM && t.cold[i].capC == t.cold[b*blockSize].capC
		}
		t.setBlock(b)
	}
	for i := size - 1; i >= 1; i-- {
		t.pull(i)
	}
	return t
}

// setHost copies host i's free capacity from the planner and recomputes its base.
func (t *hostTree) setHost(p *planner, i int) {
	h := &t.hot[i]
	h.freeM, h.freeC = p.freeM[h.rank], p.freeC[h.rank]
	st := &t.cold[i]
	h.base = WeightMemoryFree*(float64(h.freeM)/float64(st.capM)) + WeightCPUFree*(float64(h.freeC)/float64(st.capC)) + WeightRole*st.role
}

// setBlock recomputes the free capacity part of block b's summary.
func (t *hostTree) setBlock(b int) {
	n := &t.nodes[t.size+b]
	maxM, maxC, minM, minC := int64(math.MinInt64), int64(math.MinInt64), int64(math.MaxInt64), int64(math.MaxInt64)
	// Best base by the exact class of each host's free capacity; a class's bound is then the
	// best of its own and every higher class.
	var bc [cpuClasses]float64
	var bm [memClasses]float64
	for k := range bc {
		bc[k] = math.Inf(-1)
	}
	for j := range bm {
		bm[j] = math.Inf(-1)
	}
	for i := b * blockSize; i < min((b+1)*blockSize, len(t.hot)); i++ {
		h := &t.hot[i]
		fm, fc, base := h.freeM, h.freeC, h.base
		maxM, maxC, minM, minC = max(maxM, fm), max(maxC, fc), min(minM, fm), min(minC, fc)
		k, j := cpuClass(fc), memClass(fm)
		bc[k], bm[j] = max(bc[k], base), max(bm[j], base)
	}
	for k := cpuClasses - 2; k >= 0; k-- {
		bc[k] = max(bc[k], bc[k+1])
	}
	for j := memClasses - 2; j >= 0; j-- {
		bm[j] = max(bm[j], bm[j+1])
	}
	n.maxM, n.maxC, n.minM, n.minC, n.baseC, n.baseM = maxM, maxC, minM, minC, bc, bm
}

func (t *hostTree) pull(i int) {
	a, b, n := &t.nodes[2*i], &t.nodes[2*i+1], &t.nodes[i]
	n.invM, n.invC = min(a.invM, b.invM), min(a.invC, b.invC)
	n.maxM, n.maxC, n.minM, n.minC = max(a.maxM, b.maxM), max(a.maxC, b.maxC), min(a.minM, b.minM), min(a.minC, b.minC)
	n.minRank, n.count = min(a.minRank, b.minRank), a.count+b.count
	for k := range n.baseC {
		n.baseC[k] = max(a.baseC[k], b.baseC[k])
	}
	for j := range n.baseM {
		n.baseM[j] = max(a.baseM[j], b.baseM[j])
	}
}

// update refreshes host r after its free capacity changed.
func (t *hostTree) update(p *planner, r int32) {
	i := t.pos[r]
	if i < 0 {
		return
	}
	t.setHost(p, int(i))
	b := int(i) / blockSize
	old := t.nodes[t.size+b]
	t.setBlock(b)
	if t.nodes[t.size+b] == old {
		return
	}
	// Stop where a subtree's summary does not change: its ancestors' do not either.
	for j := (t.size + b) / 2; j >= 1; j /= 2 {
		old = t.nodes[j]
		t.pull(j)
		if t.nodes[j] == old {
			return
		}
	}
}

// lacking counts the hosts below node i that lack memory for m MiB, and those that have the
// memory but lack vCPUs for c.
func (t *hostTree) lacking(i int, m, c int64) (mem, cpu int) {
	nd := &t.nodes[i]
	switch {
	case nd.count == 0:
		return 0, 0
	case nd.maxM < m:
		return int(nd.count), 0
	case nd.minM >= m && nd.maxC < c:
		return 0, int(nd.count)
	case nd.minM >= m && nd.minC >= c:
		return 0, 0
	case i >= t.size:
		b := i - t.size
		for j := b * blockSize; j < min((b+1)*blockSize, len(t.hot)); j++ {
			switch {
			case t.hot[j].freeM < m:
				mem++
			case t.hot[j].freeC < c:
				cpu++
			}
		}
		return mem, cpu
	}
	m1, c1 := t.lacking(2*i, m, c)
	m2, c2 := t.lacking(2*i+1, m, c)
	return m1 + m2, c1 + c2
}
