package policy

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestFailoverCapacity(t *testing.T) {
	cases := []struct {
		name      string
		snap      func() Snapshot
		tolerates int
		worst     []string
		reason    string
	}{
		{name: "one active and one spare absorb one failure",
			snap: func() Snapshot {
				return testSnapshot([]string{"a:active:8192:8", "b:standby:8192:8"}, []string{"web@a:2048:2:0", "db@a:4096:2:10"})
			},
			tolerates: 1, worst: []string{"a", "b"}, reason: "losing a, b at once leaves"},
		{name: "nothing protected: every host can fail",
			snap: func() Snapshot {
				s := testSnapshot([]string{"a:active:8192:8", "b:standby:8192:8", "c:active:8192:8"}, []string{"web@a:2048:2:0"})
				s.VMs[0].Protected = false
				return s
			},
			tolerates: 3, worst: []string{}, reason: "whichever of the 3 hosts"},
		{name: "a VM without a definition cannot restart and needs no room",
			snap: func() Snapshot {
				s := testSnapshot([]string{"a:active:8192:8", "b:standby:1024:8"}, []string{"web@a:2048:2:0"})
				s.VMs[0].Restartable = false
				return s
			},
			tolerates: 2, worst: []string{}},
		{name: "full hosts: one failure is already too much",
			snap: func() Snapshot {
				return testSnapshot([]string{"h1:active:4096:4", "h2:active:4096:4", "h3:active:4096:4"},
					[]string{"a@h1:3072:1:0", "b@h2:3072:1:0", "c@h3:3072:1:0"})
			},
			// h1 is first worst-first (equal loads, by name); its VM finds no host with 3072 free.
			tolerates: 0, worst: []string{"h1"}, reason: "a without room"},
		{name: "overcommit makes room",
			snap: func() Snapshot {
				s := testSnapshot([]string{"h1:active:4096:4", "h2:active:4096:4", "h3:active:4096:4"},
					[]string{"a@h1:3072:1:0", "b@h2:3072:1:0", "c@h3:3072:1:0"})
				s.Config.Placement.MemoryOvercommit = 2
				return s
			},
			// 8192 each: one failure fits (3072 on one of two hosts with 5120 free), two do
			// too (6144 on the last host's 5120? no: a and b need 3072 each, c's host has 5120).
			tolerates: 1, worst: []string{"h1", "h2"}},
		{name: "a host down now is not counted, and its waiting VMs take room first",
			snap: func() Snapshot {
				s := testSnapshot([]string{"h1:active:8192:8", "h2:active:8192:8", "h3:standby:8192:8"},
					[]string{"w@h1:6144:1:0", "x@h2:2048:1:0"})
				s.Hosts[0].Verdict.State, s.Hosts[0].Libvirt = Failed, ProbeTimeout
				return s
			},
			// w (waiting) takes h3; then losing h2 leaves x no room? h3 has 2048 left: x fits.
			// Losing h2 and h3 leaves nothing.
			tolerates: 1, worst: []string{"h2", "h3"}},
		{name: "waiting VMs without room: no failure is tolerated",
			snap: func() Snapshot {
				s := testSnapshot([]string{"h1:active:8192:8", "h2:active:4096:8"}, []string{"w@h1:6144:1:0"})
				s.Hosts[0].Verdict.State, s.Hosts[0].Libvirt = Fenced, ProbeTimeout
				return s
			},
			tolerates: 0, worst: []string{}, reason: "no room even now: w without room"},
		{name: "anti-affinity limits where the VMs go",
			snap: func() Snapshot {
				s := testSnapshot([]string{"h1:active:8192:8", "h2:active:8192:8", "h3:standby:8192:8"},
					[]string{"web1@h1:1024:1:0", "web2@h2:1024:1:0", "web3@h3:1024:1:0"})
				s.Config.Placement.Rules = []AffinityRule{{Name: "spread", VMs: []string{"web1", "web2", "web3"}, Anti: true}}
				return s
			},
			tolerates: 0, worst: []string{"h1"}, reason: "already run an anti-affinity peer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.snap()
			got := FailoverCapacity(s)
			if got.Tolerates != tc.tolerates || !reflect.DeepEqual(got.Worst, tc.worst) || !got.Exact {
				t.Errorf("tolerates %d worst %v exact %v (%s), want %d %v exact", got.Tolerates, got.Worst, got.Exact, got.Reason, tc.tolerates, tc.worst)
			}
			if !strings.Contains(got.Reason, tc.reason) {
				t.Errorf("reason %q, want it to contain %q", got.Reason, tc.reason)
			}
			if len(got.Hosts) != len(s.Hosts) {
				t.Errorf("hosts %v", got.Hosts)
			}
		})
	}
}

