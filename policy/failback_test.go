package policy

import (
	"strings"
	"testing"
	"time"
)

func TestPlanFailback(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cfg := FailbackConfig{StableFor: time.Minute, WaveSize: 2, WaveInterval: 30 * time.Second}
	healthy := func(name string, ago time.Duration) FailbackHost {
		return FailbackHost{Name: name, State: Healthy, Since: now.Add(-ago)}
	}
	vms := []FailbackVM{
		{Name: "a", Current: "h2", Home: "h1", Running: true, Priority: 1},
		{Name: "b", Current: "h2", Home: "h1", Running: true, Priority: 5},
		{Name: "c", Current: "h2", Home: "h1", Running: true, Priority: 3},
		{Name: "d", Current: "h2", Home: "h1", Running: true, NoFailback: true, Priority: 9},
		{Name: "e", Current: "h1", Home: "h1", Running: true},
		{Name: "f", Current: "h2", Home: "h1", Running: false, Priority: 9},
	}
	names := func(p FailbackPlan) string {
		var out []string
		for _, m := range p.Moves {
			out = append(out, m.VM+">"+m.To)
		}
		return strings.Join(out, ",")
	}

	p := PlanFailback(cfg, []FailbackHost{healthy("h1", 10*time.Second), healthy("h2", time.Hour)}, vms, time.Time{}, 0, now)
	if len(p.Moves) != 0 || !strings.Contains(p.Waiting["h1"].Message, "healthy for 10s") || p.Waiting["h1"].Code != WaitStabilising {
		t.Fatalf("inside the stable window: %s, waiting %q", names(p), p.Waiting["h1"])
	}
	if p.Away["h1"] != 4 {
		t.Fatalf("away from h1: %d, want 4 (nofailback excluded)", p.Away["h1"])
	}
	p = PlanFailback(cfg, []FailbackHost{{Name: "h1", State: Degraded, Since: now.Add(-time.Hour)}}, vms, time.Time{}, 0, now)
	if len(p.Moves) != 0 || !strings.Contains(p.Waiting["h1"].Message, "degraded") {
		t.Fatalf("degraded home: %s %q", names(p), p.Waiting["h1"])
	}
	hosts := []FailbackHost{healthy("h1", 2*time.Minute), healthy("h2", time.Hour)}
	if got := names(PlanFailback(cfg, hosts, vms, time.Time{}, 0, now)); got != "b>h1,c>h1" {
		t.Fatalf("first wave: %s, want the two highest priorities (nofailback and stopped VMs stay)", got)
	}
	if p := PlanFailback(cfg, hosts, vms, now.Add(-10*time.Second), 0, now); len(p.Moves) != 0 || p.Waiting["h1"].Code != WaitWaveInterval {
		t.Fatalf("wave interval: %s %q", names(p), p.Waiting["h1"])
	}
	if p := PlanFailback(cfg, hosts, vms, now.Add(-time.Minute), 1, now); len(p.Moves) != 0 {
		t.Fatalf("previous wave in flight: %s", names(p))
	}
	// A flapping home needs longer: 3 spells, 4 times the window.
	flappy := []FailbackHost{{Name: "h1", State: Healthy, Since: now.Add(-3 * time.Minute), Spells: 3}, healthy("h2", time.Hour)}
	if p := PlanFailback(cfg, flappy, vms, time.Time{}, 0, now); len(p.Moves) != 0 || !strings.Contains(p.Waiting["h1"].Message, "4m0s it needs") {
		t.Fatalf("flapping home: %s %q", names(p), p.Waiting["h1"].Message)
	}
	// A failback waiting for approval moves nothing to that home.
	held := []FailbackHost{{Name: "h1", State: Healthy, Since: now.Add(-time.Hour), Held: true}, healthy("h2", time.Hour)}
	if p := PlanFailback(cfg, held, vms, time.Time{}, 0, now); len(p.Moves) != 0 || p.Waiting["h1"].Code != WaitApproval {
		t.Fatalf("held home: %s %+v", names(p), p.Waiting["h1"])
	}
	vms[1].Current, vms[2].Current = "h1", "h1"
	if got := names(PlanFailback(cfg, hosts, vms, now.Add(-time.Minute), 0, now)); got != "a>h1" {
		t.Fatalf("second wave: %s", got)
	}
}

func TestFailbackHomesFitAndCancels(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	cfg := FailbackConfig{StableFor: time.Minute, WaveSize: 3, WaveInterval: time.Second}
	hosts := []FailbackHost{
		{Name: "h1", State: Healthy, Since: now.Add(-2 * time.Minute)},
		{Name: "h2", State: Healthy, Since: now.Add(-10 * time.Second)}, // not stable yet
		{Name: "h3", State: Degraded, Since: now.Add(-time.Hour)},
	}
	vms := []FailbackVM{
		{Name: "b", UUID: "ub", Current: "h3", Home: "h1", Running: true},
		{Name: "a", UUID: "ua", Current: "h3", Home: "h1", Running: true},
		{Name: "c", UUID: "uc", Current: "h3", Home: "h2", Running: true},
		{Name: "n", UUID: "un", Current: "h3", Home: "h1", Running: true, NoFailback: true},
	}
	homes := FailbackHomes(cfg, hosts, vms, now)
	if len(homes) != 1 || len(homes["h1"]) != 2 || homes["h1"][0].VM != "a" || homes["h1"][1].VM != "b" {
		t.Fatalf("homes %+v: only h1 is stable; nofailback VMs stay", homes)
	}
	plan := PlanFailback(cfg, hosts, vms, time.Time{}, 0, now)
	caps := []HostCapacity{{Name: "h1", State: Healthy, MemoryMiB: 1536, VCPUs: 4}}
	reqs := map[string]VMRequest{"ua": {Name: "a", MemoryMiB: 1024, VCPUs: 1}, "ub": {Name: "b", MemoryMiB: 1024, VCPUs: 1}}
	fit := FitFailback(plan, PlacementConfig{MemoryOvercommit: 1, CPUOvercommit: 1}, caps, reqs)
	if len(fit.Moves) != 1 || fit.Moves[0].VM != "a" || fit.Waiting["h1"].Code != WaitNoFit {
		t.Fatalf("a wave must fit its home, counting its earlier moves: %+v", fit)
	}
	if got := FailbackCancels(map[string]string{"m1": "h1", "m2": "h3", "m3": "gone"}, hosts); len(got) != 1 || got[0] != "m2" {
		t.Fatalf("cancels %v: only the move to the degraded home stops", got)
	}
}
