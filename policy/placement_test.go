package policy

import (
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// host is a healthy host with the given sizes; more VMs can follow.
func host(name, role string, memMiB, vcpus, usedMiB, usedVCPUs int, vms ...string) HostCapacity {
	return HostCapacity{Name: name, Role: role, State: Healthy, MemoryMiB: memMiB, VCPUs: vcpus,
		UsedMemoryMiB: usedMiB, UsedVCPUs: usedVCPUs, VMs: vms}
}

func withState(h HostCapacity, s HostState) HostCapacity { h.State = s; return h }

func withGroup(h HostCapacity, g string) HostCapacity { h.Group = g; return h }

func candidate(t *testing.T, p Placement, hostName string) Score {
	t.Helper()
	for _, c := range p.Candidates {
		if c.Host == hostName {
			return c
		}
	}
	t.Fatalf("no candidate %s in %+v", hostName, p.Candidates)
	return Score{}
}

// Every feasibility rule makes a host infeasible with its own sentence.
func TestPlaceFeasibilityReasons(t *testing.T) {
	spare := host("h9", "standby", 65536, 64, 0, 0)
	anti := []AffinityRule{{Name: "web-spread", VMs: []string{"web1", "web2"}, Anti: true}}
	aff := []AffinityRule{{Name: "db-pair", VMs: []string{"web1", "db2"}}}
	web1 := VMRequest{Name: "web1", MemoryMiB: 1024, VCPUs: 4}
	cases := []struct {
		name string
		cfg  PlacementConfig
		h    HostCapacity
		vm   VMRequest
		want []string
	}{
		{"maintenance", PlacementConfig{}, withState(host("h2", "active", 8192, 8, 0, 0), Maintenance), web1,
			[]string{"h2 is maintenance: no new placements"}},
		{"degraded", PlacementConfig{}, withState(host("h2", "active", 8192, 8, 0, 0), Degraded), web1,
			[]string{"h2 is degraded: no new placements"}},
		{"failed", PlacementConfig{}, withState(host("h2", "active", 8192, 8, 0, 0), Failed), web1,
			[]string{"h2 is failed: no new placements"}},
		{"no verdict", PlacementConfig{}, withState(host("h2", "active", 8192, 8, 0, 0), ""), web1,
			[]string{"h2 has no health verdict: no new placements"}},
		{"current host", PlacementConfig{}, host("h1", "active", 8192, 8, 0, 0), VMRequest{Name: "web1", MemoryMiB: 1024, VCPUs: 1, CurrentHost: "h1"},
			[]string{"h1 is web1's current host"}},
		{"memory", PlacementConfig{MemoryOvercommit: 1}, host("h3", "active", 4096, 8, 3584, 0), web1,
			[]string{"h3 has 512 MiB free of 4096 MiB (overcommit 1.0), needs 1024 MiB"}},
		{"memory with overcommit", PlacementConfig{MemoryOvercommit: 1.25}, host("h3", "active", 4096, 8, 4608, 0), web1,
			[]string{"h3 has 512 MiB free of 5120 MiB (overcommit 1.25), needs 1024 MiB"}},
		{"zero overcommit is 1.0", PlacementConfig{MemoryOvercommit: 0, CPUOvercommit: -2}, host("h3", "active", 4096, 8, 3584, 0), web1,
			[]string{"h3 has 512 MiB free of 4096 MiB (overcommit 1.0), needs 1024 MiB"}},
		{"NaN overcommit is 1.0", PlacementConfig{MemoryOvercommit: math.NaN()}, host("h3", "active", 4096, 8, 3584, 0), web1,
			[]string{"h3 has 512 MiB free of 4096 MiB (overcommit 1.0), needs 1024 MiB"}},
		{"over memory capacity", PlacementConfig{}, host("h3", "active", 4096, 8, 5000, 0), web1,
			[]string{"h3 is over its memory capacity (5000 MiB used of 4096 MiB, overcommit 1.0), needs 1024 MiB"}},
		{"vCPUs", PlacementConfig{CPUOvercommit: 4}, host("h3", "active", 8192, 4, 0, 14), web1,
			[]string{"h3 has 2 vCPUs free of 16 (overcommit 4.0), needs 4 vCPUs"}},
		{"memory and vCPUs", PlacementConfig{}, host("h3", "active", 4096, 4, 3584, 2), web1,
			[]string{"h3 has 512 MiB free of 4096 MiB (overcommit 1.0), needs 1024 MiB", "h3 has 2 vCPUs free of 4 (overcommit 1.0), needs 4 vCPUs"}},
		{"anti-affinity", PlacementConfig{Rules: anti}, host("h1", "active", 8192, 8, 1024, 1, "web2"), web1,
			[]string{"anti-affinity rule web-spread: web2 already runs on h1"}},
		{"affinity", PlacementConfig{Rules: aff}, host("h1", "active", 8192, 8, 0, 0), web1,
			[]string{"affinity rule db-pair: db2 runs on h9"}},
		{"unnamed rule", PlacementConfig{Rules: []AffinityRule{{VMs: []string{"web1", "web2"}, Anti: true}}}, host("h1", "active", 8192, 8, 1024, 1, "web2"), web1,
			[]string{"anti-affinity rule #1: web2 already runs on h1"}},
		{"negative host size", PlacementConfig{}, host("h1", "active", -8192, 8, 0, 0), web1,
			[]string{"h1 has invalid sizes (-8192 MiB memory, 8 vCPUs, 0 MiB and 0 vCPUs used): no placements"}},
		{"negative use", PlacementConfig{}, host("h1", "active", 8192, 8, 0, -1), web1,
			[]string{"h1 has invalid sizes (8192 MiB memory, 8 vCPUs, 0 MiB and -1 vCPUs used): no placements"}},
		{"negative VM size", PlacementConfig{}, host("h1", "active", 8192, 8, 0, 0), VMRequest{Name: "web1", MemoryMiB: -5, VCPUs: 1},
			[]string{"web1 asks for a negative size (-5 MiB, 1 vCPUs)"}},
		{"absurd host size", PlacementConfig{}, host("h1", "active", 1<<60, 8, 0, 0), web1,
			[]string{"h1 has impossible sizes (1152921504606846976 MiB memory, 8 vCPUs, overcommit 1.0 and 1.0): no placements"}},
		{"absurd VM size", PlacementConfig{}, host("h1", "active", 8192, 8, 0, 0), VMRequest{Name: "web1", MemoryMiB: 1 << 60, VCPUs: 1},
			[]string{"web1 asks for an impossible size (1152921504606846976 MiB, 1 vCPUs)"}},
		{"no capacity after overcommit", PlacementConfig{CPUOvercommit: 0.1}, host("h1", "active", 8192, 8, 0, 0), web1,
			[]string{"h1 has no capacity left after overcommit: no placements"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hosts := []HostCapacity{c.h, spare}
			if c.name == "affinity" {
				hosts[1].VMs = []string{"db2"}
			}
			vmInvalid := strings.HasPrefix(c.name, "negative VM") || strings.HasPrefix(c.name, "absurd VM")
			if vmInvalid {
				hosts = hosts[:1]
			}
			p := Place(c.cfg, hosts, c.vm)
			s := candidate(t, p, c.h.Name)
			if s.Feasible || !slices.Equal(s.Reasons, c.want) {
				t.Fatalf("%s: feasible %v, reasons %q; want %q", c.h.Name, s.Feasible, s.Reasons, c.want)
			}
			if vmInvalid {
				if p.Host != "" || p.Reason != "no feasible host: "+c.want[0] {
					t.Fatalf("placement %q: %q", p.Host, p.Reason)
				}
				return
			}
			if p.Host != "h9" {
				t.Fatalf("placed on %q, want the spare h9 (%s)", p.Host, p.Reason)
			}
			if last := p.Candidates[len(p.Candidates)-1]; last.Host != c.h.Name {
				t.Errorf("infeasible host not sorted last: %+v", p.Candidates)
			}
		})
	}
}

func TestOvercommitFormat(t *testing.T) {
	for f, want := range map[float64]string{1: "1.0", 4: "4.0", 1.25: "1.25", 1e300: "1e+300"} {
		if got := ftoa(f); got != want {
			t.Errorf("ftoa(%v) = %q, want %q", f, got, want)
		}
	}
}

// A host name listed twice is ambiguous: neither copy takes VMs, whatever the order.
func TestPlaceDuplicateHostName(t *testing.T) {
	hosts := []HostCapacity{host("h1", "active", 8192, 8, 0, 0), host("h1", "active", 4096, 8, 0, 0),
		host("h2", "active", 2048, 8, 0, 0), host("", "active", 65536, 64, 0, 0)}
	p := Place(PlacementConfig{}, hosts, VMRequest{Name: "v", MemoryMiB: 1024, VCPUs: 1})
	if p.Host != "h2" {
		t.Fatalf("placed on %q: %s", p.Host, p.Reason)
	}
	for _, c := range p.Candidates[1:] {
		want := "host name h1 is listed more than once: no placements"
		if c.Host == "" {
			want = "a host without a name takes no placements"
		}
		if c.Feasible || c.Reasons[0] != want {
			t.Fatalf("invalid host candidate %+v", c)
		}
	}
}

func TestPlaceReasonSentences(t *testing.T) {
	cases := []struct {
		name  string
		cfg   PlacementConfig
		hosts []HostCapacity
		vm    VMRequest
		host  string
		want  string
	}{
		{"memory decides", PlacementConfig{PreferStandby: true}, []HostCapacity{
			host("h1", "standby", 8192, 16, 4096, 0), host("h2", "standby", 8192, 16, 2048, 0), host("h4", "standby", 8192, 16, 1024, 0),
			withState(host("h5", "standby", 8192, 16, 0, 0), Maintenance),
		}, VMRequest{Name: "v", MemoryMiB: 2048, VCPUs: 2}, "h4",
			"h4: best score 0.681 among 3 feasible hosts, ahead of h2 (0.619) mainly on free memory (63% vs 50% after placement); standby preferred for restarts"},
		{"role decides", PlacementConfig{PreferStandby: true}, []HostCapacity{
			host("h1", "active", 8192, 16, 0, 0), host("h2", "standby", 8192, 16, 0, 0),
		}, VMRequest{Name: "v", MemoryMiB: 2048, VCPUs: 2}, "h2",
			"h2: best score 0.744 among 2 feasible hosts, ahead of h1 (0.594) mainly on role (standby preferred for restarts)"},
		{"live evacuation prefers active", PlacementConfig{}, []HostCapacity{
			host("h1", "active", 8192, 16, 0, 0), host("h2", "standby", 8192, 16, 0, 0),
		}, VMRequest{Name: "v", MemoryMiB: 2048, VCPUs: 2}, "h1",
			"h1: best score 0.744 among 2 feasible hosts, ahead of h2 (0.594) mainly on role (active preferred for live evacuation)"},
		{"home decides", PlacementConfig{}, []HostCapacity{
			host("h1", "active", 8192, 16, 0, 0), host("h2", "active", 8192, 16, 0, 0),
		}, VMRequest{Name: "v", MemoryMiB: 2048, VCPUs: 2, HomeHost: "h2"}, "h2",
			"h2: best score 0.794 among 2 feasible hosts, ahead of h1 (0.744) mainly on being its home host; active preferred for live evacuation"},
		{"group decides", PlacementConfig{}, []HostCapacity{
			withGroup(host("h1", "active", 8192, 16, 0, 0), "rack1"), withGroup(host("h2", "active", 8192, 16, 0, 0), "rack2"),
		}, VMRequest{Name: "v", MemoryMiB: 2048, VCPUs: 2, Group: "rack2"}, "h2",
			"h2: best score 0.794 among 2 feasible hosts, ahead of h1 (0.744) mainly on being in its group rack2; active preferred for live evacuation"},
		{"tie by name", PlacementConfig{}, []HostCapacity{
			host("h2", "active", 8192, 16, 0, 0), host("h1", "active", 8192, 16, 0, 0),
		}, VMRequest{Name: "v", MemoryMiB: 2048, VCPUs: 2}, "h1",
			"h1: best score 0.744 among 2 feasible hosts, tied with h2 and first by name; active preferred for live evacuation"},
		{"only host", PlacementConfig{}, []HostCapacity{
			host("h1", "standby", 8192, 16, 0, 0), withState(host("h2", "active", 8192, 16, 0, 0), Failed),
		}, VMRequest{Name: "v", MemoryMiB: 2048, VCPUs: 2, HomeHost: "h1"}, "h1",
			"h1: the only feasible host (score 0.644); its home host"},
		{"none", PlacementConfig{}, []HostCapacity{
			withState(host("h1", "active", 8192, 16, 0, 0), Failed), withState(host("h2", "active", 8192, 16, 0, 0), Maintenance),
			withState(host("h3", "active", 8192, 16, 0, 0), Degraded), host("h4", "active", 8192, 16, 7680, 0),
			host("h5", "active", 8192, 16, 8000, 0), host("h6", "active", 8192, 2, 0, 1),
		}, VMRequest{Name: "v", MemoryMiB: 1024, VCPUs: 2}, "",
			"no feasible host: 3 hosts are not healthy, 2 lack memory, 1 lacks vCPUs; needs 1024 MiB and 2 vCPUs"},
		{"nothing to choose from", PlacementConfig{}, nil, VMRequest{Name: "v", MemoryMiB: 1024, VCPUs: 2}, "",
			"no feasible host: no hosts to choose from"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := Place(c.cfg, c.hosts, c.vm)
			if p.Host != c.host || p.Reason != c.want {
				t.Fatalf("got %q: %q\nwant %q: %q", p.Host, p.Reason, c.host, c.want)
			}
			if p.VM != c.vm.Name || len(p.Candidates) != len(c.hosts) {
				t.Fatalf("placement %+v", p)
			}
		})
	}
}