func TestFailoverCapacityHostRooms(t *testing.T) {
	s := testSnapshot([]string{"b:standby:8192:8", "a:active:8192:8"}, []string{"web@a:2048:2:0", "db@a:1024:3:0"})
	s.VMs[1].Protected = false // unprotected VMs still take room
	s.Config.Placement.CPUOvercommit = 2
	got := FailoverCapacity(s).Hosts
	want := []HostRoom{{Name: "a", State: Healthy, MemoryFreeMiB: 5120, VCPUsFree: 11}, {Name: "b", State: Healthy, MemoryFreeMiB: 8192, VCPUsFree: 16}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("hosts %+v, want %+v", got, want)
	}
}

// capacityOracle is FailoverCapacity by brute force over every subset of the hosts up, smallest first,
// with a placement run for each.
func capacityOracle(s Snapshot) int {
	var up []string
	for _, h := range s.Hosts {
		if !lost(h) {
			up = append(up, h.Name)
		}
	}
	cfg := s.Config.Placement
	cfg.PreferStandby = true
	absorbed := func(failed []string) bool {
		var reqs []VMRequest
		for _, vm := range s.VMs {
			h, _ := s.Host(vm.Current)
			if vm.Protected && vm.Restartable && (lost(h) || slices.Contains(failed, vm.Current)) {
				reqs = append(reqs, vmRequest(vm))
			}
		}
		caps := s.Capacities()
		for i := range caps {
			if slices.Contains(failed, caps[i].Name) {
				caps[i].State = Failed
			}
		}
		for _, p := range PlanPlacements(cfg, caps, reqs) {
			if p.Host == "" {
				return false
			}
		}
		return true
	}
	for k := 0; k <= len(up); k++ {
		for mask := 0; mask < 1<<len(up); mask++ {
			var set []string
			for i, h := range up {
				if mask&(1<<i) != 0 {
					set = append(set, h)
				}
			}
			if len(set) == k && !absorbed(set) {
				return max(k-1, 0)
			}
		}
	}
	return len(up)
}

// randomCapacitySnapshot is a small random cluster: 2-7 hosts of mixed sizes and roles, some down,
// 0-12 VMs, most protected.
func randomCapacitySnapshot(r *rand.Rand) Snapshot {
	var hosts, vms []string
	n := 2 + r.IntN(6)
	for i := range n {
		role := "active"
		if r.IntN(3) == 0 {
			role = "standby"
		}
		hosts = append(hosts, fmt.Sprintf("h%d:%s:%d:%d", i, role, 1024*(2+r.IntN(15)), 2+r.IntN(15)))
	}
	for i := range r.IntN(13) {
		vms = append(vms, fmt.Sprintf("vm%d@h%d:%d:%d:%d", i, r.IntN(n), 512*(1+r.IntN(8)), 1+r.IntN(4), r.IntN(3)))
	}
	s := testSnapshot(hosts, vms)
	for i := range s.Hosts {
		if r.IntN(6) == 0 {
			s.Hosts[i].Verdict.State, s.Hosts[i].Libvirt = Fenced, ProbeTimeout
		}
	}
	for i := range s.VMs {
		s.VMs[i].Protected = r.IntN(5) != 0
	}
	s.Config.Placement.CPUOvercommit = float64(1 + r.IntN(4))
	return s
}

// The exhaustive search agrees with brute force, and its worst set really fails.
func TestFailoverCapacityMatchesOracle(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 400 {
		s := randomCapacitySnapshot(r)
		got := FailoverCapacity(s)
		if want := capacityOracle(s); got.Tolerates != want || !got.Exact {
			t.Fatalf("cluster %d: tolerates %d exact %v, brute force %d (%s)\nhosts %+v\nvms %+v", i, got.Tolerates, got.Exact, want, got.Reason, s.Hosts, s.VMs)
		}
		checkWorst(t, s, got)
	}
}

