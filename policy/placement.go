package policy

import (
	"cmp"
	"math"
	"math/bits"
	"slices"
	"strconv"
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

// planner is the state of one Place or PlanPlacements call.
type planner struct {
	cfgPreferStandby bool
	memFactor        float64
	cpuFactor        float64
	hosts            []hostInfo // sorted by name: a host's index here is its rank
	names            []string   // host names by rank, dense for the hot path
	freeM, freeC     []int64    // capacity left, by rank
	byName           map[string]int32
	groupIDs         map[string]int32
	rules            ruleSet
	// batchRules are the rules of each VM of the batch, by input index (nil without rules).
	batchRules [][]int32
	// invalid and unhealthy count the hosts that can take no VM at all.
	invalid, unhealthy int
	// tree holds every sound, healthy host (PlanPlacements only); groupRanges are the
	// positions of each group's hosts in it: one range per host capacity.
	tree        hostTree
	groupRanges [][][2]int
}

type hostInfo struct {
	name     string
	state    HostState
	group    string
	gid      int32
	rolePart float64
	capM     int64 // capacity after overcommit
	capC     int64
	usedM    int64
	usedC    int64
	invalid  string // why the host can take nothing, "" when it is sound
	eligible bool   // sound and healthy
}

// maxSize bounds every size, in MiB or vCPUs, after overcommit: far beyond any machine, far
// below where int64 arithmetic could overflow.
const maxSize = 1 << 50

// badSize reports a VM size placement cannot take: negative or absurdly large.
func badSize(n int) bool { return n < 0 || n > maxSize }

func factor(f float64) float64 {
	if !(f > 0) || math.IsInf(f, 1) {
		return 1
	}
	return f
}

func newPlanner(cfg PlacementConfig, hosts []HostCapacity, batch []VMRequest) *planner {
	p := &planner{
		cfgPreferStandby: cfg.PreferStandby,
		memFactor:        factor(cfg.MemoryOvercommit),
		cpuFactor:        factor(cfg.CPUOvercommit),
		hosts:            make([]hostInfo, len(hosts)),
		names:            make([]string, len(hosts)),
		freeM:            make([]int64, len(hosts)),
		freeC:            make([]int64, len(hosts)),
		byName:           make(map[string]int32, len(hosts)),
		groupIDs:         map[string]int32{},
		rules:            newRuleSet(cfg.Rules),
	}
	idx := make([]int, len(hosts))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(hosts[a].Name, hosts[b].Name) })
	var groupNames []string
	for r, i := range idx {
		h := &hosts[i]
		hi := &p.hosts[r]
		hi.name, hi.state, hi.group = h.Name, h.State, h.Group
		p.names[r] = h.Name
		hi.capM = int64(math.Floor(float64(h.MemoryMiB) * p.memFactor))
		hi.capC = int64(math.Floor(float64(h.VCPUs) * p.cpuFactor))
		hi.usedM, hi.usedC = int64(h.UsedMemoryMiB), int64(h.UsedVCPUs)
		if (h.Role == roleStandby) == cfg.PreferStandby && (h.Role == roleStandby || h.Role == roleActive) {
			hi.rolePart = 1
		}
		switch {
		case h.Name == "":
			hi.invalid = "a host without a name takes no placements"
		case r > 0 && hosts[idx[r-1]].Name == h.Name || r+1 < len(idx) && hosts[idx[r+1]].Name == h.Name:
			hi.invalid = "host name " + h.Name + " is listed more than once: no placements"
		case h.MemoryMiB <= 0 || h.VCPUs <= 0 || h.UsedMemoryMiB < 0 || h.UsedVCPUs < 0:
			hi.invalid = h.Name + " has invalid sizes (" + itoa(h.MemoryMiB) + " MiB memory, " + itoa(h.VCPUs) +
				" vCPUs, " + itoa(h.UsedMemoryMiB) + " MiB and " + itoa(h.UsedVCPUs) + " vCPUs used): no placements"
		case !(float64(h.MemoryMiB)*p.memFactor <= maxSize && float64(h.VCPUs)*p.cpuFactor <= maxSize) || h.UsedMemoryMiB > maxSize || h.UsedVCPUs > maxSize:
			hi.invalid = h.Name + " has impossible sizes (" + itoa(h.MemoryMiB) + " MiB memory, " + itoa(h.VCPUs) +
				" vCPUs, overcommit " + ftoa(p.memFactor) + " and " + ftoa(p.cpuFactor) + "): no placements"
		case hi.capM <= 0 || hi.capC <= 0:
			hi.invalid = h.Name + " has no capacity left after overcommit: no placements"
		}
		hi.eligible = hi.invalid == "" && h.State == Healthy
		switch {
		case hi.invalid != "":
			p.invalid++
		case !hi.eligible:
			p.unhealthy++
		}
		p.freeM[r], p.freeC[r] = hi.capM-hi.usedM, hi.capC-hi.usedC
		if _, dup := p.byName[h.Name]; !dup {
			p.byName[h.Name] = int32(r)
		}
		if _, ok := p.groupIDs[h.Group]; !ok && h.Group != "" {
			p.groupIDs[h.Group] = 0
			groupNames = append(groupNames, h.Group)
		}
	}
	slices.Sort(groupNames)
	for i, g := range groupNames {
		p.groupIDs[g] = int32(i)
	}
	for r := range p.hosts {
		p.hosts[r].gid = -1
		if g, ok := p.groupIDs[p.hosts[r].group]; ok {
			p.hosts[r].gid = g
		}
	}
	if len(p.rules.list) > 0 {
		// Members being placed have left their old hosts as far as rules go.
		moving := map[string]struct{}{}
		p.batchRules = make([][]int32, len(batch))
		for i := range batch {
			if rules, ok := p.rules.of[batch[i].Name]; ok {
				moving[batch[i].Name] = struct{}{}
				p.batchRules[i] = rules
			}
		}
		for r, i := range idx {
			for _, vm := range hosts[i].VMs {
				if _, ok := p.rules.of[vm]; !ok {
					continue
				}
				if _, ok := moving[vm]; ok {
					continue
				}
				p.rules.locate(vm, int32(r))
			}
		}
	}
	return p
}