// Parts are all present, in [0,1], and Total is their weighted sum.
func TestScoreBreakdown(t *testing.T) {
	hosts := []HostCapacity{
		withGroup(host("h1", "standby", 16384, 32, 4096, 8), "rack1"),
		host("h2", "active", 8192, 16, 1024, 2),
		withState(host("h3", "active", 8192, 16, 0, 0), Maintenance),
	}
	p := Place(PlacementConfig{PreferStandby: true, CPUOvercommit: 2}, hosts, VMRequest{Name: "v", MemoryMiB: 4096, VCPUs: 8, HomeHost: "h1", Group: "rack1"})
	w := PlacementWeights()
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	if math.Abs(sum-1) > 1e-12 {
		t.Fatalf("weights sum to %v", sum)
	}
	for _, c := range p.Candidates {
		if len(c.Parts) != len(w) {
			t.Fatalf("%s parts %v", c.Host, c.Parts)
		}
		total := 0.0
		for k, v := range c.Parts {
			if v < 0 || v > 1 {
				t.Errorf("%s part %s = %v out of [0,1]", c.Host, k, v)
			}
			total += w[k] * v
		}
		if math.Abs(total-c.Total) > 1e-6 {
			t.Errorf("%s total %v, weighted sum %v", c.Host, c.Total, total)
		}
	}
	h1 := candidate(t, p, "h1")
	want := map[string]float64{PartMemoryFree: 0.5, PartCPUFree: 0.75, PartRole: 1, PartHome: 1, PartGroup: 1}
	if !reflect.DeepEqual(h1.Parts, want) || h1.Total != 0.6875 || p.Host != "h1" {
		t.Fatalf("h1 %+v, placed on %s", h1, p.Host)
	}
}

