package policy

// Placement: the planner of one Place or PlanPlacements call, its scores and what a placement takes.

import (
	"cmp"
	"math"
	"slices"
)

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
