package policy

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// CapacityBudget bounds the placement runs of one FailoverCapacity call. Levels (numbers of
// failed hosts) whose every combination fits in what is left of it are checked exhaustively;
// beyond that, a worst-first heuristic checks a few sets per level.
const CapacityBudget = 20000

// Capacity is how many host failures the cluster absorbs with every protected VM restarted,
// in the spirit of vSphere HA's "host failures cluster tolerates".
type Capacity struct {
	// Tolerates is the largest N such that every set of N hosts that are up now can fail at once
	// and every protected VM still finds room (see FailoverCapacity for when it is exact).
	Tolerates int `json:"tolerates"`
	// Worst is a smallest set of hosts whose loss leaves some protected VM without room, found
	// by a placement run; empty when none was found.
	Worst []string `json:"worst"`
	// Exact is set when every set of up to Tolerates+1 hosts was checked. ExhaustiveUpTo is the
	// largest number of failed hosts for which every combination was checked.
	Exact          bool `json:"exact"`
	ExhaustiveUpTo int  `json:"exhaustive_up_to"`
	// Reason says in one sentence what limits the figure.
	Reason string `json:"reason"`
	// Hosts is every host's free room now (after overcommit; negative when overcommitted).
	Hosts []HostRoom `json:"hosts"`
	// Runs is how many placement runs it took.
	Runs int `json:"placement_runs"`
}

// HostRoom is one host's state and free room.
type HostRoom struct {
	Name          string    `json:"name"`
	State         HostState `json:"state"`
	MemoryFreeMiB int       `json:"memory_free_mib"`
	VCPUsFree     int       `json:"vcpus_free"`
}

// FailoverCapacity works out how many host failures the cluster can absorb with every
// protected VM restarted: the largest N such that for every set of N hosts among those up now
// (not failed, unreachable or fenced) failing at once, the protected, restartable VMs on them,
// together with those already waiting on hosts that are down, all place on the remaining
// healthy hosts with PlanPlacements, standby hosts preferred, overcommit and affinity rules as
// configured. It is about room only: the mass-failure freeze, manual recovery and approval are
// ignored (they delay restarts, they do not take room).
//
// Levels k = 1, 2, ... are checked in turn. A level is checked exhaustively (every combination
// of k hosts; combinations whose hosts hold no protected VM are skipped when nothing waits,
// they need no room) when its combinations fit in what is left of CapacityBudget placement
// runs. The first level with a failing set ends the search: Tolerates is k-1 and Worst that
// set, and when every level up to k was exhaustive the figure is exact (Exact).
//
// Beyond the budget, the search goes worst first. It orders the hosts up four ways: by
// protected memory, by protected vCPUs, by free memory (the room lost), and by memory at stake
// (free plus protected), largest first. For each order it looks for the shortest prefix (the
// first k hosts of the order) whose loss leaves a protected VM without room, by bisection
// between ExhaustiveUpTo and the shortest failing prefix found so far: a few placement runs
// per order, whatever the size of the cluster. Bisection assumes that losing more hosts of an
// order never makes room, which is true of room itself and of the greedy placement in all but
// contrived cases. What this guarantees:
//   - Worst, when not empty, is a set whose loss was shown by a placement run to leave a
//     protected VM without room: never a false alarm. Worst without its last host in its order
//     was shown to be absorbed (or is at most ExhaustiveUpTo hosts).
//   - Every set of at most ExhaustiveUpTo hosts was shown to be absorbed: the true figure is at
//     least min(ExhaustiveUpTo, Tolerates).
//   - Every set the search tried of at most Tolerates hosts was absorbed, and the failing Worst
//     has Tolerates+1 hosts: the true figure is at most Tolerates. It is lower only when some
//     set of more than ExhaustiveUpTo hosts, not a prefix of the four orders, fails; Exact is
//     false whenever that could be.
func FailoverCapacity(s Snapshot) (out Capacity) {
	c := newCapacitySearch(s)
	out = Capacity{Hosts: c.rooms(), Worst: []string{}}
	defer func() { out.Runs = c.runs }()
	if vm, ok := c.check(nil); !ok {
		out.Exact = true
		out.Reason = fmt.Sprintf("no room even now: %s", vm)
		return out
	}
	n := len(c.up)
	k := 1
	for ; k <= n; k++ {
		need := c.combinations(k)
		if need > CapacityBudget-c.runs {
			break
		}
		if set, why, failed := c.exhaustive(k); failed {
			out.Tolerates, out.Worst, out.Exact, out.ExhaustiveUpTo = k-1, set, true, k-1
			out.Reason = fmt.Sprintf("losing %s at once leaves %s", strings.Join(set, ", "), why)
			return out
		}
		out.ExhaustiveUpTo = k
	}
	if k > n {
		out.Tolerates, out.Exact = n, true
		out.Reason = fmt.Sprintf("every protected VM finds room whichever of the %d hosts up fail", n)
		return out
	}
	// Worst first: the shortest failing prefix of each order, by bisection.
	lo := out.ExhaustiveUpTo // prefixes this long or shorter are absorbed
	best, bestOrder, bestWhy := n+1, -1, ""
	for o, order := range c.worstOrders() {
		hi := best - 1 // only a shorter failing prefix matters
		if hi <= lo {
			break
		}
		why, ok := c.check(order[:hi])
		if ok {
			continue
		}
		l := lo
		for hi-l > 1 {
			mid := l + (hi-l)/2
			w, ok := c.check(order[:mid])
			if ok {
				l = mid
			} else {
				hi, why = mid, w
			}
		}
		best, bestOrder, bestWhy = hi, o, why
	}
	if bestOrder < 0 {
		out.Tolerates = n
		out.Reason = fmt.Sprintf("every set of up to %d hosts is absorbed, and so are all %d hosts up in every worst-first order", out.ExhaustiveUpTo, n)
		return out
	}
	out.Tolerates, out.Worst = best-1, c.names(c.orders[bestOrder][:best])
	out.Exact = out.Tolerates == out.ExhaustiveUpTo // every smaller set was checked
	out.Reason = fmt.Sprintf("losing %s at once leaves %s (every set of up to %d hosts was checked, larger ones worst first)",
		strings.Join(out.Worst, ", "), bestWhy, out.ExhaustiveUpTo)
	return out
}

