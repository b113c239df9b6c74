package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

var tWhatIf = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testSnapshot builds a healthy, fully heard snapshot: hosts "name:role:memMiB:vcpus" and VMs
// "name@host:memMiB:vcpus:prio" (all protected and restartable), with the default recovery
// settings.
func testSnapshot(hosts []string, vms []string) Snapshot {
	s := Snapshot{Config: RecoveryConfig{Automatic: true, MassFailureFraction: 0.34, MassFailureWindow: 10 * time.Second,
		FenceWindow: 10 * time.Minute, RestartConcurrency: 4, Placement: PlacementConfig{MemoryOvercommit: 1, CPUOvercommit: 4}},
		Guards:  Guards{Fences: map[string]FenceRecord{}, Restarts: map[string]RestartRecord{}},
		Fencing: map[string]bool{}, Restarting: map[string]bool{}}
	for _, spec := range hosts {
		var name, role string
		var mem, cpu int
		specFields(spec, &name, &role, &mem, &cpu)
		s.Hosts = append(s.Hosts, HostView{Name: name, Role: role, Verdict: Verdict{Host: name, State: Healthy, Reason: ReasonLibvirtOK},
			Libvirt: ProbeOK, BMCConfigured: true, BMCReachable: true, Heard: true, MemoryMiB: mem, VCPUs: cpu, RecoveryMode: ApprovalAutomatic})
	}
	for _, spec := range vms {
		at := strings.SplitN(spec, "@", 2)
		var host string
		var mem, cpu, prio int
		specFields(at[1], &host, &mem, &cpu, &prio)
		s.VMs = append(s.VMs, VMView{Name: at[0], UUID: "uuid-" + at[0], Protected: true, Restartable: true, Priority: prio,
			MemoryMiB: mem, VCPUs: cpu, Current: host, Home: host, State: "running"})
	}
	return s
}

// specFields splits "a:b:c" into string and int pointers.
func specFields(spec string, out ...any) {
	parts := strings.Split(spec, ":")
	for i, p := range out {
		switch v := p.(type) {
		case *string:
			*v = parts[i]
		case *int:
			n := 0
			for _, c := range parts[i] {
				n = n*10 + int(c-'0')
			}
			*v = n
		}
	}
}

// restartMoves renders restarts as "vm:from->to".
func restartMoves(rs []WhatIfRestart) []string {
	out := []string{}
	for _, r := range rs {
		out = append(out, r.VM+":"+r.From+"->"+r.To)
	}
	return out
}

func stuckVMs(ss []WhatIfStuck) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.VM+"@"+s.From)
	}
	return out
}

func holdCodes(hs []WhatIfHold) []string {
	out := []string{}
	for _, h := range hs {
		out = append(out, h.Host+":"+string(h.Code))
	}
	return out
}

