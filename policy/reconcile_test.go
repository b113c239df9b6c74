package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// cluster builds a snapshot: hosts "name:role" all healthy and heard from, each with 8 GiB and
// 8 vCPUs, and protected 1 GiB VMs "vm@host".
func cluster(hosts []string, vms ...string) Snapshot {
	s := Snapshot{Config: RecoveryConfig{Automatic: true, MassFailureFraction: 0.34, MassFailureWindow: 10 * time.Second,
		FenceWindow: 10 * time.Minute, RestartConcurrency: 4, Placement: PlacementConfig{MemoryOvercommit: 1, CPUOvercommit: 4}},
		Guards: Guards{Fences: map[string]FenceRecord{}, Restarts: map[string]RestartRecord{}}}
	for _, h := range hosts {
		name, role, _ := strings.Cut(h, ":")
		if role == "" {
			role = "active"
		}
		s.Hosts = append(s.Hosts, HostView{Name: name, Role: role, Verdict: Verdict{Host: name, State: Healthy}, Libvirt: ProbeOK,
			BMCConfigured: true, BMCReachable: true, Heard: true, MemoryMiB: 8192, VCPUs: 8, RecoveryMode: ApprovalAutomatic})
	}
	for _, v := range vms {
		name, host, _ := strings.Cut(v, "@")
		s.VMs = append(s.VMs, VMView{Name: name, UUID: "u-" + name, Protected: true, Restartable: true, MemoryMiB: 1024, VCPUs: 1,
			Current: host, Home: host, State: "running"})
	}
	return s
}

// lose makes a host lost since the given time: power off (failed) or cut off (unreachable).
func lose(s *Snapshot, host string, state HostState, since time.Time) {
	for i := range s.Hosts {
		if s.Hosts[i].Name == host {
			s.Hosts[i].Verdict.State, s.Hosts[i].Libvirt, s.Hosts[i].BadSince = state, ProbeTimeout, since
		}
	}
}

// fenced records a verified fence of a host at the given time, and makes it fenced.
func fenced(s *Snapshot, host string, at time.Time) {
	s.Guards.Fences[host] = FenceRecord{Host: host, Attempted: at, Outcome: FenceVerified, At: at, By: "redfish"}
	for i := range s.Hosts {
		if s.Hosts[i].Name == host {
			s.Hosts[i].Verdict.State = Fenced
		}
	}
}

func log(acts []Action) []string {
	out := make([]string, 0, len(acts))
	for _, a := range acts {
		out = append(out, a.String())
	}
	return out
}

