package policy

// Placement: the sentences that say why a VM went where it did, or found no room.

import (
	"math"
	"slices"
	"strconv"
)

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