// vmCtx is one VM's request as the planner uses it.
type vmCtx struct {
	name       string
	group      string
	m, c       int64
	invalid    string
	cur, home  int32 // host ranks, -1 when none
	gid        int32 // the VM's group, -1 when no host is in it
	aff, anti  []int32
	req        int32 // see reqNone, reqConflict
	cpuClass   int   // request classes, see cpuClass and memClass
	memClass   int
	hasAntiCur bool // anti rules or a current host: leaves need checking
}

// context resolves a VM's request for Place.
func (p *planner) context(vm *VMRequest) vmCtx {
	return p.contextOf(&vmPlan{name: vm.Name, group: vm.Group, m: int64(vm.MemoryMiB), c: int64(vm.VCPUs),
		cur: p.rank(vm.CurrentHost), home: p.rank(vm.HomeHost), gid: p.gid(vm.Group),
		invalid: badSize(vm.MemoryMiB) || badSize(vm.VCPUs)}, p.rules.of[vm.Name])
}

// contextOf completes a resolved request; rules are the VM's rules.
func (p *planner) contextOf(vm *vmPlan, rules []int32) vmCtx {
	x := vmCtx{name: vm.name, group: vm.group, m: vm.m, c: vm.c, cur: vm.cur, home: vm.home, gid: vm.gid, req: reqNone}
	if vm.invalid {
		kind := "an impossible"
		if vm.m < 0 || vm.c < 0 {
			kind = "a negative"
		}
		x.invalid = vm.name + " asks for " + kind + " size (" + i64toa(vm.m) + " MiB, " + i64toa(vm.c) + " vCPUs)"
	}
	for _, ri := range rules {
		if p.rules.list[ri].anti {
			x.anti = append(x.anti, ri)
		} else {
			x.aff = append(x.aff, ri)
		}
	}
	x.req = p.rules.required(x.aff)
	x.hasAntiCur = len(x.anti) > 0 || x.cur >= 0
	x.cpuClass, x.memClass = cpuClass(x.c), memClass(x.m)
	return x
}

