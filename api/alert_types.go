package api

import (
	"context"
	"time"
)

// AlertObservation is one Alertmanager alert mapped to a host: a health observation.
type AlertObservation struct {
	// Host is the lifeboat host the alert's host label maps to.
	Host string `json:"host"`
	// Fingerprint identifies the alert across notifications (Alertmanager's fingerprint, or a
	// digest of its labels when absent).
	Fingerprint string `json:"fingerprint"`
	// Name is the alertname label.
	Name string `json:"name"`
	// Firing is false for a resolved alert.
	Firing bool `json:"firing"`
	// Severity is warning or critical.
	Severity string `json:"severity"`
	// Summary is the summary or description annotation, else the alert name.
	Summary  string    `json:"summary"`
	StartsAt time.Time `json:"starts_at"`
}

// AlertResult is the receiver's answer: what it applied and what it ignored.
type AlertResult struct {
	Applied int `json:"applied"`
	// Ignored lists alerts whose host label matched no host, with why.
	Ignored []string `json:"ignored,omitempty"`
}

// AlertReceiver is implemented by a backend that takes health alerts (POST
// /v1/alerts/alertmanager). The server validates and maps the payload first; the backend only
// sees well-formed observations of known hosts.
type AlertReceiver interface {
	ReceiveAlerts(ctx context.Context, alerts []AlertObservation) error
}
