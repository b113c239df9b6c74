package policy

import (
	"fmt"
	"time"
)

// Ladder is a live migration's escalation ladder: what to try, in order, when it stops converging.
type Ladder struct {
	// Downtimes are the max-downtime steps to raise to, one per stall (the first is the start).
	Downtimes []time.Duration
	// StallSamples: this many progress samples in a row without the remaining data shrinking
	// is a stall.
	StallSamples int
	// PostCopy (opt-in) switches to post-copy once the downtime steps are spent.
	PostCopy bool
	// MaxDuration aborts a migration that has run this long, whatever its progress.
	MaxDuration time.Duration
}

// DefaultLadder raises max downtime 300 ms → 500 ms → 1 s → 2 s on stalls of 4 samples, then
// aborts (post-copy is opt-in), and gives up after 5 minutes.
func DefaultLadder() Ladder {
	return Ladder{Downtimes: []time.Duration{300 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second},
		StallSamples: 4, MaxDuration: 5 * time.Minute}
}

// ConvergenceSample is one progress sample of a running migration.
type ConvergenceSample struct {
	Elapsed       time.Duration
	DataRemaining uint64
	// Iteration is the memory pass (1 for the first); 0 when the hypervisor does not say.
	Iteration uint64
	PostCopy  bool
}

// ConvergenceState is the convergence watcher's memory between samples.
type ConvergenceState struct {
	// Step is the index in Ladder.Downtimes of the downtime in force.
	Step int
	// BestRemaining is the smallest remaining data seen; Stalled counts samples without a new best.
	BestRemaining uint64
	Stalled       int
	PostCopy      bool
	// Iteration and PassStart are the current pass and the data that remained when it began.
	Iteration uint64
	PassStart uint64
}

// ConvergenceActionKind is what the watcher asks for.
type ConvergenceActionKind string

// Convergence actions.
const (
	ConvergeWait          ConvergenceActionKind = "wait"
	ConvergeRaiseDowntime ConvergenceActionKind = "raise_downtime"
	ConvergePostCopy      ConvergenceActionKind = "post_copy"
	ConvergeAbort         ConvergenceActionKind = "abort"
)

// ConvergenceAction is the watcher's decision for one sample, with its reason.
type ConvergenceAction struct {
	Kind     ConvergenceActionKind
	Downtime time.Duration
	Reason   string
}

// DecideConvergence watches one migration's progress: it waits while the remaining data shrinks
// (from pass to pass when the hypervisor numbers its passes), and on a stall climbs the ladder: a higher max downtime, then post-copy if allowed, then abort
// (the VM stays on its source). It is pure.
func DecideConvergence(l Ladder, st ConvergenceState, s ConvergenceSample) (ConvergenceAction, ConvergenceState) {
	if l.StallSamples <= 0 {
		l.StallSamples = 4
	}
	if st.PostCopy || s.PostCopy {
		st.PostCopy = true
		return ConvergenceAction{Kind: ConvergeWait, Reason: "post-copy: the VM runs on the destination, pages follow"}, st
	}
	if l.MaxDuration > 0 && s.Elapsed >= l.MaxDuration {
		return ConvergenceAction{Kind: ConvergeAbort, Reason: fmt.Sprintf("ran %s, the limit is %s", s.Elapsed.Round(time.Second), l.MaxDuration)}, st
	}
	if s.Iteration > 0 {
		// With pass numbers, progress is judged pass against pass: within a pass the remaining
		// data always falls, and a new pass starts from what was dirtied meanwhile. A pass that
		// starts with less than 10% less to send than the one before is a stall.
		if s.Iteration == st.Iteration {
			return ConvergenceAction{Kind: ConvergeWait, Reason: fmt.Sprintf("pass %d under way", s.Iteration)}, st
		}
		prev := st.PassStart
		st.Iteration, st.PassStart = s.Iteration, s.DataRemaining
		if prev == 0 || s.DataRemaining*10 < prev*9 || s.Iteration < 2 {
			return ConvergenceAction{Kind: ConvergeWait, Reason: fmt.Sprintf("pass %d: converging", s.Iteration)}, st
		}
		return escalate(l, st, fmt.Sprintf("pass %d starts with %d MiB to send, pass %d started with %d MiB", s.Iteration, s.DataRemaining>>20, s.Iteration-1, prev>>20))
	}
	if st.BestRemaining == 0 || s.DataRemaining < st.BestRemaining {
		st.BestRemaining, st.Stalled = s.DataRemaining, 0
		return ConvergenceAction{Kind: ConvergeWait, Reason: "converging"}, st
	}
	st.Stalled++
	if st.Stalled < l.StallSamples {
		return ConvergenceAction{Kind: ConvergeWait, Reason: fmt.Sprintf("no progress for %d samples", st.Stalled)}, st
	}
	st.Stalled = 0
	return escalate(l, st, fmt.Sprintf("no progress for %d samples (%d MiB remain)", l.StallSamples, s.DataRemaining>>20))
}

// escalate climbs one rung of the ladder after a stall.
func escalate(l Ladder, st ConvergenceState, stalled string) (ConvergenceAction, ConvergenceState) {
	if st.Step+1 < len(l.Downtimes) {
		st.Step++
		d := l.Downtimes[st.Step]
		return ConvergenceAction{Kind: ConvergeRaiseDowntime, Downtime: d, Reason: stalled + fmt.Sprintf(": max downtime raised to %s", d)}, st
	}
	if l.PostCopy {
		st.PostCopy = true
		return ConvergenceAction{Kind: ConvergePostCopy, Reason: stalled + ": downtime steps spent, switching to post-copy"}, st
	}
	return ConvergenceAction{Kind: ConvergeAbort, Reason: stalled + ": downtime steps spent and post-copy not allowed; aborted, the VM stays on its source"}, st
}
