package policy

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// FailbackConfig tunes the return of VMs to their home hosts.
type FailbackConfig struct {
	// StableFor: a home host must have been healthy this long before VMs return to it. A host
	// that went bad (degraded, failed, unreachable) more than once within the flap window must
	// stay healthy twice as long for each spell beyond the first, up to 8 times.
	StableFor time.Duration
	// WaveSize VMs return per wave, WaveInterval apart; a wave starts only when the previous
	// one has finished.
	WaveSize     int
	WaveInterval time.Duration
}

// FailbackHost is a possible home host: its state, since when, and its recent bad spells.
type FailbackHost struct {
	Name  string
	State HostState
	Since time.Time
	// Spells counts the host's bad spells (degraded, failed, unreachable) in the flap window.
	Spells int
	// Held is set while the failback to this host waits for a person (approval mode).
	Held bool
}

// FailbackVM is a VM that may be away from home.
type FailbackVM struct {
	Name, UUID    string
	Current, Home string
	Priority      int
	// Running is false for a VM that cannot be live-migrated now (not running, or its host's
	// libvirt does not answer); Busy when a migration or restart of it is under way or its last
	// failback failed a moment ago; NoFailback when a setting keeps it where it is.
	Running, Busy, NoFailback bool
}

// Wait says why a home host's VMs do not return yet: Code is stable (for deduplication),
// Message is for people.
type Wait struct {
	Code    string
	Message string
}

// Wait codes.
const (
	WaitHomeState    = "home_state"
	WaitStabilising  = "stabilising"
	WaitApproval     = "approval"
	WaitWaveInFlight = "wave_in_flight"
	WaitWaveInterval = "wave_interval"
	WaitNoFit        = "no_fit"
)

// FailbackPlan is what to send home now, and why the rest waits.
type FailbackPlan struct {
	Moves []Move
	// Waiting explains, per home host, why its VMs do not return yet.
	Waiting map[string]Wait
	// Away counts, per home host, the VMs away from it that may return (not nofailback).
	Away map[string]int
}

// FailbackStable reports whether a home host has been healthy long enough to take its VMs
// back, and if not, why.
func FailbackStable(cfg FailbackConfig, h FailbackHost, now time.Time) (bool, Wait) {
	if h.State != Healthy {
		return false, Wait{WaitHomeState, fmt.Sprintf("%s is %s", h.Name, h.State)}
	}
	need := cfg.StableFor
	for i := 1; i < h.Spells && i < 4; i++ {
		need *= 2
	}
	if up := now.Sub(h.Since); up < need {
		flap := ""
		if need != cfg.StableFor {
			flap = fmt.Sprintf(", longer because it went bad %d times lately", h.Spells)
		}
		return false, Wait{WaitStabilising, fmt.Sprintf("%s has been healthy for %s of the %s it needs (failback.stable_for %s%s)",
			h.Name, up.Round(100*time.Millisecond), need, cfg.StableFor, flap)}
	}
	return true, Wait{}
}

// PlanFailback picks the next wave of VMs to return home. lastWave is when the previous wave
// started and inFlight how many of its moves are still running. It is pure.
func PlanFailback(cfg FailbackConfig, hosts []FailbackHost, vms []FailbackVM, lastWave time.Time, inFlight int, now time.Time) FailbackPlan {
	plan := FailbackPlan{Waiting: map[string]Wait{}, Away: map[string]int{}}
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
		if ok, w := FailbackStable(cfg, home, now); !ok {
			plan.Waiting[vm.Home] = w
			continue
		}
		if home.Held {
			plan.Waiting[vm.Home] = Wait{WaitApproval, "the failback to " + vm.Home + " waits for its plan's approval"}
			continue
		}
		if vm.Running && !vm.Busy {
			ready = append(ready, vm)
		}
	}
	if len(ready) == 0 {
		return plan
	}
	if inFlight > 0 {
		for _, vm := range ready {
			plan.Waiting[vm.Home] = Wait{WaitWaveInFlight, "the previous failback wave is still running"}
		}
		return plan
	}
	if !lastWave.IsZero() && now.Sub(lastWave) < cfg.WaveInterval {
		for _, vm := range ready {
			plan.Waiting[vm.Home] = Wait{WaitWaveInterval, fmt.Sprintf("waves go failback.wave_interval (%s) apart", cfg.WaveInterval)}
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
		plan.Moves = append(plan.Moves, Move{VM: vm.Name, UUID: vm.UUID, From: vm.Current, To: vm.Home,
			Why: fmt.Sprintf("failback: %s is its home and has been healthy for %s", vm.Home, now.Sub(home.Since).Round(time.Second))})
	}
	return plan
}

// FitFailback keeps the moves of a wave that fit their home host, counting the wave's earlier
// moves; a move that does not fit waits (WaitNoFit) and its home host says why. vms gives each
// moving VM's request by UUID.
func FitFailback(plan FailbackPlan, cfg PlacementConfig, caps []HostCapacity, vms map[string]VMRequest) FailbackPlan {
	byName := make(map[string]HostCapacity, len(caps))
	for _, h := range caps {
		byName[h.Name] = h
	}
	fit := plan.Moves[:0:0]
	for _, mv := range plan.Moves {
		req := vms[mv.UUID]
		target := byName[mv.To]
		pl := Place(cfg, []HostCapacity{target}, req)
		if pl.Host == "" {
			plan.Waiting[mv.To] = Wait{Code: WaitNoFit, Message: fmt.Sprintf("%s does not fit on %s now: %s", mv.VM, mv.To, pl.Reason)}
			continue
		}
		target.UsedMemoryMiB += req.MemoryMiB
		target.UsedVCPUs += req.VCPUs
		target.VMs = append(slices.Clone(target.VMs), req.Name)
		byName[mv.To] = target
		fit = append(fit, mv)
	}
	plan.Moves = fit
	return plan
}

// FailbackCancels picks the failback migrations under way (by id, to their home host) whose
// home is no longer healthy: nothing lands on a host that went bad again inside its window.
func FailbackCancels(inFlight map[string]string, hosts []FailbackHost) []string {
	state := make(map[string]HostState, len(hosts))
	for _, h := range hosts {
		state[h.Name] = h.State
	}
	var out []string
	for id, to := range inFlight {
		if s, ok := state[to]; ok && s != Healthy {
			out = append(out, id)
		}
	}
	sort.Strings(out)
	return out
}

// FailbackHomes lists, per home host ready to take VMs back (healthy for long enough), every VM
// that would return there: the diff of that home's failback plan, sorted by VM.
func FailbackHomes(cfg FailbackConfig, hosts []FailbackHost, vms []FailbackVM, now time.Time) map[string][]Move {
	out := map[string][]Move{}
	for _, h := range hosts {
		if ok, _ := FailbackStable(cfg, h, now); !ok {
			continue
		}
		for _, vm := range vms {
			if vm.Home != h.Name || vm.NoFailback || vm.Current == "" || vm.Current == vm.Home {
				continue
			}
			out[h.Name] = append(out[h.Name], Move{VM: vm.Name, UUID: vm.UUID, From: vm.Current, To: h.Name, Why: "its home host, healthy again"})
		}
		sort.Slice(out[h.Name], func(i, j int) bool { return out[h.Name][i].VM < out[h.Name][j].VM })
	}
	return out
}
