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
