package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// epoch is the simulated wall-clock time of a scenario's 0s.
var epoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// Line is one line of the action log.
type Line struct {
	At   time.Duration `json:"at"`
	Text string        `json:"text"`
}

// String is the line as the log shows it: "3.5s fence h1 (host_lost)".
func (l Line) String() string { return FormatAt(l.At) + " " + l.Text }

// Placement is where a VM runs when the scenario ends (Hosts empty: nowhere).
type Placement struct {
	VM    string   `json:"vm"`
	Hosts []string `json:"hosts"`
}

// Result is what a scenario run produced: the action log, the invariant violations (empty when
// every invariant held) and where every VM runs at the end.
type Result struct {
	Lines      []Line      `json:"log"`
	Violations []string    `json:"violations"`
	Final      []Placement `json:"final"`
}

// Log is the action log as text lines.
func (r Result) Log() []string {
	out := make([]string, 0, len(r.Lines))
	for _, l := range r.Lines {
		out = append(out, l.String())
	}
	return out
}

// FormatAt formats a scenario time as seconds with at least one decimal: "3.0s", "0.25s".
func FormatAt(d time.Duration) string {
	s := strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s + "s"
}

// run is one scenario being simulated.
type run struct {
	sc    Scenario
	w     *world
	c     *controller
	lines []Line
	// violations holds each violation once.
	violations []string
	last       []policy.Action
}

func (r *run) logf(now time.Time, format string, args ...any) {
	r.lines = append(r.lines, Line{At: now.Sub(epoch), Text: fmt.Sprintf(format, args...)})
}

// violate records an invariant violation (once) and logs it.
func (r *run) violate(now time.Time, what string) {
	if slices.Contains(r.violations, what) {
		return
	}
	r.violations = append(r.violations, what)
	r.logf(now, "VIOLATION %s", what)
}

// Run simulates a scenario. Time advances in probe-interval steps; an event happens at the
// first step at or after its time. Each step: the world's events, then the jobs that end
// (fence outcomes, VM starts), then the controller's observations and verdicts, then the
// operator's commands, then the plan loop, then one reconcile whose actions are carried out,
// then the invariant checks.
func Run(sc Scenario) Result {
	r := &run{sc: sc, w: newWorld(sc.Cluster), c: newController(sc, epoch)}
	step := sc.Settings.Timings.ProbeInterval
	next := 0
	for t := time.Duration(0); t <= sc.Until; t += step {
		now := epoch.Add(t)
		var ops []Event
		for next < len(sc.Events) && sc.Events[next].At <= t {
			e := sc.Events[next]
			next++
			if e.Verb.operator() {
				ops = append(ops, e)
				continue
			}
			r.event(e, now)
		}
		r.complete(now)
		r.c.observe(r.w, now)
		for _, v := range r.c.decide(now) {
			r.logf(now, "verdict %s %s (%s)", v.Host, v.State, v.Reason)
		}
		for _, e := range ops {
			r.logf(now, "> %s", doText(e))
			r.operator(e, now)
		}
		r.plansOnce(now)
		snap := r.c.snapshot()
		r.last = policy.Reconcile(snap, now)
		r.execute(snap, r.last, now)
		r.check(now, false)
	}
	end := epoch.Add(sc.Until)
	r.check(end, true)
	res := Result{Lines: r.lines, Violations: r.violations}
	for _, vm := range r.c.vms {
		if vm.filler {
			continue
		}
		hs := r.w.runningOn(vm.name)
		res.Final = append(res.Final, Placement{VM: vm.name, Hosts: hs})
		if len(hs) == 0 {
			res.Lines = append(res.Lines, Line{At: sc.Until, Text: "end " + vm.name + " down"})
		} else {
			res.Lines = append(res.Lines, Line{At: sc.Until, Text: "end " + vm.name + " on " + strings.Join(hs, ",")})
		}
	}
	return res
}

// event applies one event that is not an operator's command.
func (r *run) event(e Event, now time.Time) {
	r.logf(now, "> %s", doText(e))
	switch e.Verb {
	case ControllerRestart:
		for h := range r.c.fencing {
			r.logf(now, "fence %s lost: the controller stopped before its outcome", h)
		}
		r.c.restart()
	case Fill:
		r.fill(e.Host)
	case Free:
		r.free(e.Host)
	default:
		if err := r.w.apply(e); err != nil {
			r.violate(now, "scenario error: "+err.Error())
		}
	}
}

func doText(e Event) string {
	switch {
	case e.VM != "":
		return string(e.Verb) + " " + e.VM
	case e.Host == "":
		return string(e.Verb)
	}
	return string(e.Verb) + " " + e.Host
}

// fill uses up a host's free memory with an unprotected VM.
func (r *run) fill(host string) {
	h := r.c.byName[host]
	used := 0
	for _, vm := range r.c.vms {
		if vm.current == host {
			used += vm.memoryMiB
		}
	}
	free := int(float64(h.cfg.MemoryMiB)*r.c.rc.Placement.MemoryOvercommit) - used
	if free <= 0 {
		return
	}
	name := "fill-" + host
	r.c.vms = append(r.c.vms, &vmRecord{name: name, uuid: "uuid-" + name, filler: true, memoryMiB: free, vcpus: 1, current: host, home: host, state: "running"})
	r.w.copies[name] = []string{host}
}

// free removes the VMs that fill a host.
func (r *run) free(host string) {
	name := "fill-" + host
	r.c.vms = slices.DeleteFunc(r.c.vms, func(vm *vmRecord) bool { return vm.name == name })
	delete(r.w.copies, name)
}
