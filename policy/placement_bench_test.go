package policy

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user and system CPU time so far, GC included. On a shared machine it
// is steadier than the wall clock.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchCluster is a synthetic, seeded cluster: racks of 40 hosts of three sizes, a fifth of them
// empty standby hosts, the rest 40-80% used, 5% of hosts not healthy; and nVMs VMs to place,
// 1-32 GiB and 1-8 vCPUs each, each leaving a random current host (its group is that host's
// rack), half with a home host, 5% in anti-affinity triples and 2% in affinity pairs.
func benchCluster(nHosts, nVMs int) (PlacementConfig, []HostCapacity, []VMRequest) {
	rng := rand.New(rand.NewPCG(42, uint64(nHosts)))
	cfg := PlacementConfig{MemoryOvercommit: 1, CPUOvercommit: 4, PreferStandby: true}
	shapes := []struct{ mem, cpu int }{{262144, 64}, {524288, 96}, {1048576, 128}}
	hosts := make([]HostCapacity, nHosts)
	for i := range hosts {
		s := shapes[rng.IntN(len(shapes))]
		h := HostCapacity{
			Name: fmt.Sprintf("host%05d", i), Role: "active", Group: fmt.Sprintf("rack%03d", i/40),
			State: Healthy, MemoryMiB: s.mem, VCPUs: s.cpu,
		}
		switch {
		case rng.IntN(5) == 0:
			h.Role = "standby"
		default:
			h.UsedMemoryMiB = s.mem * (40 + rng.IntN(41)) / 100
			h.UsedVCPUs = s.cpu * 4 * (30 + rng.IntN(50)) / 100
		}
		if rng.IntN(20) == 0 {
			h.State = []HostState{Failed, Fenced, Maintenance, Degraded}[rng.IntN(4)]
		}
		hosts[i] = h
	}
	vms := make([]VMRequest, nVMs)
	for i := range vms {
		cur := rng.IntN(nHosts)
		vms[i] = VMRequest{
			Name: fmt.Sprintf("vm%06d", i), MemoryMiB: 1024 * (1 << rng.IntN(6)), VCPUs: 1 << rng.IntN(4),
			Priority: rng.IntN(10), CurrentHost: hosts[cur].Name, Group: hosts[cur].Group,
		}
		if rng.IntN(2) == 0 {
			vms[i].HomeHost = hosts[rng.IntN(nHosts)].Name
		}
		hosts[cur].VMs = append(hosts[cur].VMs, vms[i].Name)
	}
	for i := 0; i+3 <= nVMs/20; i += 3 { // 5% of VMs in anti-affinity triples
		cfg.Rules = append(cfg.Rules, AffinityRule{Name: fmt.Sprintf("spread%d", i), Anti: true,
			VMs: []string{vms[i].Name, vms[i+1].Name, vms[i+2].Name}})
	}
	for i := nVMs / 20; i+2 <= nVMs/20+nVMs/50; i += 2 { // 2% in affinity pairs
		cfg.Rules = append(cfg.Rules, AffinityRule{Name: fmt.Sprintf("pair%d", i), VMs: []string{vms[i].Name, vms[i+1].Name}})
	}
	return cfg, hosts, vms
}

// BenchmarkPlanPlacements plans 20 VMs per host for 1,000 and 10,000 hosts, reporting the wall
// and CPU time and the memory allocated per plan (also in -benchmem's B/op), and the share of
// VMs placed.
func BenchmarkPlanPlacements(b *testing.B) {
	for _, size := range []struct{ hosts, vms int }{{1000, 20000}, {10000, 200000}} {
		b.Run(fmt.Sprintf("hosts=%d/vms=%d", size.hosts, size.vms), func(b *testing.B) {
			cfg, hosts, vms := benchCluster(size.hosts, size.vms)
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			start, startCPU := time.Now(), cpuTime()
			n, placed := 0, 0
			for b.Loop() {
				plan := PlanPlacements(cfg, hosts, vms)
				n++
				placed = 0
				for i := range plan {
					if plan[i].Host != "" {
						placed++
					}
				}
			}
			elapsed, elapsedCPU := time.Since(start), cpuTime()-startCPU
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(n), "ms/plan")
			b.ReportMetric(float64(elapsedCPU.Microseconds())/1000/float64(n), "cpu-ms/plan")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20)/float64(n), "MiB-alloc/plan")
			b.ReportMetric(100*float64(placed)/float64(len(vms)), "%placed")
		})
	}
}