// capacitySearch is one FailoverCapacity computation.
type capacitySearch struct {
	cfg  PlacementConfig
	caps []HostCapacity
	// up are the indexes in caps of the hosts up now: those holding protected VMs first, most
	// protected memory first.
	up []int
	// on are the protected VMs on each host (by index in caps); waiting those on hosts down.
	on      [][]VMRequest
	waiting []VMRequest
	// pm, pv are each host's protected memory and vCPUs; fm, fv its free memory and vCPUs.
	pm, pv, fm, fv []int64
	// loaded is how many of up hold a protected VM (they come first in up).
	loaded int
	// orders are the worst-first orders of up (see worstFirst), made on first use.
	orders [][]int
	runs   int
	// scratch is the hosts of a run.
	scratch []HostCapacity
}

func newCapacitySearch(s Snapshot) *capacitySearch {
	c := &capacitySearch{cfg: restartPlacement(s), caps: s.Capacities()}
	n := len(c.caps)
	c.on = make([][]VMRequest, n)
	c.pm, c.pv, c.fm, c.fv = make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
	idx := make(map[string]int, n)
	for i, h := range c.caps {
		idx[h.Name] = i
		c.fm[i] = int64(math.Floor(float64(h.MemoryMiB)*factor(c.cfg.MemoryOvercommit))) - int64(h.UsedMemoryMiB)
		c.fv[i] = int64(math.Floor(float64(h.VCPUs)*factor(c.cfg.CPUOvercommit))) - int64(h.UsedVCPUs)
	}
	down := map[string]bool{}
	for _, h := range s.Hosts {
		if lost(h) {
			down[h.Name] = true
		}
	}
	for _, vm := range s.VMs {
		if !vm.Protected || !vm.Restartable || vm.Current == "" {
			continue
		}
		i, ok := idx[vm.Current]
		switch {
		case !ok:
		case down[vm.Current]:
			c.waiting = append(c.waiting, vmRequest(vm))
		default:
			c.on[i] = append(c.on[i], vmRequest(vm))
			c.pm[i] += int64(vm.MemoryMiB)
			c.pv[i] += int64(vm.VCPUs)
		}
	}
	for i, h := range s.Hosts { // Capacities keeps the snapshot's order
		if !down[h.Name] {
			c.up = append(c.up, i)
		}
	}
	c.up = c.sorted(c.pm, c.pv)
	slices.SortStableFunc(c.up, func(a, b int) int { return cmp.Compare(min(len(c.on[b]), 1), min(len(c.on[a]), 1)) })
	for _, i := range c.up {
		if len(c.on[i]) > 0 {
			c.loaded++
		}
	}
	c.scratch = make([]HostCapacity, n)
	return c
}