func TestStandbyPreference(t *testing.T) {
	// The active host has a little more room; the role bonus outweighs it only for restarts.
	hosts := []HostCapacity{host("a1", "active", 8192, 16, 0, 0), host("s1", "standby", 8192, 16, 1024, 2)}
	vm := VMRequest{Name: "v", MemoryMiB: 1024, VCPUs: 2}
	if p := Place(PlacementConfig{PreferStandby: true}, hosts, vm); p.Host != "s1" {
		t.Errorf("restart: placed on %s (%s), want standby s1", p.Host, p.Reason)
	}
	if p := Place(PlacementConfig{}, hosts, vm); p.Host != "a1" {
		t.Errorf("evacuation: placed on %s (%s), want active a1", p.Host, p.Reason)
	}
	// Roles other than active and standby never earn the bonus.
	odd := []HostCapacity{host("x1", "spare", 8192, 16, 0, 0)}
	if p := Place(PlacementConfig{PreferStandby: true}, odd, vm); p.Candidates[0].Parts[PartRole] != 0 {
		t.Errorf("role part for an unknown role: %v", p.Candidates[0].Parts)
	}
}

func TestHomeBonus(t *testing.T) {
	vm := VMRequest{Name: "v", MemoryMiB: 1024, VCPUs: 2, HomeHost: "h2"}
	// Equal hosts: home wins even though h1 comes first by name.
	eq := []HostCapacity{host("h1", "active", 8192, 16, 0, 0), host("h2", "active", 8192, 16, 0, 0)}
	if p := Place(PlacementConfig{}, eq, vm); p.Host != "h2" || candidate(t, p, "h2").Parts[PartHome] != 1 {
		t.Fatalf("placed on %s (%s), want home h2", p.Host, p.Reason)
	}
	// The bonus is small: much more free memory elsewhere wins.
	busy := []HostCapacity{host("h1", "active", 8192, 16, 0, 0), host("h2", "active", 8192, 16, 4096, 0)}
	if p := Place(PlacementConfig{}, busy, vm); p.Host != "h1" {
		t.Fatalf("placed on %s (%s), want h1 with far more memory", p.Host, p.Reason)
	}
}