func TestReconcile(t *testing.T) {
	now := t0.Add(time.Hour)
	tests := []struct {
		name  string
		snap  func() Snapshot
		want  []string // every line must be in the action log
		never []string // no line may start with one of these
	}{
		{
			name: "one active plus one spare: a single failure is fenced (never a freeze)",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2:standby"}, "g1@h1", "g2@h1")
				lose(&s, "h1", Failed, now.Add(-2*time.Second))
				return s
			},
			want:  []string{"fence h1 (host_lost)"},
			never: []string{"freeze"},
		},
		{
			name: "one active plus one spare: after the fence both VMs restart on the spare",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2:standby"}, "g1@h1", "g2@h1")
				lose(&s, "h1", Failed, now.Add(-3*time.Second))
				fenced(&s, "h1", now.Add(-time.Second))
				return s
			},
			want: []string{"restart g1 h1->h2 (restart_after_fence)", "restart g2 h1->h2 (restart_after_fence)"},
		},
		{
			name: "a restart left 'restarting' by a controller that stopped, its VM on the target: it took effect, once",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2:standby"}, "g1@h2", "g2@h1")
				lose(&s, "h1", Fenced, now.Add(-time.Minute))
				fenced(&s, "h1", now.Add(-50*time.Second))
				s.Guards.Restarts["u-g1"] = RestartRecord{VM: "g1", UUID: "u-g1", From: "h1", To: "h2", Stage: RestartRestarting, Since: now.Add(-40 * time.Second)}
				return s
			},
			want:  []string{"forget g1 of h1 (restart_took_effect)", "restart g2 h1->h2 (restart_after_fence)"},
			never: []string{"restart g1", "forget g1 of h1 (vm_runs)"},
		},
		{
			name: "a restart under way in this controller is not taken for one that took effect",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2:standby"}, "g1@h2")
				lose(&s, "h1", Fenced, now.Add(-time.Minute))
				fenced(&s, "h1", now.Add(-50*time.Second))
				s.Guards.Restarts["u-g1"] = RestartRecord{VM: "g1", UUID: "u-g1", From: "h1", To: "h2", Stage: RestartRestarting, Since: now.Add(-time.Second)}
				s.Restarting = map[string]bool{"u-g1": true}
				return s
			},
			never: []string{"forget g1", "restart g1"},
		},
		{
			name: "a queued restart of a VM that runs again elsewhere is dropped as vm_runs",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3:standby"}, "g1@h2")
				s.Guards.Restarts["u-g1"] = RestartRecord{VM: "g1", UUID: "u-g1", From: "h1", To: "h3", Stage: RestartRestarting, Since: now.Add(-time.Minute)}
				return s
			},
			want:  []string{"forget g1 of h1 (vm_runs)"},
			never: []string{"forget g1 of h1 (restart_took_effect)"},
		},
		{
			name: "two of three hosts lost at once freeze",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1", "g2@h2")
				lose(&s, "h1", Failed, now.Add(-2*time.Second))
				lose(&s, "h2", Unreachable, now.Add(-4*time.Second))
				return s
			},
			want:  []string{"freeze [h1 h2] (mass_failure)", "hold h1 (frozen)", "hold h2 (frozen)"},
			never: []string{"fence", "restart"},
		},
		{
			name: "a host fenced a moment ago counts: the second loss freezes",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1", "g2@h2")
				lose(&s, "h1", Failed, now.Add(-3*time.Second))
				fenced(&s, "h1", now.Add(-2*time.Second))
				lose(&s, "h2", Failed, now.Add(-time.Second))
				return s
			},
			want:  []string{"freeze [h1 h2] (mass_failure)", "hold h1 (frozen)"},
			never: []string{"fence", "restart"},
		},
		{
			name: "a second, later failure is recovered: the host fenced earlier and left off does not count",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3", "h4"}, "g1@h3", "g2@h2")
				lose(&s, "h1", Fenced, now.Add(-25*time.Second))
				fenced(&s, "h1", now.Add(-23*time.Second))
				lose(&s, "h2", Unreachable, now.Add(-3*time.Second))
				return s
			},
			want:  []string{"fence h2 (host_lost)"},
			never: []string{"freeze"},
		},
		{
			name: "a latched freeze outlasts the window while its hosts stay lost",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1", "g2@h2")
				lose(&s, "h1", Failed, now.Add(-time.Minute))
				lose(&s, "h2", Failed, now.Add(-time.Minute))
				s.Guards.Freeze = Freeze{Frozen: true, Reason: ReasonMassFailure, Since: now.Add(-50 * time.Second), Hosts: []string{"h1", "h2"}}
				return s
			},
			want:  []string{"hold h1 (frozen)", "hold h2 (frozen)"},
			never: []string{"fence", "thaw", "freeze"},
		},
		{
			name: "a freeze thaws once at most one of its hosts is still lost",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1", "g2@h2")
				lose(&s, "h1", Failed, now.Add(-time.Minute))
				s.Guards.Freeze = Freeze{Frozen: true, Reason: ReasonMassFailure, Since: now.Add(-50 * time.Second), Hosts: []string{"h1", "h2"}}
				return s
			},
			want: []string{"thaw [h1 h2] (hosts_back)"},
		},
		{
			name: "controller isolated: most hosts and their BMCs unreachable at once freeze, nothing fenced",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1", "g2@h2", "g3@h3")
				for i, h := range []string{"h1", "h2"} {
					lose(&s, h, Unreachable, now.Add(-time.Duration(i+3)*time.Minute))
					s.Hosts[i].BMCReachable, s.Hosts[i].BMCSilent = false, true
				}
				return s
			},
			want:  []string{"freeze [h1 h2] (controller_isolated)"},
			never: []string{"fence"},
		},
		{
			name: "the fence window holds across a controller restart (the record is durable)",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1")
				s.Guards.Fences["h1"] = FenceRecord{Host: "h1", Attempted: now.Add(-2 * time.Minute)}
				lose(&s, "h1", Unreachable, now.Add(-4*time.Second))
				return s
			},
			want:  []string{"hold h1 (fence_window)"},
			never: []string{"fence"},
		},
		{
			name: "a fence interrupted by a controller crash is finished, inside the window",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1")
				s.Guards.Fences["h1"] = FenceRecord{Host: "h1", Attempted: now.Add(-5 * time.Second), Outcome: FenceInFlight}
				lose(&s, "h1", Failed, now.Add(-8*time.Second))
				return s
			},
			want: []string{"fence h1 (fence_interrupted)"},
		},
		{
			name: "a fence running in this controller is not started twice",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1")
				s.Guards.Fences["h1"] = FenceRecord{Host: "h1", Attempted: now.Add(-time.Second), Outcome: FenceInFlight}
				s.Fencing = map[string]bool{"h1": true}
				lose(&s, "h1", Failed, now.Add(-3*time.Second))
				return s
			},
			never: []string{"fence", "hold"},
		},
		{
			name: "a failed fence holds the VMs down until the window ends",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1")
				s.Guards.Fences["h1"] = FenceRecord{Host: "h1", Attempted: now.Add(-time.Minute), Outcome: FenceFailed, Detail: "timed out after 20s"}
				lose(&s, "h1", Unreachable, now.Add(-2*time.Minute))
				return s
			},
			want:  []string{"hold h1 (fence_failed)"},
			never: []string{"fence", "restart"},
		},
		{
			name: "nothing is fenced before every host has been heard from",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1")
				lose(&s, "h1", Failed, now.Add(-2*time.Second))
				s.Hosts[2].Heard = false
				return s
			},
			want:  []string{"hold h1 (startup_incomplete)"},
			never: []string{"fence"},
		},
		{
			name: "disarmed: nothing fenced or restarted",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "g1@h1", "g2@h2")
				lose(&s, "h1", Failed, now.Add(-2*time.Second))
				lose(&s, "h2", Fenced, now.Add(-time.Hour))
				fenced(&s, "h2", now.Add(-time.Hour))
				s.Disarmed = true
				return s
			},
			want:  []string{"hold h1 (disarmed)", "hold h2 (disarmed)"},
			never: []string{"fence", "restart"},
		},
		{
			name: "manual recovery: a lost host waits for a person",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2"}, "g1@h1")
				s.Config.Automatic = false
				lose(&s, "h1", Failed, now.Add(-2*time.Second))
				return s
			},
			want:  []string{"hold h1 (recovery_manual)"},
			never: []string{"fence"},
		},
		{
			name: "a partitioned host (guests alive) is never fenced",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2"}, "g1@h1")
				lose(&s, "h1", Partitioned, now.Add(-5*time.Second))
				return s
			},
			want:  []string{"hold h1 (guests_alive)"},
			never: []string{"fence"},
		},
		{
			name: "libvirtd down (unknown) is never fenced",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2"}, "g1@h1")
				lose(&s, "h1", Unknown, now.Add(-5*time.Second))
				s.Hosts[0].Libvirt = ProbeRefused
				return s
			},
			never: []string{"fence", "hold"},
		},
		{
			name: "a lost host with no protected VM is not fenced",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2"}, "g1@h2")
				lose(&s, "h1", Failed, now.Add(-2*time.Second))
				return s
			},
			want:  []string{"hold h1 (no_protected_vms)"},
			never: []string{"fence"},
		},
		{
			name: "a fenced host that answers again has its fence cleared",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2"})
				s.Guards.Fences["h1"] = FenceRecord{Host: "h1", Attempted: now.Add(-time.Minute), Outcome: FenceVerified, At: now.Add(-time.Minute)}
				return s
			},
			want: []string{"clear_fence h1 (host_back)"},
		},
		{
			name: "no room: the VM is reported stuck and stays queued",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2"}, "big@h1")
				s.VMs[0].MemoryMiB = 16384
				lose(&s, "h1", Fenced, now.Add(-time.Minute))
				fenced(&s, "h1", now.Add(-time.Minute))
				return s
			},
			want:  []string{"stuck big on h1 (no_placement)"},
			never: []string{"restart"},
		},
		{
			name: "restarts within the concurrency, highest priority first",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3"}, "a@h1", "b@h1", "c@h1")
				s.VMs[2].Priority = 10
				s.Config.RestartConcurrency = 2
				s.Restarting = map[string]bool{"u-a": true}
				lose(&s, "h1", Fenced, now.Add(-time.Minute))
				fenced(&s, "h1", now.Add(-time.Minute))
				return s
			},
			want:  []string{"restart c h1->h2 (restart_after_fence)"},
			never: []string{"restart a", "restart b"},
		},
		{
			name: "a freeze holds restarts, except after an operator's confirm-off",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2", "h3", "h4"}, "a@h1", "b@h2")
				lose(&s, "h1", Fenced, now.Add(-time.Minute))
				s.Guards.Fences["h1"] = FenceRecord{Host: "h1", Outcome: FenceConfirmedOff, At: now.Add(-time.Second), By: "operator"}
				lose(&s, "h2", Fenced, now.Add(-time.Minute))
				fenced(&s, "h2", now.Add(-time.Minute))
				s.Guards.Freeze = Freeze{Frozen: true, Reason: ReasonMassFailure, Since: now.Add(-50 * time.Second), Hosts: []string{"h1", "h2"}}
				return s
			},
			want:  []string{"restart a h1->h3 (restart_after_operator_confirmed_off)", "hold h2 (frozen)"},
			never: []string{"restart b"},
		},
		{
			name: "approval mode: a lost host gets a plan first",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2"}, "g1@h1")
				s.Hosts[0].RecoveryMode = ApprovalApprove
				lose(&s, "h1", Failed, now.Add(-2*time.Second))
				return s
			},
			want:  []string{"propose_plan h1 (needs_approval)"},
			never: []string{"fence"},
		},
		{
			name: "approval mode: a pending plan holds the fence",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2"}, "g1@h1")
				s.Hosts[0].RecoveryMode = ApprovalApprove
				s.Plans = []PlanRef{{ID: "p-1", Kind: PlanKindRecovery, Host: "h1", State: PlanPending}}
				lose(&s, "h1", Failed, now.Add(-2*time.Second))
				return s
			},
			want:  []string{"hold h1 (awaiting_approval)"},
			never: []string{"fence", "propose_plan"},
		},
		{
			name: "approval mode: an approved plan fences",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2"}, "g1@h1")
				s.Hosts[0].RecoveryMode = ApprovalApprove
				s.Plans = []PlanRef{{ID: "p-1", Kind: PlanKindRecovery, Host: "h1", State: PlanApproved}}
				lose(&s, "h1", Failed, now.Add(-2*time.Second))
				return s
			},
			want: []string{"fence h1 (host_lost)"},
		},
		{
			name: "approval mode: a rejected plan holds until its retry time, then is proposed again",
			snap: func() Snapshot {
				s := cluster([]string{"h1", "h2"}, "g1@h1")
				s.Hosts[0].RecoveryMode = ApprovalApprove
				s.Plans = []PlanRef{{ID: "p-1", Kind: PlanKindRecovery, Host: "h1", State: PlanRejected, RetryAt: now.Add(time.Minute)}}
				lose(&s, "h1", Failed, now.Add(-2*time.Second))
				return s
			},
			want:  []string{"hold h1 (plan_declined)"},
			never: []string{"fence", "propose_plan"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.snap()
			before := fmt.Sprintf("%+v", s)
			got := log(Reconcile(s, now))
			if after := fmt.Sprintf("%+v", s); after != before {
				t.Fatal("Reconcile changed its snapshot")
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("missing %q in\n%s", w, strings.Join(got, "\n"))
				}
			}
			for _, n := range tc.never {
				for _, g := range got {
					if strings.HasPrefix(g, n) {
						t.Errorf("unexpected %q in\n%s", g, strings.Join(got, "\n"))
					}
				}
			}
			if again := log(Reconcile(tc.snap(), now)); !slices.Equal(again, got) {
				t.Errorf("not deterministic:\n%v\n%v", got, again)
			}
		})
	}
}

