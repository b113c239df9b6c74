package policy

import (
	"slices"
	"strconv"
)

// AffinityRule names VMs that must share a host (Anti false) or must never share one (Anti true).
// Both kinds are hard rules: placement never breaks one, it leaves the VM unplaced instead.
//
// A member "runs on" a host when the host lists it in HostCapacity.VMs, or when the same Plan
// call has already placed it there. The VMs being placed are the exception: a VM being placed
// has left its old host as far as rules go, so in PlanPlacements the members being restarted or
// evacuated together follow each other to their new hosts, not to the host they leave.
type AffinityRule struct {
	// Name identifies the rule in reasons ("anti-affinity rule web-spread: web2 already runs on
	// h1"); an unnamed rule is called by its position, "#1" for the first.
	Name string
	// VMs are the rule's members, by name. Duplicates and empty names are ignored; a rule with
	// fewer than two distinct members constrains nothing.
	VMs []string
	// Anti makes the rule anti-affinity: no two members on one host. Otherwise the members must
	// all run on one host: once any member runs somewhere, that host is the only one the others
	// may go to.
	Anti bool
}

// ruleState is one effective rule and where its members run, as a plan goes on.
type ruleState struct {
	label string // "affinity rule db-pair", "anti-affinity rule web-spread"
	anti  bool
	// at counts the members running on each host, by host rank.
	at map[int32]int32
	// located lists the members that run somewhere, for reasons.
	located []locatedVM
}

type locatedVM struct {
	vm   string
	host int32
}

// ruleSet indexes the rules by member.
type ruleSet struct {
	list []ruleState
	// of lists the rules each VM belongs to (indexes into list, in rule order).
	of map[string][]int32
}

func newRuleSet(in []AffinityRule) ruleSet {
	rs := ruleSet{of: map[string][]int32{}}
	for i, r := range in {
		members := make([]string, 0, len(r.VMs))
		for _, vm := range r.VMs {
			if vm != "" {
				members = append(members, vm)
			}
		}
		slices.Sort(members)
		members = slices.Compact(members)
		if len(members) < 2 {
			continue
		}
		name := r.Name
		if name == "" {
			name = "#" + strconv.Itoa(i+1)
		}
		label := "affinity rule " + name
		if r.Anti {
			label = "anti-affinity rule " + name
		}
		idx := int32(len(rs.list))
		rs.list = append(rs.list, ruleState{label: label, anti: r.Anti, at: map[int32]int32{}})
		for _, vm := range members {
			rs.of[vm] = append(rs.of[vm], idx)
		}
	}
	return rs
}

// locate records that vm runs on the host of rank host.
func (rs *ruleSet) locate(vm string, host int32) {
	for _, ri := range rs.of[vm] {
		r := &rs.list[ri]
		r.at[host]++
		r.located = append(r.located, locatedVM{vm: vm, host: host})
	}
}

// Host ranks with a special meaning for vmCtx.req.
const (
	reqNone     int32 = -1 // no affinity rule pins the VM
	reqConflict int32 = -2 // affinity peers run on different hosts: nowhere satisfies every rule
)

// required is the host the VM's affinity rules pin it to: reqNone, reqConflict or a host rank.
func (rs *ruleSet) required(aff []int32) int32 {
	req := reqNone
	for _, ri := range aff {
		for h, n := range rs.list[ri].at {
			if n == 0 {
				continue
			}
			if req == reqNone {
				req = h
			} else if req != h {
				return reqConflict
			}
		}
	}
	return req
}

// antiAllowed reports whether no anti-affinity peer of the VM runs on host h.
func (rs *ruleSet) antiAllowed(anti []int32, h int32) bool {
	for _, ri := range anti {
		if rs.list[ri].at[h] > 0 {
			return false
		}
	}
	return true
}

// affinityBreach is the sentence for placing a VM with affinity rules aff on host h when some
// peer runs elsewhere, or "" when none does.
func (rs *ruleSet) affinityBreach(aff []int32, h int32, hostName func(int32) string) string {
	for _, ri := range aff {
		r := &rs.list[ri]
		var peer *locatedVM
		for i := range r.located {
			l := &r.located[i]
			if l.host != h && (peer == nil || l.vm < peer.vm || l.vm == peer.vm && l.host < peer.host) {
				peer = l
			}
		}
		if peer != nil {
			return r.label + ": " + peer.vm + " runs on " + hostName(peer.host)
		}
	}
	return ""
}

// antiBreach is the sentence for placing a VM with anti-affinity rules anti on host h when a
// peer already runs there, or "" when none does.
func (rs *ruleSet) antiBreach(anti []int32, h int32, hostName func(int32) string) string {
	for _, ri := range anti {
		r := &rs.list[ri]
		if r.at[h] == 0 {
			continue
		}
		peer := ""
		for _, l := range r.located {
			if l.host == h && (peer == "" || l.vm < peer) {
				peer = l.vm
			}
		}
		return r.label + ": " + peer + " already runs on " + hostName(h)
	}
	return ""
}