func TestGroupBonus(t *testing.T) {
	hosts := []HostCapacity{withGroup(host("h1", "active", 8192, 16, 0, 0), "r1"), withGroup(host("h2", "active", 8192, 16, 256, 0), "r2")}
	if p := Place(PlacementConfig{}, hosts, VMRequest{Name: "v", MemoryMiB: 1024, VCPUs: 2, Group: "r2"}); p.Host != "h2" {
		t.Fatalf("placed on %s (%s), want h2 in the VM's group", p.Host, p.Reason)
	}
	if p := Place(PlacementConfig{}, hosts, VMRequest{Name: "v", MemoryMiB: 1024, VCPUs: 2, Group: "r9"}); p.Host != "h1" {
		t.Fatalf("unknown group: placed on %s (%s)", p.Host, p.Reason)
	}
}

func TestPlanPriorityOrder(t *testing.T) {
	hosts := []HostCapacity{host("h1", "standby", 4096, 8, 0, 0)}
	vms := []VMRequest{
		{Name: "low", MemoryMiB: 3072, VCPUs: 1, Priority: 1},
		{Name: "b", MemoryMiB: 1024, VCPUs: 1, Priority: 5},
		{Name: "a", MemoryMiB: 3072, VCPUs: 1, Priority: 5},
		{Name: "high", MemoryMiB: 1024, VCPUs: 1, Priority: 9},
	}
	got := PlanPlacements(PlacementConfig{}, hosts, vms)
	var order, placed []string
	for _, p := range got {
		order = append(order, p.VM)
		if p.Host != "" {
			placed = append(placed, p.VM)
		}
	}
	if !slices.Equal(order, []string{"high", "a", "b", "low"}) || !slices.Equal(placed, []string{"high", "a"}) {
		t.Fatalf("order %v, placed %v", order, placed)
	}
	if r := got[2].Reason; r != "no feasible host: 1 host lacks memory; needs 1024 MiB and 1 vCPUs" {
		t.Fatalf("reason %q", r)
	}
}