func TestConfirmOffRefusal(t *testing.T) {
	cfg := DefaultDetectorConfig()
	now := t0
	base := func() (Verdict, Signals) {
		return Verdict{State: Unreachable}, Signals{Host: "h1", Libvirt: LibvirtSignal{Result: ProbeTimeout},
			BMC: BMCSignal{Configured: true, Reachable: false}}
	}
	tests := []struct {
		name   string
		change func(*Verdict, *Signals)
		refuse string // "" = accepted; else a word of the refusal
	}{
		{"unreachable, BMC dead: accepted", func(*Verdict, *Signals) {}, ""},
		{"libvirt answers", func(v *Verdict, s *Signals) { s.Libvirt.Result = ProbeOK; v.State = Healthy }, "answers on libvirt"},
		{"libvirtd down, host alive", func(v *Verdict, s *Signals) { s.Libvirt.Result = ProbeRefused; v.State = Unknown }, "answers on the network"},
		{"BMC reads power on", func(_ *Verdict, s *Signals) {
			s.BMC = BMCSignal{Configured: true, Reachable: true, At: now, Power: PowerOn}
		}, "power on"},
		{"a stale BMC reading proves nothing", func(_ *Verdict, s *Signals) {
			s.BMC = BMCSignal{Configured: true, Reachable: true, At: now.Add(-time.Hour), Power: PowerOn}
		}, ""},
		{"BMC reads off: accepted", func(v *Verdict, s *Signals) {
			s.BMC = BMCSignal{Configured: true, Reachable: true, At: now, Power: PowerOff}
			v.State = Failed
		}, ""},
		{"guests answer", func(v *Verdict, s *Signals) {
			s.Guests = GuestSignal{Configured: true, At: now, Known: 2, Answering: 1}
		}, "guests"},
		{"no observation yet", func(v *Verdict, s *Signals) { s.Libvirt.Result = ProbeNone; v.State = Unknown }, "only a failed or unreachable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, s := base()
			tc.change(&v, &s)
			got := ConfirmOffRefusal(cfg, v, s, now)
			if tc.refuse == "" && got != "" {
				t.Fatalf("refused: %s", got)
			}
			if tc.refuse != "" && !strings.Contains(got, tc.refuse) {
				t.Fatalf("got %q, want a refusal saying %q", got, tc.refuse)
			}
		})
	}
}

