package policy

import (
	"strings"
	"testing"
	"time"
)

func TestScoreHealth(t *testing.T) {
	cfg := HealthConfig{DegradeScore: 100, ClearScore: 50, ClearAfter: 10 * time.Second}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	warn := func(key, why string) Observation {
		return Observation{Source: SourceLibvirt, Key: key, Severity: SeverityWarning, Reason: why}
	}
	crit := Observation{Source: SourceBMC, Key: "bmc", Severity: SeverityCritical, Reason: "PSU 2 lost"}

	steps := []struct {
		name     string
		sec      int
		obs      []Observation
		degraded bool
		clearing bool
		want     string
	}{
		{"nothing", 0, nil, false, false, "health score 0"},
		{"one warning is not enough", 1, []Observation{warn("latency", "RPC 2.1s")}, false, false, "RPC 2.1s"},
		{"two warnings add up", 2, []Observation{warn("latency", "RPC 2.1s"), warn("mem", "2% free")}, true, false, "health score 100"},
		{"one warning left: between thresholds, still degraded", 3, []Observation{warn("latency", "RPC 2.1s")}, true, false, "health score 50"},
		{"below clear score: clearing starts", 4, nil, true, true, "below 50"},
		{"still clearing", 13, nil, true, true, "was: libvirt warning"},
		{"a warning between thresholds restarts the clock", 14, []Observation{warn("latency", "RPC 2.1s")}, true, false, ""},
		{"clearing again", 15, nil, true, true, ""},
		{"not yet", 24, nil, true, true, ""},
		{"clear after clear_after", 25, nil, false, false, "health score 0"},
		{"critical alone degrades", 26, []Observation{crit}, true, false, "bmc critical: PSU 2 lost"},
		{"an expired event does not count", 27, []Observation{{Source: SourceLibvirt, Key: "io:x", Severity: SeverityCritical, Expires: at(27)}}, true, true, ""},
	}
	var tr HealthTrack
	for _, s := range steps {
		v, next := ScoreHealth(cfg, tr, s.obs, at(s.sec))
		tr = next
		if v.Degraded != s.degraded || v.Clearing != s.clearing {
			t.Fatalf("%s: degraded=%v clearing=%v, want %v %v (%s)", s.name, v.Degraded, v.Clearing, s.degraded, s.clearing, v.Message)
		}
		if !strings.Contains(v.Message, s.want) {
			t.Fatalf("%s: message %q lacks %q", s.name, v.Message, s.want)
		}
	}
}

func TestDecideUsesHealth(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	lv := LibvirtSignal{Result: ProbeOK, At: now, LastOK: now, OKSince: now.Add(-time.Minute)}
	for _, c := range []struct {
		top    Observation
		clr    bool
		reason Reason
	}{
		{Observation{Source: SourceOperator, Severity: SeverityCritical}, false, ReasonOperatorDegraded},
		{Observation{Source: SourceAlertmanager, Severity: SeverityCritical}, false, ReasonHealthCritical},
		{Observation{Source: SourceLibvirt, Severity: SeverityWarning}, false, ReasonHealthWarning},
		{Observation{Source: SourceBMC, Severity: SeverityCritical}, true, ReasonHealthClearing},
	} {
		v, _ := Decide(DefaultDetectorConfig(), Track{State: Healthy}, Signals{Libvirt: lv, Health: HealthVerdict{Degraded: true, Clearing: c.clr, Top: c.top, Message: "m"}}, now)
		if v.State != Degraded || v.Reason != c.reason {
			t.Errorf("%+v: got %s/%s, want degraded/%s", c.top, v.State, v.Reason, c.reason)
		}
	}
	// A lost host is not merely degraded: health does not mask a failure.
	v, _ := Decide(DefaultDetectorConfig(), Track{State: Degraded}, Signals{Libvirt: LibvirtSignal{Result: ProbeTimeout, FailingSince: now.Add(-10 * time.Second)},
		Health: HealthVerdict{Degraded: true}}, now)
	if v.State == Degraded {
		t.Errorf("lost host stays degraded: %+v", v)
	}
}
