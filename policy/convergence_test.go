package policy

import (
	"testing"
	"time"
)

func TestConvergenceLadder(t *testing.T) {
	l := Ladder{Downtimes: []time.Duration{300 * time.Millisecond, time.Second}, StallSamples: 2, MaxDuration: time.Hour}
	var st ConvergenceState
	var kinds []ConvergenceActionKind
	for i, rem := range []uint64{100, 80, 80, 80, 80, 80, 80} {
		var a ConvergenceAction
		a, st = DecideConvergence(l, st, ConvergenceSample{Elapsed: time.Duration(i) * time.Second, DataRemaining: rem << 20})
		kinds = append(kinds, a.Kind)
		if a.Reason == "" {
			t.Fatal("action without reason")
		}
	}
	want := []ConvergenceActionKind{ConvergeWait, ConvergeWait, ConvergeWait, ConvergeRaiseDowntime, ConvergeWait, ConvergeAbort, ConvergeWait}
	for i := range want[:6] {
		if kinds[i] != want[i] {
			t.Fatalf("step %d: %v, want %v (all %v)", i, kinds[i], want[i], kinds)
		}
	}
	// With post-copy allowed the last rung is post-copy, and then it waits.
	l.PostCopy = true
	st = ConvergenceState{Step: 1, BestRemaining: 10}
	a, st := DecideConvergence(l, st, ConvergenceSample{DataRemaining: 10})
	a, st = DecideConvergence(l, st, ConvergenceSample{DataRemaining: 10})
	if a.Kind != ConvergePostCopy {
		t.Fatalf("want post-copy, got %+v", a)
	}
	if a, _ = DecideConvergence(l, st, ConvergenceSample{DataRemaining: 10}); a.Kind != ConvergeWait {
		t.Fatalf("after post-copy: %+v", a)
	}
	// Too long is an abort.
	if a, _ := DecideConvergence(l, ConvergenceState{}, ConvergenceSample{Elapsed: 2 * time.Hour, DataRemaining: 1}); a.Kind != ConvergeAbort {
		t.Fatalf("over MaxDuration: %+v", a)
	}
}

// Within a pass the remaining data falls and a new pass starts higher: that is not a stall.
func TestConvergenceByPass(t *testing.T) {
	l := Ladder{Downtimes: []time.Duration{300 * time.Millisecond, time.Second}, StallSamples: 2, MaxDuration: time.Hour}
	var st ConvergenceState
	samples := []ConvergenceSample{
		{Iteration: 1, DataRemaining: 100 << 20}, {Iteration: 1, DataRemaining: 10 << 20},
		{Iteration: 2, DataRemaining: 40 << 20}, {Iteration: 2, DataRemaining: 5 << 20}, {Iteration: 2, DataRemaining: 5 << 20}, {Iteration: 2, DataRemaining: 5 << 20},
		{Iteration: 3, DataRemaining: 20 << 20},
	}
	for _, s := range samples {
		var a ConvergenceAction
		a, st = DecideConvergence(l, st, s)
		if a.Kind != ConvergeWait {
			t.Fatalf("a converging migration escalated at %+v: %+v", s, a)
		}
	}
	// Pass 4 starts with as much as pass 3: a stall, the ladder climbs; pass 5 the same: abort.
	a, st := DecideConvergence(l, st, ConvergenceSample{Iteration: 4, DataRemaining: 20 << 20})
	if a.Kind != ConvergeRaiseDowntime || a.Downtime != time.Second {
		t.Fatalf("pass 4: %+v", a)
	}
	if a, _ = DecideConvergence(l, st, ConvergenceSample{Iteration: 5, DataRemaining: 21 << 20}); a.Kind != ConvergeAbort {
		t.Fatalf("pass 5: %+v", a)
	}
}