// sorted returns the hosts up ordered by k1, then k2, largest first, then by name.
func (c *capacitySearch) sorted(k1, k2 []int64) []int {
	out := slices.Clone(c.up)
	slices.SortStableFunc(out, func(a, b int) int {
		if r := cmp.Compare(k1[b], k1[a]); r != 0 {
			return r
		}
		if r := cmp.Compare(k2[b], k2[a]); r != 0 {
			return r
		}
		return cmp.Compare(c.caps[a].Name, c.caps[b].Name)
	})
	return out
}

// rooms is every host's free room now.
func (c *capacitySearch) rooms() []HostRoom {
	out := make([]HostRoom, 0, len(c.caps))
	for i, h := range c.caps {
		out = append(out, HostRoom{Name: h.Name, State: h.State, MemoryFreeMiB: int(c.fm[i]), VCPUsFree: int(c.fv[i])})
	}
	slices.SortFunc(out, func(a, b HostRoom) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// check runs placement with the hosts failed and reports whether every protected VM that needs
// room (theirs and those waiting) finds it; if not, it names one that does not, and why.
func (c *capacitySearch) check(failed []int) (string, bool) {
	reqs := slices.Clone(c.waiting)
	for _, i := range failed {
		reqs = append(reqs, c.on[i]...)
	}
	if len(reqs) == 0 {
		return "", true
	}
	c.runs++
	copy(c.scratch, c.caps)
	for _, i := range failed {
		c.scratch[i].State = Failed
	}
	for _, p := range PlanPlacements(c.cfg, c.scratch, reqs) {
		if p.Host == "" {
			return fmt.Sprintf("%s without room (%s)", p.VM, p.Reason), false
		}
	}
	return "", true
}

// combinations is how many placement runs level k takes exhaustively, saturating at
// CapacityBudget+1: every set of k hosts up, or, when no VM waits, only the sets that hold a
// protected VM (the others need no room).
func (c *capacitySearch) combinations(k int) int {
	n := len(c.up)
	if len(c.waiting) > 0 {
		return binomial(n, k)
	}
	total := 0
	for j := 1; j <= k; j++ {
		total = min(total+satMul(binomial(c.loaded, j), binomial(n-c.loaded, k-j)), CapacityBudget+1)
	}
	return total
}

// satMul is a*b for a, b in [0, CapacityBudget+1], saturating at CapacityBudget+1.
func satMul(a, b int) int {
	if a == 0 || b == 0 {
		return 0
	}
	if a > CapacityBudget/b {
		return CapacityBudget + 1
	}
	return min(a*b, CapacityBudget+1)
}

// binomial is C(n, k), saturating at CapacityBudget+1.
func binomial(n, k int) int {
	if k < 0 || k > n {
		return 0
	}
	k = min(k, n-k)
	r := 1
	for i := 1; i <= k; i++ {
		r = r * (n - k + i) / i
		if r > CapacityBudget {
			return CapacityBudget + 1
		}
	}
	return r
}

// exhaustive checks every set of k hosts up, in lexicographic order of the worst-first order,
// and returns the first that fails.
func (c *capacitySearch) exhaustive(k int) ([]string, string, bool) {
	n := len(c.up)
	pos := make([]int, k)
	for i := range pos {
		pos[i] = i
	}
	set := make([]int, k)
	for {
		// Hosts holding protected VMs come first in up: once the first member of a set holds
		// none, no later set holds any, and without VMs waiting they all need no room.
		if len(c.waiting) == 0 && pos[0] >= c.loaded {
			return nil, "", false
		}
		for i, p := range pos {
			set[i] = c.up[p]
		}
		if why, ok := c.check(set); !ok {
			return c.names(set), why, true
		}
		i := k - 1
		for i >= 0 && pos[i] == n-k+i {
			i--
		}
		if i < 0 {
			return nil, "", false
		}
		pos[i]++
		for j := i + 1; j < k; j++ {
			pos[j] = pos[j-1] + 1
		}
	}
}

// worstOrders are the hosts up in the four worst-first orders (see FailoverCapacity): by
// protected memory, protected vCPUs, free memory, and free plus protected memory.
func (c *capacitySearch) worstOrders() [][]int {
	if c.orders == nil {
		sm, sv := make([]int64, len(c.caps)), make([]int64, len(c.caps))
		for i := range c.caps {
			sm[i], sv[i] = c.fm[i]+c.pm[i], c.fv[i]+c.pv[i]
		}
		c.orders = [][]int{c.sorted(c.pm, c.pv), c.sorted(c.pv, c.pm), c.sorted(c.fm, c.fv), c.sorted(sm, sv)}
	}
	return c.orders
}

// names are the hosts' names, sorted.
func (c *capacitySearch) names(set []int) []string {
	out := make([]string, 0, len(set))
	for _, i := range set {
		out = append(out, c.caps[i].Name)
	}
	slices.Sort(out)
	return out
}