func TestPlanConsumesCapacity(t *testing.T) {
	hosts := []HostCapacity{host("h1", "active", 4096, 4, 0, 0), host("h2", "active", 4096, 4, 0, 0)}
	var vms []VMRequest
	for i := range 5 {
		vms = append(vms, VMRequest{Name: fmt.Sprintf("v%d", i), MemoryMiB: 2048, VCPUs: 1})
	}
	got := PlanPlacements(PlacementConfig{}, hosts, vms)
	hostsOf := map[string]int{}
	for _, p := range got[:4] {
		hostsOf[p.Host]++
	}
	if hostsOf["h1"] != 2 || hostsOf["h2"] != 2 || got[4].Host != "" {
		t.Fatalf("placements %+v", got)
	}
	// Load is spread: the second VM goes to the emptier host.
	if got[0].Host == got[1].Host {
		t.Fatalf("first two VMs on one host: %+v", got[:2])
	}
	if hosts[0].UsedMemoryMiB != 0 {
		t.Fatal("PlanPlacements changed its input")
	}
	// Overcommit 2.0 doubles the room.
	got = PlanPlacements(PlacementConfig{MemoryOvercommit: 2}, hosts, vms)
	for _, p := range got {
		if p.Host == "" {
			t.Fatalf("overcommit 2: %s not placed: %s", p.VM, p.Reason)
		}
	}
}

func TestPlanAffinity(t *testing.T) {
	hosts := []HostCapacity{
		withState(host("h0", "active", 16384, 16, 4096, 4, "db1", "db2", "web1", "web2"), Fenced),
		host("h1", "standby", 16384, 16, 0, 0), host("h2", "standby", 16384, 16, 0, 0), host("h3", "standby", 16384, 16, 0, 0),
	}
	cfg := PlacementConfig{PreferStandby: true, Rules: []AffinityRule{
		{Name: "db-pair", VMs: []string{"db1", "db2"}},
		{Name: "web-spread", VMs: []string{"web1", "web2", "web3"}, Anti: true},
	}}
	hosts[1].VMs = []string{"web3"}
	var vms []VMRequest
	for _, n := range []string{"db1", "db2", "web1", "web2"} {
		vms = append(vms, VMRequest{Name: n, MemoryMiB: 1024, VCPUs: 1, CurrentHost: "h0"})
	}
	// The members leave fenced h0 together: db2 follows db1 wherever it goes; the web VMs
	// avoid each other and web3 on h1.
	got := PlanPlacements(cfg, hosts, vms)
	at := map[string]string{}
	for _, p := range got {
		if p.Host == "" {
			t.Fatalf("%s not placed: %s", p.VM, p.Reason)
		}
		at[p.VM] = p.Host
	}
	if at["db1"] != at["db2"] {
		t.Errorf("affinity broken: %v", at)
	}
	if at["web1"] == at["web2"] || at["web1"] == "h1" || at["web2"] == "h1" {
		t.Errorf("anti-affinity broken: %v", at)
	}
	// With web1 and web2 already on h2 and h3, and web3 on h1, a fourth member has nowhere to go.
	cfg.Rules[1].VMs = append(cfg.Rules[1].VMs, "web4")
	hosts[0].VMs = nil
	hosts[2].VMs, hosts[3].VMs = []string{"web1"}, []string{"web2"}
	p := Place(cfg, hosts, VMRequest{Name: "web4", MemoryMiB: 1024, VCPUs: 1})
	if p.Host != "" || p.Reason != "no feasible host: 1 host is not healthy, 3 already run an anti-affinity peer; needs 1024 MiB and 1 vCPUs" {
		t.Fatalf("web4: %q %q", p.Host, p.Reason)
	}
	// Affinity peers on two hosts already: no host satisfies the rule.
	hosts[2].VMs, hosts[3].VMs = []string{"db1"}, []string{"db2"}
	cfg.Rules[0].VMs = append(cfg.Rules[0].VMs, "db3")
	p = Place(cfg, hosts, VMRequest{Name: "db3", MemoryMiB: 1024, VCPUs: 1})
	if p.Host != "" || p.Reason != "no feasible host: 1 host is not healthy, 3 are ruled out by an affinity rule; needs 1024 MiB and 1 vCPUs" {
		t.Fatalf("db3: %q %q", p.Host, p.Reason)
	}
	if s := candidate(t, p, "h2"); !slices.Equal(s.Reasons, []string{"affinity rule db-pair: db2 runs on h3"}) {
		t.Fatalf("h2 reasons %q", s.Reasons)
	}
	// A lone affinity peer pins the VM to its host, even a fuller one.
	hosts[3].VMs = nil
	p = Place(cfg, hosts, VMRequest{Name: "db3", MemoryMiB: 1024, VCPUs: 1})
	if p.Host != "h2" || !strings.HasPrefix(p.Reason, "h2: the only feasible host") {
		t.Fatalf("db3 with db1 on h2: %q %q", p.Host, p.Reason)
	}
}