// TestDetectorConfirmedOff: an operator's confirm-off reads as such, never as a verified fence.
func TestDetectorConfirmedOff(t *testing.T) {
	s := Signals{Host: "h1", Libvirt: LibvirtSignal{Result: ProbeTimeout, FailingSince: t0}, FencedAt: t0.Add(time.Second), ConfirmedOff: true}
	v, _ := Decide(DefaultDetectorConfig(), Track{State: Unreachable}, s, t0.Add(2*time.Second))
	if v.State != Fenced || v.Reason != ReasonConfirmedOff || strings.Contains(v.Message, "verified)") {
		t.Fatalf("verdict %+v", v)
	}
}

func TestEvacuations(t *testing.T) {
	s := cluster([]string{"h1", "h2", "h3:standby"}, "a@h1", "b@h1", "c@h1", "d@h2")
	s.Hosts[0].Verdict = Verdict{Host: "h1", State: Degraded, Message: "BMC critical: PSU 2 lost input"}
	s.VMs[1].Priority = 5
	s.VMs[2].State = "paused"
	s.VMs[2].Name = "c-paused"
	s.Migrating = map[string]bool{"u-a": true}
	evs := Evacuations(s)
	if len(evs) != 1 || evs[0].Host != "h1" || evs[0].Drain {
		t.Fatalf("evacuations %+v", evs)
	}
	ev := evs[0]
	if got := log(ev.Moves); !slices.Equal(got, []string{"migrate b h1->h2 (evacuate_degraded)"}) {
		t.Errorf("moves %v (a is migrating already; active hosts before the standby)", got)
	}
	if got := log(ev.Stays); !slices.Equal(got, []string{"hold h1 c-paused (not_migratable)"}) {
		t.Errorf("stays %v: a paused VM is never cold-restarted", got)
	}
	if ev.Left != 2 {
		t.Errorf("left %d, want 2 (a moving, b to move)", ev.Left)
	}
	// Frozen, disarmed or manual: no evacuation of a degraded host; a drain goes on.
	for _, change := range []func(*Snapshot){
		func(s *Snapshot) { s.Guards.Freeze.Frozen = true },
		func(s *Snapshot) { s.Disarmed = true },
		func(s *Snapshot) { s.Config.Automatic = false },
	} {
		s2 := s
		s2.Guards = s.Guards.Clone()
		change(&s2)
		if evs := Evacuations(s2); len(evs) != 0 {
			t.Errorf("evacuated while held back: %+v", evs)
		}
	}
	s.Hosts[1].Draining = true
	s.Hosts[1].Verdict.State = Maintenance
	s.Hosts[2].Verdict.State = Maintenance // nowhere to go for d
	var drain Evacuation
	for _, ev := range Evacuations(s) {
		if ev.Host == "h2" {
			drain = ev
		}
	}
	if !drain.Drain || len(drain.Moves) != 0 || len(drain.Stays) != 1 || drain.Stays[0].Reason != ReasonNoPlacement {
		t.Errorf("drain with no room: %+v", drain)
	}
}