func TestWhatIf(t *testing.T) {
	three := []string{"h1:active:8192:8", "h2:active:8192:8", "h3:standby:8192:8"}
	cases := []struct {
		name     string
		snap     func() Snapshot
		fail     []string
		frozen   bool
		fences   []string
		restarts []string
		stuck    []string
		held     []string
	}{
		{name: "one active and one spare fail over",
			snap: func() Snapshot {
				return testSnapshot([]string{"a:active:8192:8", "b:standby:8192:8"}, []string{"web@a:2048:2:0", "db@a:4096:2:10"})
			},
			fail: []string{"a"}, fences: []string{"a"}, restarts: []string{"db:a->b", "web:a->b"}},
		{name: "standby preferred, priority first, room runs out",
			snap: func() Snapshot {
				return testSnapshot(three, []string{"big@h1:6144:2:1", "small@h1:2048:2:5", "x@h2:4096:2:0", "y@h3:4096:2:0"})
			},
			// h3 has 4096 free, h2 4096: small (prio 5) goes to the standby h3, big fits nowhere.
			fail: []string{"h1"}, fences: []string{"h1"}, restarts: []string{"small:h1->h3"}, stuck: []string{"big@h1"}},
		{name: "two at once is a mass failure: frozen, nothing fenced",
			snap: func() Snapshot { return testSnapshot(three, []string{"a@h1:1024:1:0", "b@h2:1024:1:0"}) },
			fail: []string{"h2", "h1", "h1"}, frozen: true, fences: []string{}, restarts: []string{},
			held: []string{"h1:frozen", "h2:frozen"}},
		{name: "a host without protected VMs is not fenced",
			snap: func() Snapshot { return testSnapshot(three, []string{"a@h1:1024:1:0"}) },
			fail: []string{"h2"}, fences: []string{}, restarts: []string{}, held: []string{"h2:no_protected_vms"}},
		{name: "manual recovery holds the fence",
			snap: func() Snapshot {
				s := testSnapshot(three, []string{"a@h1:1024:1:0"})
				s.Config.Automatic = false
				return s
			},
			fail: []string{"h1"}, fences: []string{}, restarts: []string{}, held: []string{"h1:recovery_manual"}},
		{name: "disarmed holds the fence",
			snap: func() Snapshot {
				s := testSnapshot(three, []string{"a@h1:1024:1:0"})
				s.Disarmed = true
				return s
			},
			fail: []string{"h1"}, fences: []string{}, restarts: []string{}, held: []string{"h1:disarmed"}},
		{name: "approval mode: the plan is shown as approved, and said to wait",
			snap: func() Snapshot {
				s := testSnapshot(three, []string{"a@h1:1024:1:0"})
				s.Hosts[0].RecoveryMode = ApprovalApprove
				return s
			},
			fail: []string{"h1"}, fences: []string{"h1"}, restarts: []string{"a:h1->h3"}, held: []string{"h1:needs_approval"}},
		{name: "notify-only: never fenced by lifeboat",
			snap: func() Snapshot {
				s := testSnapshot(three, []string{"a@h1:1024:1:0"})
				s.Hosts[0].RecoveryMode = ApprovalNotifyOnly
				return s
			},
			fail: []string{"h1"}, fences: []string{}, restarts: []string{}, held: []string{"h1:notify_only"}},
		{name: "fenced within the fence window: no second fence",
			snap: func() Snapshot {
				s := testSnapshot(three, []string{"a@h1:1024:1:0"})
				s.Guards.Fences["h1"] = FenceRecord{Host: "h1", Attempted: tWhatIf.Add(-time.Minute), Outcome: FenceFailed, At: tWhatIf.Add(-time.Minute), Detail: "BMC timeout"}
				return s
			},
			fail: []string{"h1"}, fences: []string{}, restarts: []string{}, held: []string{"h1:fence_window"}},
		{name: "a host fenced long ago and left off does not block a later failure",
			snap: func() Snapshot {
				s := testSnapshot([]string{"h1:active:8192:8", "h2:active:8192:8", "h3:standby:8192:8", "h4:active:8192:8"}, []string{"a@h2:1024:1:0"})
				s.Hosts[0].Verdict.State, s.Hosts[0].Libvirt, s.Hosts[0].BadSince = Fenced, ProbeTimeout, tWhatIf.Add(-time.Hour)
				s.Guards.Fences["h1"] = FenceRecord{Host: "h1", Attempted: tWhatIf.Add(-time.Hour), Outcome: FenceVerified, At: tWhatIf.Add(-time.Hour), By: "redfish"}
				return s
			},
			fail: []string{"h2"}, fences: []string{"h2"}, restarts: []string{"a:h2->h3"}},
		{name: "a VM still queued from an earlier failure restarts too, once",
			snap: func() Snapshot {
				s := testSnapshot(three, []string{"a@h1:1024:1:0", "old@h2:1024:1:5"})
				s.VMs[1].Current, s.VMs[1].State = "", "missing" // its host came back without it
				s.Guards.Restarts["uuid-old"] = RestartRecord{VM: "old", UUID: "uuid-old", From: "h2", Stage: RestartStuck, Since: tWhatIf.Add(-time.Hour)}
				return s
			},
			fail: []string{"h1"}, fences: []string{"h1"}, restarts: []string{"old:h2->h3", "a:h1->h3"}},
		{name: "restarts beyond the concurrency still all happen, and in-flight ones do not block",
			snap: func() Snapshot {
				s := testSnapshot(three, []string{"a@h1:512:1:0", "b@h1:512:1:0", "c@h1:512:1:0", "d@h2:512:1:0"})
				s.Config.RestartConcurrency = 1
				s.Restarting["uuid-d"] = true
				return s
			},
			fail: []string{"h1"}, fences: []string{"h1"}, restarts: []string{"a:h1->h3", "b:h1->h3", "c:h1->h3"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.snap()
			before := s.clone()
			res, err := WhatIf(s, tc.fail, tWhatIf)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s, before) {
				t.Error("WhatIf changed its snapshot")
			}
			if res.Frozen != tc.frozen || (res.Frozen && !strings.Contains(res.Reason, "mass failure")) {
				t.Errorf("frozen %v (%q), want %v", res.Frozen, res.Reason, tc.frozen)
			}
			if tc.fences == nil {
				tc.fences = []string{}
			}
			check := func(what string, got, want []string) {
				t.Helper()
				if want == nil {
					want = []string{}
				}
				if !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %q, want %q", what, got, want)
				}
			}
			check("fences", res.Fences, tc.fences)
			check("restarts", restartMoves(res.Restarts), tc.restarts)
			check("stuck", stuckVMs(res.Stuck), tc.stuck)
			check("held", holdCodes(res.Held), tc.held)
			for _, r := range res.Restarts {
				if r.Reason == "" {
					t.Errorf("restart of %s has no reason", r.VM)
				}
			}
		})
	}
}

func TestWhatIfFailSortedAndStuckSaysWhy(t *testing.T) {
	s := testSnapshot([]string{"a:active:4096:4", "b:standby:2048:2"}, []string{"big@a:3072:2:0"})
	res, err := WhatIf(s, []string{"a", "a"}, tWhatIf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Fail, []string{"a"}) || len(res.Stuck) != 1 || !strings.Contains(res.Stuck[0].Why, "memory") {
		t.Errorf("fail %v, stuck %+v", res.Fail, res.Stuck)
	}
}

func TestWhatIfRejectsUnknownAndEmpty(t *testing.T) {
	s := testSnapshot([]string{"h1:active:4096:4", "h2:standby:4096:4"}, nil)
	_, err := WhatIf(s, []string{"h1", "nope", "h9"}, tWhatIf)
	if !errors.Is(err, ErrUnknownHost) || !strings.Contains(err.Error(), `"h9"`) || !strings.Contains(err.Error(), `"nope"`) || strings.Contains(err.Error(), `"h1"`) {
		t.Errorf("unknown hosts: %v", err)
	}
	if _, err := WhatIf(s, nil, tWhatIf); !errors.Is(err, ErrNoHosts) {
		t.Errorf("no hosts: %v", err)
	}
}