// rank is the rank of the host named name, -1 when there is none.
func (p *planner) rank(name string) int32 {
	if r, ok := p.byName[name]; ok && name != "" {
		return r
	}
	return -1
}

// gid is the id of the group named name, -1 when no host is in it.
func (p *planner) gid(name string) int32 {
	if g, ok := p.groupIDs[name]; ok && name != "" {
		return g
	}
	return -1
}

// parts is a score breakdown without its map.
type parts struct {
	mem, cpu, role, home, group float64
	micro                       int64 // Total in millionths
}

func clamp01(f float64) float64 { return min(max(f, 0), 1) }

// score is the one scoring function Place and PlanPlacements share.
func (p *planner) score(r int32, x *vmCtx) parts {
	h := &p.hosts[r]
	var home, group float64
	if r == x.home {
		home = 1
	}
	if x.gid >= 0 && h.gid == x.gid {
		group = 1
	}
	return scoreOf(p.freeM[r]-x.m, p.freeC[r]-x.c, h.capM, h.capC, h.rolePart, home, group)
}

// scoreOf scores a host that would have leftM MiB and leftC vCPUs free of its capacities capM
// and capC after placement. Place and PlanPlacements both score through it, so that they agree
// to the last bit.
func scoreOf(leftM, leftC, capM, capC int64, role, home, group float64) parts {
	s := parts{
		mem:   clamp01(float64(leftM) / float64(capM)),
		cpu:   clamp01(float64(leftC) / float64(capC)),
		role:  role,
		home:  home,
		group: group,
	}
	// Explicit conversions keep the compiler from fusing multiply-adds, so scores are the same on
	// every architecture.
	t := float64(WeightMemoryFree*s.mem) + float64(WeightCPUFree*s.cpu) + float64(WeightRole*s.role) +
		float64(WeightHome*s.home) + float64(WeightGroup*s.group)
	s.micro = int64(math.Round(t * scoreScale))
	return s
}

func (s parts) score(host string) Score {
	return Score{
		Host:     host,
		Feasible: true,
		Parts: map[string]float64{
			PartMemoryFree: s.mem,
			PartCPUFree:    s.cpu,
			PartRole:       s.role,
			PartHome:       s.home,
			PartGroup:      s.group,
		},
		Total: float64(s.micro) / scoreScale,
	}
}

// Why a host is infeasible, in the order reasons are given; a host counts under its first.
const (
	catVMInvalid = iota
	catInvalid
	catUnhealthy
	catCurrent
	catAffinity
	catAnti
	catMemory
	catCPU
	numCats
)

type failCounts [numCats]int

// evaluate scores host r for the VM, with every reason it is infeasible; cat is the first
// reason's category.
func (p *planner) evaluate(r int32, x *vmCtx) (s Score, cat int) {
	h := &p.hosts[r]
	s.Host = h.name
	cat = -1
	add := func(c int, why string) {
		if cat < 0 {
			cat = c
		}
		s.Reasons = append(s.Reasons, why)
	}
	if x.invalid != "" {
		add(catVMInvalid, x.invalid)
	}
	if h.invalid != "" {
		add(catInvalid, h.invalid)
	}
	if h.state != Healthy {
		if h.state == "" {
			add(catUnhealthy, h.name+" has no health verdict: no new placements")
		} else {
			add(catUnhealthy, h.name+" is "+string(h.state)+": no new placements")
		}
	}
	if r == x.cur {
		add(catCurrent, h.name+" is "+x.name+"'s current host")
	}
	if x.req == reqConflict || x.req >= 0 && x.req != r {
		add(catAffinity, p.rules.affinityBreach(x.aff, r, p.hostName))
	}
	if why := p.rules.antiBreach(x.anti, r, p.hostName); why != "" {
		add(catAnti, why)
	}
	if x.invalid == "" && h.invalid == "" {
		if p.freeM[r] < x.m {
			add(catMemory, p.lackMemory(r, x))
		}
		if p.freeC[r] < x.c {
			add(catCPU, p.lackCPU(r, x))
		}
		ps := p.score(r, x)
		sc := ps.score(h.name)
		s.Parts, s.Total = sc.Parts, sc.Total
	}
	s.Feasible = cat < 0
	return s, cat
}