// Names order a priority class byte by byte, also past their first 16 bytes; a name requested
// twice is placed once, at its request of highest priority.
func TestPlanOrderByLongNames(t *testing.T) {
	hosts := []HostCapacity{host("h1", "active", 1<<20, 1024, 0, 0)}
	names := []string{"tenant-a-web-0002-b", "tenant-a-web-0002-a", "tenant-a-web-0010", "tenant-a-db", "tenant-a-web-0002-a"}
	var vms []VMRequest
	for i, n := range names {
		vms = append(vms, VMRequest{Name: n, MemoryMiB: 1024, VCPUs: 1, Priority: i % 2})
	}
	var got []string
	for _, p := range PlanPlacements(PlacementConfig{}, hosts, vms) {
		got = append(got, p.VM+"@"+p.Host)
	}
	// Priority 1 first, by name; then priority 0, where the second request for
	// tenant-a-web-0002-a is refused.
	want := []string{"tenant-a-db@h1", "tenant-a-web-0002-a@h1", "tenant-a-web-0002-a@", "tenant-a-web-0002-b@h1", "tenant-a-web-0010@h1"}
	if !slices.Equal(got, want) {
		t.Fatalf("plan %v, want %v", got, want)
	}
}

func TestPlanDuplicateRequest(t *testing.T) {
	hosts := []HostCapacity{host("h1", "active", 8192, 8, 0, 0)}
	got := PlanPlacements(PlacementConfig{}, hosts, []VMRequest{{Name: "v", MemoryMiB: 1024, VCPUs: 1}, {Name: "v", MemoryMiB: 1024, VCPUs: 1, Priority: 5}})
	if got[0].Host != "h1" || got[1].Host != "" || !strings.Contains(got[1].Reason, "more than once") {
		t.Fatalf("%+v", got)
	}
}

func TestPlacementDeterministic(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	cfg, hosts, vms := randomCluster(rng, 40, 300)
	p1 := PlanPlacements(cfg, hosts, vms)
	p2 := PlanPlacements(cfg, hosts, vms)
	if !reflect.DeepEqual(p1, p2) {
		t.Fatal("same input, different plans")
	}
	one1 := Place(cfg, hosts, vms[0])
	shuffled := slices.Clone(hosts)
	for range 5 {
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		if !reflect.DeepEqual(PlanPlacements(cfg, shuffled, vms), p1) {
			t.Fatal("shuffled hosts, different plan")
		}
		if !reflect.DeepEqual(Place(cfg, shuffled, vms[0]), one1) {
			t.Fatal("shuffled hosts, different placement")
		}
	}
	shuffledVMs := slices.Clone(vms)
	rng.Shuffle(len(shuffledVMs), func(i, j int) { shuffledVMs[i], shuffledVMs[j] = shuffledVMs[j], shuffledVMs[i] })
	if !reflect.DeepEqual(PlanPlacements(cfg, hosts, shuffledVMs), p1) {
		t.Fatal("shuffled VMs, different plan")
	}
}

// randomCluster is a small random cluster with unhealthy hosts, tight capacity, affinity and
// anti-affinity rules, current and home hosts, groups and a few invalid inputs.
func randomCluster(rng *rand.Rand, nHosts, nVMs int) (PlacementConfig, []HostCapacity, []VMRequest) {
	states := []HostState{Healthy, Healthy, Healthy, Healthy, Healthy, Maintenance, Degraded, Failed, Fenced, Unknown}
	cfg := PlacementConfig{
		MemoryOvercommit: []float64{0, 1, 1.2, 1.5}[rng.IntN(4)],
		CPUOvercommit:    []float64{0, 1, 2, 4}[rng.IntN(4)],
		PreferStandby:    rng.IntN(2) == 0,
	}
	hosts := make([]HostCapacity, nHosts)
	for i := range hosts {
		mem := []int{4096, 8192, 16384}[rng.IntN(3)]
		cpu := []int{4, 8, 16}[rng.IntN(3)]
		hosts[i] = HostCapacity{
			Name: fmt.Sprintf("h%02d", i), Role: []string{"active", "active", "standby"}[rng.IntN(3)],
			Group: fmt.Sprintf("g%d", rng.IntN(3)), State: states[rng.IntN(len(states))],
			MemoryMiB: mem, VCPUs: cpu, UsedMemoryMiB: rng.IntN(mem), UsedVCPUs: rng.IntN(cpu),
		}
		if rng.IntN(30) == 0 {
			hosts[i].MemoryMiB = -hosts[i].MemoryMiB
		}
		if rng.IntN(30) == 0 {
			hosts[i].UsedMemoryMiB += mem // over capacity
		}
	}
	vms := make([]VMRequest, nVMs)
	for i := range vms {
		vms[i] = VMRequest{
			Name: fmt.Sprintf("vm%03d", i), MemoryMiB: 256 * (1 + rng.IntN(16)), VCPUs: 1 + rng.IntN(4),
			Priority: rng.IntN(5), Group: fmt.Sprintf("g%d", rng.IntN(4)),
		}
		if rng.IntN(2) == 0 {
			vms[i].CurrentHost = hosts[rng.IntN(nHosts)].Name
		}
		if rng.IntN(2) == 0 {
			vms[i].HomeHost = hosts[rng.IntN(nHosts)].Name
		}
		if rng.IntN(50) == 0 {
			vms[i].VCPUs = -1
		}
	}
	// VMs that stay where they are, some of them rule members.
	for i := range nVMs / 4 {
		h := &hosts[rng.IntN(nHosts)]
		h.VMs = append(h.VMs, fmt.Sprintf("old%03d", i))
	}
	member := func() string {
		if rng.IntN(3) == 0 {
			return fmt.Sprintf("old%03d", rng.IntN(nVMs/4+1))
		}
		return vms[rng.IntN(nVMs)].Name
	}
	for i := range 1 + nVMs/10 {
		r := AffinityRule{Name: fmt.Sprintf("r%d", i), Anti: rng.IntN(3) != 0}
		for range 2 + rng.IntN(4) {
			r.VMs = append(r.VMs, member())
		}
		cfg.Rules = append(cfg.Rules, r)
	}
	return cfg, hosts, vms
}

