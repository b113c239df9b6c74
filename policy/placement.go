package policy

import (
	"cmp"
	"slices"
)

// HostCapacity is one candidate host as placement sees it.
type HostCapacity struct {
	Name string
	// Role is "active" or "standby".
	Role  string
	Group string
	// State is the host's verdict. Only Healthy hosts take new VMs; Maintenance, Degraded and
	// every other state never do.
	State HostState
	// MemoryMiB and VCPUs are the host's physical memory and CPUs.
	MemoryMiB int
	VCPUs     int
	// UsedMemoryMiB and UsedVCPUs are taken by the VMs already there. PlanPlacements adds what it
	// places during one call; the caller's slice is never changed.
	UsedMemoryMiB int
	UsedVCPUs     int
	// VMs are the names of the VMs already there, for affinity rules.
	VMs []string
}

// VMRequest is one VM to place.
type VMRequest struct {
	Name      string
	MemoryMiB int
	VCPUs     int
	// Priority orders PlanPlacements: higher first.
	Priority int
	// CurrentHost is where the VM runs (or ran) now; it is never a target.
	CurrentHost string
	// HomeHost earns a small bonus: VMs drift back home.
	HomeHost string
	// Group, when set, earns a bonus on hosts of that group.
	Group string
}

// PlacementConfig tunes placement.
type PlacementConfig struct {
	// MemoryOvercommit and CPUOvercommit scale physical capacity: a host can hold
	// MemoryMiB*MemoryOvercommit of VM memory and VCPUs*CPUOvercommit vCPUs. 1.0 is no overcommit;
	// zero, negative, NaN or infinite factors count as 1.0.
	MemoryOvercommit float64
	CPUOvercommit    float64
	// PreferStandby makes standby hosts score the role bonus (restarts after a failure); without
	// it active hosts do (live evacuation keeps standby hosts free for restarts).
	PreferStandby bool
	// Rules are hard affinity and anti-affinity rules.
	Rules []AffinityRule
}

// Score is one candidate host's score breakdown, kept for `lifeboat explain vm NAME --to-host`.
type Score struct {
	Host string
	// Feasible is false when the host cannot take the VM; Reasons then says why, one sentence per
	// limit. Reasons is empty for a feasible host.
	Feasible bool
	Reasons  []string
	// Parts are the score parts, each in [0,1], keyed by the Part* names; Total is their sum
	// weighted by PlacementWeights, rounded to 1e-6 so that equal scores are exactly equal. Parts
	// is nil when the host's or the VM's sizes are invalid.
	Parts map[string]float64
	Total float64
}

// Placement is where one VM goes, and why.
type Placement struct {
	VM string
	// Host is the chosen host, "" when no host is feasible.
	Host string
	// Reason is a sentence for people.
	Reason string
	// Candidates are the scored hosts, best first: feasible ones by Total (ties by host name),
	// then infeasible ones. Only Place fills it; PlanPlacements leaves it nil to stay fast and
	// small (its Reason still gives the chosen host's score and how it beat the runner-up).
	Candidates []Score
}

// Score part names, the keys of Score.Parts.
const (
	// PartMemoryFree is the share of the host's memory capacity (after overcommit) still free
	// once the VM is placed.
	PartMemoryFree = "memory_free"
	// PartCPUFree is the same for vCPUs.
	PartCPUFree = "cpu_free"
	// PartRole is 1 when the host has the preferred role: standby when PreferStandby, else active.
	PartRole = "role"
	// PartHome is 1 on the VM's home host.
	PartHome = "home"
	// PartGroup is 1 when the host is in the VM's group.
	PartGroup = "group"
)

// Score weights. The weights sum to 1, so a Total is in [0,1]:
//
//	memory_free 0.50  balance memory, the resource that cannot be overcommitted safely
//	cpu_free    0.25  balance vCPUs
//	role        0.15  the preferred role is worth a 30-point lead in free memory
//	home        0.05  a small bonus for going home
//	group       0.05  a small bonus for staying in the VM's group
const (
	WeightMemoryFree = 0.50
	WeightCPUFree    = 0.25
	WeightRole       = 0.15
	WeightHome       = 0.05
	WeightGroup      = 0.05
)