// checkWorst checks that a worst set is one placement run shows to fail (never a false alarm).
func checkWorst(t *testing.T, s Snapshot, got Capacity) {
	t.Helper()
	if len(got.Worst) == 0 {
		return
	}
	w := s.clone()
	for i := range w.Hosts {
		if slices.Contains(got.Worst, w.Hosts[i].Name) {
			w.Hosts[i].Verdict.State, w.Hosts[i].Libvirt = Failed, ProbeTimeout
		}
	}
	if c := FailoverCapacity(w); !strings.Contains(c.Reason, "no room even now") {
		t.Errorf("worst %v does not fail: %s", got.Worst, c.Reason)
	}
	if len(got.Worst) != got.Tolerates+1 {
		t.Errorf("worst %v for tolerates %d", got.Worst, got.Tolerates)
	}
}

// uniformFleet is n identical hosts, each with one protected VM taking half its memory: every host has
// room for exactly one more, so n/2 failures are absorbed and no more, whichever hosts fail.
func uniformFleet(n int) Snapshot {
	var hosts, vms []string
	for i := range n {
		hosts = append(hosts, fmt.Sprintf("h%04d:active:8192:16", i))
		vms = append(vms, fmt.Sprintf("vm%04d@h%04d:4096:2:0", i, i))
	}
	return testSnapshot(hosts, vms)
}

// Beyond the budget, the worst-first search finds the figure of a cluster whose answer is known.
func TestFailoverCapacityBeyondTheBudget(t *testing.T) {
	s := uniformFleet(200) // level 2 would take 19900 runs after level 1's 200: over the budget
	got := FailoverCapacity(s)
	if got.Tolerates != 100 || got.Exact || got.ExhaustiveUpTo != 1 || len(got.Worst) != 101 || got.Runs > CapacityBudget {
		t.Fatalf("tolerates %d exact %v exhaustive up to %d worst %d hosts, %d runs: %s", got.Tolerates, got.Exact, got.ExhaustiveUpTo, len(got.Worst), got.Runs, got.Reason)
	}
	checkWorst(t, s, got)
	if !strings.Contains(got.Reason, "every set of up to 1 hosts was checked") {
		t.Errorf("reason %q", got.Reason)
	}
}

// Levels that fit the budget are exhaustive: 60 hosts take 60 + 1770 runs, then level 3 (34220) is over:
// worst first, a bisection of at most 8 runs for each of the four orders.
func TestFailoverCapacityBudgetSplit(t *testing.T) {
	s := uniformFleet(60)
	got := FailoverCapacity(s)
	if got.Tolerates != 30 || got.ExhaustiveUpTo != 2 || got.Exact || got.Runs > 60+1770+4*8 {
		t.Fatalf("tolerates %d exhaustive up to %d exact %v runs %d: %s", got.Tolerates, got.ExhaustiveUpTo, got.Exact, got.Runs, got.Reason)
	}
}

func TestBinomialSaturates(t *testing.T) {
	for _, tc := range []struct{ n, k, want int }{{5, 2, 10}, {10, 0, 1}, {3, 4, 0}, {200, 2, 19900}, {1000, 3, CapacityBudget + 1}, {60, 59, 60}} {
		if got := binomial(tc.n, tc.k); got != tc.want {
			t.Errorf("binomial(%d, %d) = %d, want %d", tc.n, tc.k, got, tc.want)
		}
	}
}

var sinkCapacity Capacity

func BenchmarkFailoverCapacity(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("hosts=%d", n), func(b *testing.B) {
			s := capacityBenchSnapshot(n)
			b.ResetTimer()
			for b.Loop() {
				sinkCapacity = FailoverCapacity(s)
			}
			b.ReportMetric(float64(sinkCapacity.Runs), "runs")
			b.ReportMetric(float64(sinkCapacity.Tolerates), "tolerates")
		})
	}
}

// capacityBenchSnapshot is n hosts (one in ten standby) with 10 VMs per active host of mixed sizes, 80%
// protected, hosts about 60% full.
func capacityBenchSnapshot(n int) Snapshot {
	r := rand.New(rand.NewPCG(uint64(n), 3))
	var hosts, vms []string
	for i := range n {
		role := "active"
		if i%10 == 9 {
			role = "standby"
		}
		hosts = append(hosts, fmt.Sprintf("h%04d:%s:262144:64", i, role))
		if role == "standby" {
			continue
		}
		for j := range 10 {
			vms = append(vms, fmt.Sprintf("vm%04d-%d@h%04d:%d:%d:%d", i, j, i, 4096*(1+r.IntN(7)), 2+r.IntN(6), r.IntN(3)))
		}
	}
	s := testSnapshot(hosts, vms)
	for i := range s.VMs {
		s.VMs[i].Protected = r.IntN(5) != 0
	}
	return s
}
