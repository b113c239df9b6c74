package policy

import (
	"fmt"
	"testing"
	"time"
)

// scaleSnapshot is a fleet-sized snapshot: nHosts healthy hosts with perHost protected VMs each
// (a fifth of the hosts standby and empty), and lostHosts of the active hosts fenced off, their
// VMs queued, restartConcurrency restarts in flight.
func scaleSnapshot(nHosts, perHost, lostHosts int, now time.Time) Snapshot {
	s := Snapshot{
		Config: RecoveryConfig{Automatic: true, MassFailureFraction: 0.5, MassFailureWindow: time.Minute, FenceWindow: time.Hour,
			RestartConcurrency: 4, Placement: PlacementConfig{MemoryOvercommit: 1, CPUOvercommit: 4}},
		Guards:     Guards{Fences: map[string]FenceRecord{}, Restarts: map[string]RestartRecord{}},
		Fencing:    map[string]bool{},
		Restarting: map[string]bool{},
		Migrating:  map[string]bool{},
		Resetting:  map[string]bool{},
	}
	lost := 0
	for i := range nHosts {
		h := HostView{Name: fmt.Sprintf("h%05d", i), Role: "active", Group: fmt.Sprintf("rack%03d", i/40), Libvirt: ProbeOK,
			Verdict: Verdict{State: Healthy}, Heard: true, MemoryMiB: 1 << 20, VCPUs: 128}
		if i%5 == 4 {
			h.Role = "standby"
			s.Hosts = append(s.Hosts, h)
			continue
		}
		gone := lost < lostHosts && i%7 == 3
		if gone {
			lost++
			h.Libvirt, h.BadSince = ProbeTimeout, now.Add(-10*time.Second)
			h.Verdict = Verdict{State: Failed, Reason: ReasonPowerOff, Since: now.Add(-5 * time.Second)}
			s.Guards.Fences[h.Name] = FenceRecord{Host: h.Name, Attempted: now.Add(-4 * time.Second), Outcome: FenceVerified,
				At: now.Add(-3 * time.Second), By: "redfish"}
		}
		s.Hosts = append(s.Hosts, h)
		for j := range perHost {
			vm := VMView{Name: fmt.Sprintf("%s-vm%02d", h.Name, j), UUID: fmt.Sprintf("%s-%02d", h.Name, j), Protected: true,
				Restartable: true, MemoryMiB: 2048, VCPUs: 2, Current: h.Name, Home: h.Name, State: "running"}
			s.VMs = append(s.VMs, vm)
			if gone {
				s.Guards.Restarts[vm.UUID] = RestartRecord{VM: vm.Name, UUID: vm.UUID, From: h.Name, Stage: RestartQueued,
					Since: now.Add(-3 * time.Second)}
				if len(s.Restarting) < 4 {
					s.Restarting[vm.UUID] = true
					r := s.Guards.Restarts[vm.UUID]
					r.Stage, r.To = RestartRestarting, "h00004"
					s.Guards.Restarts[vm.UUID] = r
				}
			}
		}
	}
	return s
}

// BenchmarkReconcile is one reconcile pass over a fleet of 5,000 hosts and 100,000 VMs: quiet,
// and with 10 hosts fenced and their 200 VMs restarting, 4 at a time.
func BenchmarkReconcile(b *testing.B) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	for _, lost := range []int{0, 10} {
		b.Run(fmt.Sprintf("hosts=5000/lost=%d", lost), func(b *testing.B) {
			s := scaleSnapshot(5000, 20, lost, now)
			b.ReportAllocs()
			b.ResetTimer()
			var acts int
			for range b.N {
				acts = len(Reconcile(s, now))
			}
			b.ReportMetric(float64(acts), "actions")
		})
	}
}