func (p *planner) hostName(r int32) string { return p.hosts[r].name }

func (p *planner) lackMemory(r int32, x *vmCtx) string {
	h := &p.hosts[r]
	if p.freeM[r] < 0 {
		return h.name + " is over its memory capacity (" + i64toa(h.usedM) + " MiB used of " + i64toa(h.capM) +
			" MiB, overcommit " + ftoa(p.memFactor) + "), needs " + i64toa(x.m) + " MiB"
	}
	return h.name + " has " + i64toa(p.freeM[r]) + " MiB free of " + i64toa(h.capM) + " MiB (overcommit " +
		ftoa(p.memFactor) + "), needs " + i64toa(x.m) + " MiB"
}

func (p *planner) lackCPU(r int32, x *vmCtx) string {
	h := &p.hosts[r]
	if p.freeC[r] < 0 {
		return h.name + " is over its vCPU capacity (" + i64toa(h.usedC) + " vCPUs used of " + i64toa(h.capC) +
			", overcommit " + ftoa(p.cpuFactor) + "), needs " + i64toa(x.c) + " vCPUs"
	}
	return h.name + " has " + i64toa(p.freeC[r]) + " vCPUs free of " + i64toa(h.capC) + " (overcommit " +
		ftoa(p.cpuFactor) + "), needs " + i64toa(x.c) + " vCPUs"
}

// planOne places one VM of a plan, consuming capacity.
func (p *planner) planOne(vm *vmPlan) Placement {
	var rules []int32
	if vm.rules >= 0 {
		rules = p.batchRules[vm.rules]
	}
	x := p.contextOf(vm, rules)
	out := Placement{VM: vm.name}
	if x.invalid != "" {
		out.Reason = p.failReason(&x, &failCounts{})
		return out
	}
	var top [planKeep]pick
	n := 0
	switch {
	case x.req == reqConflict:
	case x.req >= 0:
		if p.fits(x.req, &x) {
			top[0], n = pick{rank: x.req, s: p.score(x.req, &x)}, 1
		}
	default:
		top, n = p.best(&x)
	}
	if n == 0 {
		out.Reason = p.failReason(&x, p.planCounts(&x))
		return out
	}
	best := top[0].rank
	out.Host = p.names[best]
	runner := int32(-1)
	if n > 1 {
		runner = top[1].rank
	}
	out.Reason = p.successReasonParts(&x, best, top[0].s, runner, top[1].s, -1)
	p.consume(best, &x)
	return out
}

// fits reports whether host r can take the VM: sound, healthy, not its current host, within
// capacity and within its rules.
func (p *planner) fits(r int32, x *vmCtx) bool {
	if !p.hosts[r].eligible || r == x.cur || p.freeM[r] < x.m || p.freeC[r] < x.c {
		return false
	}
	if x.req == reqConflict || x.req >= 0 && x.req != r {
		return false
	}
	return p.rules.antiAllowed(x.anti, r)
}

// consume records the VM on host r.
func (p *planner) consume(r int32, x *vmCtx) {
	p.freeM[r] -= x.m
	p.freeC[r] -= x.c
	p.tree.update(p, r)
	if len(x.aff) > 0 || len(x.anti) > 0 {
		p.rules.locate(x.name, r)
	}
}

