package policy

import (
	"fmt"
	"sort"
	"time"
)

// FailbackConfig tunes the return of VMs to their home hosts.
type FailbackConfig struct {
	// StableFor: a home host must have been healthy this long before VMs return to it.
	StableFor time.Duration
	// WaveSize VMs return per wave, WaveInterval apart; a wave starts only when the previous
	// one has finished.
	WaveSize     int
	WaveInterval time.Duration
}

// FailbackHost is a possible home host: its state and since when.
type FailbackHost struct {
	Name  string
	State HostState
	Since time.Time
}

// FailbackVM is a VM that may be away from home.
type FailbackVM struct {
	Name, UUID    string
	Current, Home string
	Priority      int
	// Running is false for a VM that is not running (it cannot be live-migrated); Busy when a
	// migration of it is already under way; NoFailback when a setting keeps it where it is.
	Running, Busy, NoFailback bool
}

// FailbackMove sends one VM home.
type FailbackMove struct {
	VM, UUID, From, To string
	Why                string
}

// FailbackPlan is what to send home now, and why the rest waits.
type FailbackPlan struct {
	Moves []FailbackMove
	// Waiting explains, per home host, why its VMs do not return yet.
	Waiting map[string]string
	// Away counts, per home host, the VMs away from it that may return (not nofailback).
	Away map[string]int
}

// PlanFailback picks the next wave of VMs to return home. lastWave is when the previous wave
// started and inFlight how many of its moves are still running. It is pure.
func PlanFailback(cfg FailbackConfig, hosts []FailbackHost, vms []FailbackVM, lastWave time.Time, inFlight int, now time.Time) FailbackPlan {
	plan := FailbackPlan{Waiting: map[string]string{}, Away: map[string]int{}}
	byName := make(map[string]FailbackHost, len(hosts))
	for _, h := range hosts {
		byName[h.Name] = h
	}
	var ready []FailbackVM
	for _, vm := range vms {
		home, known := byName[vm.Home]
		if vm.Home == "" || vm.Current == "" || vm.Current == vm.Home || !known || vm.NoFailback {
			continue
		}
		plan.Away[vm.Home]++
		switch {
		case home.State != Healthy:
			plan.Waiting[vm.Home] = fmt.Sprintf("%s is %s", vm.Home, home.State)
		case now.Sub(home.Since) < cfg.StableFor:
			plan.Waiting[vm.Home] = fmt.Sprintf("%s has been healthy for %s of the %s failback.stable_for", vm.Home,
				now.Sub(home.Since).Round(100*time.Millisecond), cfg.StableFor)
		case !vm.Running || vm.Busy:
			// Not this VM now; the others may go.
		default:
			ready = append(ready, vm)
		}
	}
	if len(ready) == 0 {
		return plan
	}
	if inFlight > 0 {
		for _, vm := range ready {
			plan.Waiting[vm.Home] = fmt.Sprintf("the previous failback wave still has %d migrations running", inFlight)
		}
		return plan
	}
	if !lastWave.IsZero() && now.Sub(lastWave) < cfg.WaveInterval {
		for _, vm := range ready {
			plan.Waiting[vm.Home] = fmt.Sprintf("next failback wave in %s (failback.wave_interval %s)",
				(cfg.WaveInterval - now.Sub(lastWave)).Round(100*time.Millisecond), cfg.WaveInterval)
		}
		return plan
	}
	sort.SliceStable(ready, func(i, j int) bool {
		if ready[i].Priority != ready[j].Priority {
			return ready[i].Priority > ready[j].Priority
		}
		return ready[i].Name < ready[j].Name
	})
	for _, vm := range ready[:min(len(ready), max(cfg.WaveSize, 1))] {
		home := byName[vm.Home]
		plan.Moves = append(plan.Moves, FailbackMove{VM: vm.Name, UUID: vm.UUID, From: vm.Current, To: vm.Home,
			Why: fmt.Sprintf("failback: %s is its home and has been healthy for %s (failback.stable_for %s)", vm.Home,
				now.Sub(home.Since).Round(time.Second), cfg.StableFor)})
	}
	return plan
}