// Property: whatever the input, a plan never overcommits a host beyond its overcommitted
// capacity, never uses a host that is not healthy or is the VM's current host, never breaks an
// affinity or anti-affinity rule, and picks exactly what Place picks one VM at a time. Small
// clusters fit in one block of the search tree; larger ones exercise the tree and the search of
// large groups within it.
func TestPlanProperties(t *testing.T) {
	seeds := uint64(300)
	if testing.Short() {
		seeds = 60
	}
	for seed := range seeds {
		rng := rand.New(rand.NewPCG(seed, 1))
		nHosts, nVMs := 2+rng.IntN(30), 1+rng.IntN(150)
		if seed%5 == 0 {
			nHosts, nVMs = 40+rng.IntN(160), 1+rng.IntN(300)
		}
		cfg, hosts, vms := randomCluster(rng, nHosts, nVMs)
		plan := PlanPlacements(cfg, hosts, vms)
		if len(plan) != len(vms) {
			t.Fatalf("seed %d: %d placements for %d VMs", seed, len(plan), len(vms))
		}
		checkPlan(t, seed, cfg, hosts, vms, plan)
		comparePlanWithPlace(t, seed, cfg, hosts, vms, plan)
	}
}

// Identical empty hosts tie exactly; the plan must still break every tie by host name, as Place
// does, whatever the order of the hosts.
func TestPlanTiesMatchPlace(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 77))
		cfg, hosts, vms := randomCluster(rng, 2+rng.IntN(300), 1+rng.IntN(300))
		for i := range hosts {
			hosts[i].UsedMemoryMiB, hosts[i].UsedVCPUs, hosts[i].MemoryMiB, hosts[i].VCPUs = 0, 0, 16384, 16
			if rng.IntN(3) == 0 {
				hosts[i].Group = "g0"
			}
			if seed%2 == 0 {
				hosts[i].State = Healthy // large groups of one capacity: searched through the tree
			}
		}
		for i := range vms {
			vms[i].MemoryMiB, vms[i].VCPUs = 1024*(1+rng.IntN(2)), 1
		}
		rng.Shuffle(len(hosts), func(i, j int) { hosts[i], hosts[j] = hosts[j], hosts[i] })
		plan := PlanPlacements(cfg, hosts, vms)
		checkPlan(t, seed, cfg, hosts, vms, plan)
		comparePlanWithPlace(t, seed, cfg, hosts, vms, plan)
	}
}

