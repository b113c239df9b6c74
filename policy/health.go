package policy

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Severity is how bad a health observation is.
type Severity string

// Severities, and what each adds to a host's health score.
const (
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Weight is the score an observation of this severity adds.
func (s Severity) Weight() int {
	if s == SeverityCritical {
		return 100
	}
	return 50
}

// Observation sources.
const (
	SourceBMC          = "bmc"
	SourceLibvirt      = "libvirt"
	SourceAlertmanager = "alertmanager"
	SourceOperator     = "operator"
)

// Observation is one health signal about a host, from one source.
type Observation struct {
	// Source is bmc, libvirt, alertmanager or operator; Key tells observations of one host apart
	// (e.g. "io:UUID", "alert:FINGERPRINT").
	Source   string
	Key      string
	Severity Severity
	// Reason says what was seen, for people.
	Reason string
	At     time.Time
	// Expires is when the observation stops counting (zero: while it is reported).
	Expires time.Time
}

// HealthConfig tunes the health score.
type HealthConfig struct {
	// DegradeScore: a score at or above it makes the host degraded.
	DegradeScore int
	// ClearScore and ClearAfter are the hysteresis: degraded until the score has stayed below
	// ClearScore for ClearAfter.
	ClearScore int
	ClearAfter time.Duration
}

// HealthTrack is the scorer's memory of one host between evaluations.
type HealthTrack struct {
	Degraded bool
	// Since is when the host became degraded; Top the observation that made it so.
	Since time.Time
	Top   Observation
	// BelowSince is when the score last fell below ClearScore while degraded (zero: not below).
	BelowSince time.Time
}

// HealthVerdict is a host's health at one moment.
type HealthVerdict struct {
	Score    int
	Degraded bool
	// Top is the worst active observation (or, while clearing, the one that degraded the host).
	Top Observation
	// Active are the observations that count now, worst first.
	Active []Observation
	// Clearing is set while a degraded host's score is low but the hysteresis still holds it;
	// ClearIn is how long is left.
	Clearing bool
	ClearIn  time.Duration
	Message  string
}

// ScoreHealth adds up a host's active observations and applies the hysteresis. It is pure.
func ScoreHealth(cfg HealthConfig, prev HealthTrack, obs []Observation, now time.Time) (HealthVerdict, HealthTrack) {
	var v HealthVerdict
	for _, o := range obs {
		if !o.Expires.IsZero() && !now.Before(o.Expires) {
			continue
		}
		v.Active = append(v.Active, o)
		v.Score += o.Severity.Weight()
	}
	sort.SliceStable(v.Active, func(i, j int) bool {
		a, b := v.Active[i], v.Active[j]
		if a.Severity.Weight() != b.Severity.Weight() {
			return a.Severity.Weight() > b.Severity.Weight()
		}
		return a.Key < b.Key
	})
	next := prev
	if len(v.Active) > 0 {
		v.Top = v.Active[0]
	}
	switch {
	case v.Score >= cfg.DegradeScore:
		if !prev.Degraded {
			next.Since = now
		}
		next.Degraded, next.Top, next.BelowSince = true, v.Top, time.Time{}
	case prev.Degraded && v.Score < cfg.ClearScore:
		if prev.BelowSince.IsZero() {
			next.BelowSince = now
		}
		if now.Sub(next.BelowSince) >= cfg.ClearAfter {
			next = HealthTrack{}
		}
	case prev.Degraded:
		// Between the thresholds: still degraded, and the clearing clock starts over.
		next.BelowSince = time.Time{}
		if len(v.Active) > 0 {
			next.Top = v.Top
		}
	}
	v.Degraded = next.Degraded
	if !v.Degraded {
		v.Message = fmt.Sprintf("health score %d (degraded at %d)", v.Score, cfg.DegradeScore)
		if len(v.Active) > 0 {
			v.Message += ": " + strings.TrimPrefix(listReasons(v.Active), "; also ")
		}
		return v, next
	}
	if v.Top.Key == "" {
		v.Top = next.Top
	}
	if !next.BelowSince.IsZero() {
		v.Clearing, v.ClearIn = true, cfg.ClearAfter-now.Sub(next.BelowSince)
		v.Message = fmt.Sprintf("health score %d, below %d for %s; degraded until it stays there %s (was: %s)",
			v.Score, cfg.ClearScore, now.Sub(next.BelowSince).Round(100*time.Millisecond), cfg.ClearAfter, describe(next.Top))
		return v, next
	}
	v.Message = fmt.Sprintf("health score %d (degraded at %d): %s%s", v.Score, cfg.DegradeScore, describe(v.Top), listReasons(v.Active[min(1, len(v.Active)):]))
	return v, next
}

func describe(o Observation) string {
	if o.Source == "" {
		return "-"
	}
	return fmt.Sprintf("%s %s: %s", o.Source, o.Severity, orDash(o.Reason))
}

func listReasons(obs []Observation) string {
	if len(obs) == 0 {
		return ""
	}
	parts := make([]string, 0, len(obs))
	for _, o := range obs {
		parts = append(parts, describe(o))
	}
	return "; also " + strings.Join(parts, "; ")
}