// planCounts counts why every host is infeasible for the VM, exactly as Place would, without
// looking at every host: the tree counts the hosts that lack memory or vCPUs.
func (p *planner) planCounts(x *vmCtx) *failCounts {
	var c failCounts
	c[catInvalid] = p.invalid
	c[catUnhealthy] = p.unhealthy
	eligible := len(p.hosts) - p.invalid - p.unhealthy
	// special are eligible hosts counted under an earlier category than memory and vCPUs.
	classify := func(r int32) int {
		switch {
		case r == x.cur:
			return catCurrent
		case x.req == reqConflict || x.req >= 0 && x.req != r:
			return catAffinity
		case !p.rules.antiAllowed(x.anti, r):
			return catAnti
		case p.freeM[r] < x.m:
			return catMemory
		case p.freeC[r] < x.c:
			return catCPU
		}
		return -1
	}
	if x.req != reqNone {
		// Every eligible host breaks an affinity rule but the pinned one; the current host
		// counts as current first.
		c[catAffinity] = eligible
		for i, r := range [2]int32{x.cur, x.req} {
			if r >= 0 && p.hosts[r].eligible && (i == 0 || r != x.cur) {
				c[catAffinity]--
				if k := classify(r); k >= 0 {
					c[k]++
				}
			}
		}
		return &c
	}
	c[catMemory], c[catCPU] = p.tree.lacking(1, x.m, x.c)
	var special []int32
	if x.cur >= 0 && p.hosts[x.cur].eligible {
		special = append(special, x.cur)
	}
	for _, ri := range x.anti {
		for h, n := range p.rules.list[ri].at {
			if n > 0 && p.hosts[h].eligible && h != x.cur && !slices.Contains(special, h) {
				special = append(special, h)
			}
		}
	}
	for _, r := range special {
		switch {
		case p.freeM[r] < x.m:
			c[catMemory]--
		case p.freeC[r] < x.c:
			c[catCPU]--
		}
		if k := classify(r); k >= 0 {
			c[k]++
		}
	}
	return &c
}

var catWords = [numCats][2]string{
	catInvalid:   {"is invalid", "are invalid"},
	catUnhealthy: {"is not healthy", "are not healthy"},
	catCurrent:   {"is its current host", "are its current host"},
	catAffinity:  {"is ruled out by an affinity rule", "are ruled out by an affinity rule"},
	catAnti:      {"already runs an anti-affinity peer", "already run an anti-affinity peer"},
	catMemory:    {"lacks memory", "lack memory"},
	catCPU:       {"lacks vCPUs", "lack vCPUs"},
}

// failReason is the sentence for a VM no host can take: "no feasible host: 3 hosts are not
// healthy, 2 lack memory; needs 1024 MiB and 2 vCPUs".
func (p *planner) failReason(x *vmCtx, c *failCounts) string {
	if x.invalid != "" {
		return "no feasible host: " + x.invalid
	}
	if len(p.hosts) == 0 {
		return "no feasible host: no hosts to choose from"
	}
	var buf [256]byte
	b := append(buf[:0], "no feasible host: "...)
	first := true
	for k := catInvalid; k < numCats; k++ {
		n := c[k]
		if n == 0 {
			continue
		}
		if !first {
			b = append(b, ", "...)
		}
		b = strconv.AppendInt(b, int64(n), 10)
		if first {
			b = append(b, " host"...)
			if n != 1 {
				b = append(b, 's')
			}
		}
		b = append(b, ' ')
		if n == 1 {
			b = append(b, catWords[k][0]...)
		} else {
			b = append(b, catWords[k][1]...)
		}
		first = false
	}
	b = append(b, "; needs "...)
	b = strconv.AppendInt(b, x.m, 10)
	b = append(b, " MiB and "...)
	b = strconv.AppendInt(b, x.c, 10)
	b = append(b, " vCPUs"...)
	return string(b)
}

func (p *planner) successReason(x *vmCtx, best, runner int32, feasible int) string {
	var rs parts
	if runner >= 0 {
		rs = p.score(runner, x)
	}
	return p.successReasonParts(x, best, p.score(best, x), runner, rs, feasible)
}