func checkPlan(t *testing.T, seed uint64, cfg PlacementConfig, hosts []HostCapacity, vms []VMRequest, plan []Placement) {
	t.Helper()
	byHost := map[string]*HostCapacity{}
	for i := range hosts {
		byHost[hosts[i].Name] = &hosts[i]
	}
	byVM := map[string]VMRequest{}
	for _, vm := range vms {
		if _, ok := byVM[vm.Name]; !ok {
			byVM[vm.Name] = vm
		}
	}
	memF, cpuF := cfg.MemoryOvercommit, cfg.CPUOvercommit
	if memF <= 0 {
		memF = 1
	}
	if cpuF <= 0 {
		cpuF = 1
	}
	addM, addC := map[string]int{}, map[string]int{}
	where := map[string]string{} // final location of every VM a rule may name
	for _, h := range hosts {
		for _, vm := range h.VMs {
			if _, moving := byVM[vm]; !moving {
				where[vm] = h.Name
			}
		}
	}
	seen := map[string]bool{}
	for _, p := range plan {
		if p.Reason == "" {
			t.Fatalf("seed %d: %s without a reason", seed, p.VM)
		}
		if p.Host == "" {
			continue
		}
		if seen[p.VM] {
			t.Fatalf("seed %d: %s placed twice", seed, p.VM)
		}
		seen[p.VM] = true
		vm, h := byVM[p.VM], byHost[p.Host]
		if h.State != Healthy {
			t.Fatalf("seed %d: %s placed on %s host %s", seed, p.VM, h.State, h.Name)
		}
		if h.Name == vm.CurrentHost {
			t.Fatalf("seed %d: %s placed on its current host", seed, p.VM)
		}
		if vm.MemoryMiB < 0 || vm.VCPUs < 0 {
			t.Fatalf("seed %d: invalid %+v placed", seed, vm)
		}
		addM[h.Name] += vm.MemoryMiB
		addC[h.Name] += vm.VCPUs
		where[p.VM] = h.Name
		if p.Candidates != nil {
			t.Fatalf("seed %d: %s: plan keeps candidates %+v", seed, p.VM, p.Candidates)
		}
	}
	for name, m := range addM {
		h := byHost[name]
		if float64(h.UsedMemoryMiB+m) > math.Floor(float64(h.MemoryMiB)*memF) ||
			float64(h.UsedVCPUs+addC[name]) > math.Floor(float64(h.VCPUs)*cpuF) {
			t.Fatalf("seed %d: %s overcommitted: %d+%d MiB of %d, %d+%d vCPUs of %d", seed, name,
				h.UsedMemoryMiB, m, h.MemoryMiB, h.UsedVCPUs, addC[name], h.VCPUs)
		}
	}
	for _, r := range cfg.Rules {
		members := slices.Compact(slices.Sorted(slices.Values(r.VMs)))
		placedAny := false
		hostsUsed := map[string][]string{}
		for _, m := range members {
			placedAny = placedAny || seen[m]
			if h, ok := where[m]; ok {
				hostsUsed[h] = append(hostsUsed[h], m)
			}
		}
		if !placedAny {
			continue
		}
		if r.Anti {
			for h, ms := range hostsUsed {
				if len(ms) > 1 && slices.ContainsFunc(ms, func(m string) bool { return seen[m] }) {
					t.Fatalf("seed %d: anti-affinity rule %s broken on %s by %v", seed, r.Name, h, ms)
				}
			}
		} else if len(hostsUsed) > 1 {
			t.Fatalf("seed %d: affinity rule %s split over %v", seed, r.Name, hostsUsed)
		}
	}
}

// comparePlanWithPlace replays the plan with Place, one VM at a time, on hosts updated after
// each placement: the fast search must pick the same hosts, and give the same reasons (so the
// same scores and runners-up).
func comparePlanWithPlace(t *testing.T, seed uint64, cfg PlacementConfig, hosts []HostCapacity, vms []VMRequest, plan []Placement) {
	t.Helper()
	moving := map[string]bool{}
	for _, vm := range vms {
		moving[vm.Name] = true
	}
	cur := make([]HostCapacity, len(hosts))
	idx := map[string]int{}
	for i, h := range hosts {
		cur[i] = h
		cur[i].VMs = slices.DeleteFunc(slices.Clone(h.VMs), func(vm string) bool { return moving[vm] })
		idx[h.Name] = i
	}
	byVM := map[string]VMRequest{}
	for _, vm := range slices.Backward(vms) {
		byVM[vm.Name] = vm
	}
	done := map[string]bool{}
	for _, want := range plan {
		if done[want.VM] {
			continue
		}
		done[want.VM] = true
		vm := byVM[want.VM]
		// byVM keeps the first of equal names in input order; the plan's first in priority order
		// may differ: find the request the plan used.
		for _, v := range vms {
			if v.Name == want.VM && v.Priority > vm.Priority {
				vm = v
			}
		}
		got := Place(cfg, cur, vm)
		if got.Host != want.Host {
			t.Fatalf("seed %d: %s: plan %q (%s), Place %q (%s)", seed, vm.Name, want.Host, want.Reason, got.Host, got.Reason)
		}
		if got.Host == "" {
			if got.Reason != want.Reason {
				t.Fatalf("seed %d: %s: plan says %q, Place %q", seed, vm.Name, want.Reason, got.Reason)
			}
			continue
		}
		// The plan's reason gives the same score and runner-up as Place's: only the count of
		// feasible hosts is missing.
		if i := strings.Index(got.Reason, " among "); i >= 0 {
			j := strings.Index(got.Reason[i:], " feasible hosts")
			if plain := got.Reason[:i] + got.Reason[i+j+len(" feasible hosts"):]; plain != want.Reason {
				t.Fatalf("seed %d: %s: plan says %q, Place %q", seed, vm.Name, want.Reason, got.Reason)
			}
		} else if got.Reason != want.Reason {
			t.Fatalf("seed %d: %s: plan says %q, Place %q", seed, vm.Name, want.Reason, got.Reason)
		}
		h := &cur[idx[got.Host]]
		h.UsedMemoryMiB += vm.MemoryMiB
		h.UsedVCPUs += vm.VCPUs
		h.VMs = append(h.VMs, vm.Name)
	}
}