// PlacementWeights returns each score part's weight, keyed like Score.Parts.
func PlacementWeights() map[string]float64 {
	return map[string]float64{
		PartMemoryFree: WeightMemoryFree,
		PartCPUFree:    WeightCPUFree,
		PartRole:       WeightRole,
		PartHome:       WeightHome,
		PartGroup:      WeightGroup,
	}
}

const (
	roleActive  = "active"
	roleStandby = "standby"
	// scoreScale: totals are kept as integer millionths, so ties are exact.
	scoreScale = 1e6
	// planKeep is how many of the best feasible hosts PlanPlacements finds per VM: the chosen one
	// and the runner-up its reason compares it with.
	planKeep = 2
)

// Place picks a host for one VM: the feasible candidate with the highest Total, ties broken by
// host name. Candidates scores every host.
func Place(cfg PlacementConfig, hosts []HostCapacity, vm VMRequest) Placement {
	p := newPlanner(cfg, hosts, []VMRequest{vm})
	x := p.context(&vm)
	out := Placement{VM: vm.Name, Candidates: make([]Score, len(p.hosts))}
	var counts failCounts
	feasible := 0
	for r := range p.hosts {
		s, cat := p.evaluate(int32(r), &x)
		out.Candidates[r] = s
		if s.Feasible {
			feasible++
		} else {
			counts[cat]++
		}
	}
	slices.SortFunc(out.Candidates, func(a, b Score) int {
		if a.Feasible != b.Feasible {
			if a.Feasible {
				return -1
			}
			return 1
		}
		if c := cmp.Compare(b.Total, a.Total); c != 0 {
			return c
		}
		return cmp.Compare(a.Host, b.Host)
	})
	if feasible == 0 {
		out.Reason = p.failReason(&x, &counts)
		return out
	}
	best := p.byName[out.Candidates[0].Host]
	runner := int32(-1)
	if feasible > 1 {
		runner = p.byName[out.Candidates[1].Host]
	}
	out.Host = p.hosts[best].name
	out.Reason = p.successReason(&x, best, runner, feasible)
	return out
}

// PlanPlacements places many VMs in priority order (higher first, ties by name, then by input
// order), each placement consuming capacity for the next, and returns one Placement per VM in
// that order. A VM whose name comes again later in that order is not placed twice.
//
// It picks exactly the host Place would pick given the capacity and rule state left by the
// placements before, and gives the same reason but for the count of feasible hosts. It finds
// only the best two candidates of each VM, with a branch-and-bound search of a tree of hosts
// that usually looks at a few dozen hosts whatever the size of the cluster (see hostTree).
func PlanPlacements(cfg PlacementConfig, hosts []HostCapacity, vms []VMRequest) []Placement {
	p := newPlanner(cfg, hosts, vms)
	p.buildTree()
	// One pass over the requests in input order resolves them; the loop below then reads them
	// in priority order from a compact copy, not from all over the caller's slice.
	reqs := make([]vmPlan, len(vms))
	byName := make([]nameKey, len(vms))
	for i := range vms {
		vm := &vms[i]
		reqs[i] = vmPlan{name: vm.Name, group: vm.Group, m: int64(vm.MemoryMiB), c: int64(vm.VCPUs),
			cur: p.rank(vm.CurrentHost), home: p.rank(vm.HomeHost), gid: p.gid(vm.Group), prio: vm.Priority, rules: -1}
		reqs[i].invalid = badSize(vm.MemoryMiB) || badSize(vm.VCPUs)
		if p.batchRules != nil && p.batchRules[i] != nil {
			reqs[i].rules = int32(i)
		}
		a, b := prefix16(vm.Name)
		byName[i] = nameKey{a, b, int32(i)}
	}
	order := priorityOrder(reqs, byName)
	seq := make([]vmPlan, len(order))
	for i, k := range order {
		seq[i] = reqs[k.idx()]
	}
	out := make([]Placement, len(seq))
	for i := range seq {
		vm := &seq[i]
		if vm.dup {
			out[i] = Placement{VM: vm.name, Reason: "not placed: " + vm.name + " is requested more than once; only its first request in priority order is placed"}
			continue
		}
		out[i] = p.planOne(vm)
	}
	return out
}