// successReasonParts is the sentence for a chosen host: "h4: best score 0.812 among 3 feasible
// hosts, ahead of h2 (0.775) mainly on free memory (62% vs 40% after placement); standby
// preferred for restarts". feasible < 0 means the number of feasible hosts is not known.
func (p *planner) successReasonParts(x *vmCtx, best int32, bs parts, runner int32, rs parts, feasible int) string {
	var buf [256]byte
	b := append(buf[:0], p.names[best]...)
	b = append(b, ": "...)
	lead := -1
	if runner < 0 {
		b = append(b, "the only feasible host (score "...)
		b = appendScore(b, bs.micro)
		b = append(b, ')')
	} else {
		b = append(b, "best score "...)
		b = appendScore(b, bs.micro)
		if feasible > 0 {
			b = append(b, " among "...)
			b = strconv.AppendInt(b, int64(feasible), 10)
			b = append(b, " feasible hosts"...)
		}
		if bs.micro == rs.micro {
			b = append(b, ", tied with "...)
			b = append(b, p.names[runner]...)
			b = append(b, " and first by name"...)
		} else {
			b = append(b, ", ahead of "...)
			b = append(b, p.names[runner]...)
			b = append(b, " ("...)
			b = appendScore(b, rs.micro)
			b = append(b, ") mainly on "...)
			d := [5]float64{
				WeightMemoryFree * (bs.mem - rs.mem), WeightCPUFree * (bs.cpu - rs.cpu),
				WeightRole * (bs.role - rs.role), WeightHome * (bs.home - rs.home), WeightGroup * (bs.group - rs.group),
			}
			lead = 0
			for i := 1; i < len(d); i++ {
				if d[i] > d[lead] {
					lead = i
				}
			}
			switch lead {
			case 0:
				b = append(b, "free memory ("...)
				b = appendPct(b, bs.mem)
				b = append(b, " vs "...)
				b = appendPct(b, rs.mem)
				b = append(b, " after placement)"...)
			case 1:
				b = append(b, "free vCPUs ("...)
				b = appendPct(b, bs.cpu)
				b = append(b, " vs "...)
				b = appendPct(b, rs.cpu)
				b = append(b, " after placement)"...)
			case 2:
				b = append(b, "role ("...)
				b = append(b, p.roleNote()...)
				b = append(b, ')')
			case 3:
				b = append(b, "being its home host"...)
			case 4:
				b = append(b, "being in its group "...)
				b = append(b, x.group...)
			}
		}
	}
	if bs.role == 1 && lead != 2 {
		b = append(b, "; "...)
		b = append(b, p.roleNote()...)
	}
	if bs.home == 1 && lead != 3 {
		b = append(b, "; its home host"...)
	}
	if bs.group == 1 && lead != 4 {
		b = append(b, "; in its group "...)
		b = append(b, x.group...)
	}
	return string(b)
}

func (p *planner) roleNote() string {
	if p.cfgPreferStandby {
		return "standby preferred for restarts"
	}
	return "active preferred for live evacuation"
}

// appendScore appends a total in millionths with three decimals: 0.812.
func appendScore(b []byte, micro int64) []byte {
	milli := (micro + 500) / 1000
	b = strconv.AppendInt(b, milli/1000, 10)
	b = append(b, '.', byte('0'+milli/100%10), byte('0'+milli/10%10), byte('0'+milli%10))
	return b
}

func appendPct(b []byte, f float64) []byte {
	b = strconv.AppendInt(b, int64(math.Round(f*100)), 10)
	return append(b, '%')
}

func itoa(i int) string     { return strconv.Itoa(i) }
func i64toa(i int64) string { return strconv.FormatInt(i, 10) }

// ftoa formats an overcommit factor with at least one decimal: 1.0, 1.5, 1.25, 1e+300.
func ftoa(f float64) string {
	s := strconv.FormatFloat(f, 'g', -1, 64)
	for i := 0; i < len(s); i++ {
		if s[i] == '.' || s[i] == 'e' {
			return s
		}
	}
	return s + ".0"
}

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