func TestPlanLife(t *testing.T) {
	now := t0.Add(time.Hour)
	s := cluster([]string{"h1", "h2", "h3"}, "a@h1")
	s.Hosts[0].Verdict.State = Degraded
	lose(&s, "h2", Unreachable, now.Add(-5*time.Second))
	if !PlanNeeded(s, PlanKindEvacuation, "h1") || PlanNeeded(s, PlanKindEvacuation, "h3") {
		t.Error("an evacuation is needed while its host is degraded, only")
	}
	if !PlanNeeded(s, PlanKindRecovery, "h2") || PlanNeeded(s, PlanKindRecovery, "h3") {
		t.Error("a recovery is needed while its host is lost, only")
	}
	fenced(&s, "h2", now)
	if PlanNeeded(s, PlanKindRecovery, "h2") {
		t.Error("a recovery of a host that is off is done")
	}
	if !PlanNeeded(s, PlanKindFailback, "h3") || PlanNeeded(s, PlanKindFailback, "nope") {
		t.Error("a failback is needed while its home is healthy; an unknown host needs nothing")
	}
	p := Plan{ID: "p-1", Kind: PlanKindRecovery, State: PlanPending, Created: now.Add(-time.Minute), Expires: now.Add(time.Hour), Deadline: now.Add(-time.Second)}
	if c, ok := PendingPlanChange(p, true, now); !ok || c.State != PlanApproved || !c.Proceeds || c.By != "deadline" {
		t.Errorf("past its deadline a recovery proceeds: %+v %v", c, ok)
	}
	p.Deadline = time.Time{}
	if _, ok := PendingPlanChange(p, true, now); ok {
		t.Error("a pending plan before its TTL, still needed, stays pending")
	}
	if c, ok := PendingPlanChange(p, false, now); !ok || c.State != PlanExpired || c.Why != "no longer needed" {
		t.Errorf("a plan whose situation passed expires: %+v", c)
	}
	p.Expires = now
	if c, ok := PendingPlanChange(p, true, now); !ok || c.State != PlanExpired || c.By != "ttl" {
		t.Errorf("a plan at its TTL expires: %+v", c)
	}
	if !RunningPlanEnds(Plan{Kind: PlanKindFailback, State: PlanRunning}, false) || RunningPlanEnds(Plan{Kind: PlanKindRecovery, State: PlanRunning}, false) {
		t.Error("only evacuations and failbacks end when their situation passes")
	}
}
