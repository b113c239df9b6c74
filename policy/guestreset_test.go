package policy

import (
	"strings"
	"testing"
	"time"
)

func TestGuestResets(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	fault := GuestFault{VM: "db1", UUID: "u1", Host: "h1", Kind: GuestPanicked, Seen: now.Add(-time.Second), Detail: "QMP status guest-panicked"}
	base := func() Snapshot {
		return Snapshot{
			Config: RecoveryConfig{Automatic: true, GuestResets: GuestResetConfig{Enabled: true, MaxResets: 3, Window: time.Hour}},
			Hosts: []HostView{{Name: "h1", Libvirt: ProbeOK, Verdict: Verdict{State: Healthy}},
				{Name: "h2", Libvirt: ProbeTimeout, Verdict: Verdict{State: Failed}}},
			VMs:         []VMView{{Name: "db1", UUID: "u1", Protected: true, Current: "h1", State: "crashed"}},
			Guards:      Guards{Resets: map[string]GuestReset{}},
			GuestFaults: []GuestFault{fault},
		}
	}
	resets := func(times ...time.Duration) map[string]GuestReset {
		r := GuestReset{VM: "db1", UUID: "u1", Host: "h1", Outcome: ResetDone}
		for _, d := range times {
			r.Times = append(r.Times, now.Add(-d))
		}
		return map[string]GuestReset{"u1": r}
	}
	tests := []struct {
		name   string
		change func(*Snapshot)
		want   string // "kind reason", or "" for no action
	}{
		{"restart in place", func(*Snapshot) {}, "reset_guest guest_panicked"},
		{"internal error", func(s *Snapshot) { s.GuestFaults[0].Kind = GuestInternalError }, "reset_guest guest_internal_error"},
		{"crashed and shut off", func(s *Snapshot) { s.GuestFaults[0].Kind = GuestCrashedOff }, "reset_guest guest_crashed_off"},
		{"degraded host", func(s *Snapshot) { s.Hosts[0].Verdict.State = Degraded }, "reset_guest guest_panicked"},
		{"two resets in the window", func(s *Snapshot) { s.Guards.Resets = resets(50*time.Minute, 10*time.Minute) }, "reset_guest guest_panicked"},
		{"limit reached", func(s *Snapshot) { s.Guards.Resets = resets(50*time.Minute, 30*time.Minute, 10*time.Minute) }, "hold guest_reset_limit"},
		{"old resets do not count", func(s *Snapshot) { s.Guards.Resets = resets(3*time.Hour, 2*time.Hour, 10*time.Minute) }, "reset_guest guest_panicked"},
		{"seen before the latest reset", func(s *Snapshot) { s.Guards.Resets = resets(0) }, ""},
		{"not protected", func(s *Snapshot) { s.VMs[0].Protected = false }, "hold not_protected"},
		{"monitoring off", func(s *Snapshot) { s.Config.GuestResets.Enabled = false }, "hold guest_monitoring_off"},
		{"disarmed", func(s *Snapshot) { s.Disarmed = true }, "hold disarmed"},
		{"manual recovery", func(s *Snapshot) { s.Config.Automatic = false }, "hold recovery_manual"},
		{"host suspect", func(s *Snapshot) { s.Hosts[0].Verdict.State = Suspect }, ""},
		{"host libvirt failing", func(s *Snapshot) { s.Hosts[0].Libvirt = ProbeTimeout }, ""},
		{"fault on a failed host", func(s *Snapshot) { s.GuestFaults[0].Host = "h2" }, ""},
		{"already restarting", func(s *Snapshot) { s.Resetting = map[string]bool{"u1": true} }, ""},
		{"migrating", func(s *Snapshot) { s.Migrating = map[string]bool{"u1": true} }, ""},
		{"unknown VM", func(s *Snapshot) { s.VMs = nil }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := base()
			tc.change(&s)
			acts := guestResets(s, now)
			got := ""
			if len(acts) > 0 {
				got = string(acts[0].Kind) + " " + string(acts[0].Reason)
			}
			if got != tc.want || len(acts) > 1 {
				t.Fatalf("actions %v, want %q", acts, tc.want)
			}
			if len(acts) == 1 && !strings.Contains(acts[0].Message, "db1") {
				t.Errorf("message %q does not name the VM", acts[0].Message)
			}
		})
	}
}

func TestGuestResetsForget(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	s := Snapshot{Config: RecoveryConfig{Automatic: true, GuestResets: GuestResetConfig{Enabled: true, MaxResets: 3, Window: time.Hour}},
		Guards: Guards{Resets: map[string]GuestReset{
			"old":    {VM: "old", UUID: "old", Times: []time.Time{now.Add(-2 * time.Hour)}},
			"recent": {VM: "recent", UUID: "recent", Times: []time.Time{now.Add(-2 * time.Hour), now.Add(-time.Minute)}},
		}}}
	acts := guestResets(s, now)
	if len(acts) != 1 || acts[0].Kind != ActForgetReset || acts[0].UUID != "old" || acts[0].Reason != ReasonResetWindowOver {
		t.Fatalf("actions %v, want only forget_reset of old", acts)
	}
}

func TestGuestResetRecord(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	prev := GuestReset{Times: []time.Time{now.Add(-2 * time.Hour), now.Add(-30 * time.Minute)}}
	r := prev.Record(GuestFault{VM: "db1", UUID: "u1", Host: "h1", Kind: GuestPanicked}, time.Hour, now)
	if len(r.Times) != 2 || !r.Times[0].Equal(now.Add(-30*time.Minute)) || !r.Last().Equal(now) || r.Outcome != ResetInFlight || r.Host != "h1" {
		t.Fatalf("record %+v", r)
	}
	if len(prev.Times) != 2 {
		t.Fatal("Record changed the previous record")
	}
}
