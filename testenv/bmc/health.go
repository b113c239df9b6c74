package bmc

import "time"

// SetHealth sets the system's Status.Health and HealthRollup. For any value
// but HealthOK, reason is shown as the Message of a Status.Conditions entry;
// HealthOK (or "") clears the condition and the reason. A change is sent to
// the event subscribers.
func (s *Server) SetHealth(h Health, reason string) {
	if h == "" {
		h = HealthOK
	}
	if h == HealthOK {
		reason = ""
	}
	s.healthMu.Lock()
	prev := s.health
	changed := s.health != h || s.healthReason != reason
	if changed {
		s.health, s.healthReason, s.healthSince = h, reason, time.Now()
	}
	s.healthMu.Unlock()
	if changed {
		s.cfg.Logger.Info("bmc health changed", "system", s.cfg.SystemID, "health", h, "reason", reason)
		s.healthEvent(prev, h)
	}
}

// Health returns the system's health and the reason given with it; the
// reason is empty when the health is HealthOK.
func (s *Server) Health() (Health, string) {
	h, reason, _ := s.healthSnapshot()
	return h, reason
}

// healthSnapshot returns the health, its reason and when it was last set.
func (s *Server) healthSnapshot() (Health, string, time.Time) {
	s.healthMu.Lock()
	defer s.healthMu.Unlock()
	return s.health, s.healthReason, s.healthSince
}
