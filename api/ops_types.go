package api

import (
	"context"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// Operator is what a daemon that carries out operations implements besides Backend: planned
// switchover, drain and maintenance, and the migrations they start. NewServer serves its routes
// when the Backend implements it.
type Operator interface {
	Switchover(ctx context.Context, req SwitchoverRequest) (SwitchoverResult, error)
	Drain(ctx context.Context, host string, dryRun bool) (DrainResult, error)
	Undrain(ctx context.Context, host string) error
	Migrations(ctx context.Context) ([]MigrationView, error)
	Migration(ctx context.Context, id string) (MigrationView, error)
	CancelMigration(ctx context.Context, id string) error
	ExplainVM(ctx context.Context, name string) (VMExplanation, error)
	Degrade(ctx context.Context, host, reason string) error
	Repair(ctx context.Context, host string) error
}

// DegradeRequest gives the reason an operator marks a host degraded.
type DegradeRequest struct {
	Reason string `json:"reason"`
}

// SwitchoverRequest asks to live-migrate one VM; To empty picks the best host.
type SwitchoverRequest struct {
	VM     string `json:"vm"`
	To     string `json:"to,omitempty"`
	DryRun bool   `json:"dry_run,omitempty"`
}

// CandidateView is one host's placement score for a VM, with its breakdown.
type CandidateView struct {
	Host     string             `json:"host"`
	Feasible bool               `json:"feasible"`
	Reasons  []string           `json:"reasons,omitempty"`
	Parts    map[string]float64 `json:"parts,omitempty"`
	Total    float64            `json:"total"`
}

// SwitchoverResult is the plan of a switchover and, unless a dry run, its migration's id.
type SwitchoverResult struct {
	VM         string          `json:"vm"`
	From       string          `json:"from"`
	To         string          `json:"to"`
	Reason     string          `json:"reason"`
	Candidates []CandidateView `json:"candidates"`
	DryRun     bool            `json:"dry_run"`
	Migration  string          `json:"migration,omitempty"`
	// Plan and PlanState are set instead of Migration when the approval mode makes the
	// switchover a plan (pending: run it with `lifeboat approve PLAN`).
	Plan      string `json:"plan,omitempty"`
	PlanState string `json:"plan_state,omitempty"`
}

// PlannedMove is one VM's move in a drain plan (policy.Move); To is empty when no host can take
// it.
type PlannedMove = policy.Move

// DrainResult is a drain's plan.
type DrainResult struct {
	Host   string        `json:"host"`
	DryRun bool          `json:"dry_run"`
	Plan   []PlannedMove `json:"plan"`
}

// MigrationView is one migration, running or recent.
type MigrationView struct {
	ID            string    `json:"id"`
	VM            string    `json:"vm"`
	From          string    `json:"from"`
	To            string    `json:"to"`
	Why           string    `json:"why"`
	State         string    `json:"state"`
	Queued        time.Time `json:"queued"`
	Started       time.Time `json:"started,omitzero"`
	Ended         time.Time `json:"ended,omitzero"`
	Percent       float64   `json:"percent"`
	DataRemaining uint64    `json:"data_remaining"`
	MaxDowntimeMs int64     `json:"max_downtime_ms"`
	Steps         []string  `json:"steps,omitempty"`
	DowntimeMs    int64     `json:"downtime_ms,omitempty"`
	DataBytes     uint64    `json:"data_bytes,omitempty"`
	Error         string    `json:"error,omitempty"`
}

// Done reports whether the migration has ended.
func (m MigrationView) Done() bool {
	switch m.State {
	case "succeeded", "failed", "aborted", "cancelled":
		return true
	}
	return false
}

// VMExplanation says where a VM runs, where it belongs, and how each host scores as a target.
type VMExplanation struct {
	VM         string          `json:"vm"`
	UUID       string          `json:"uuid"`
	Host       string          `json:"host"`
	HomeHost   string          `json:"home_host"`
	State      string          `json:"state"`
	Best       string          `json:"best"`
	Reason     string          `json:"reason"`
	Candidates []CandidateView `json:"candidates"`
	Note       string          `json:"note,omitempty"`
	// Guest is what VM-level monitoring knows of the guest: a crash seen now, and its restarts
	// in place within the window (empty when there is nothing to say).
	Guest string `json:"guest,omitempty"`
}

// Recoverer is what a daemon that recovers from host failures implements: the recoveries in
// progress and the operator's confirm-off.
type Recoverer interface {
	Recoveries(ctx context.Context) ([]RecoveryView, error)
	ConfirmOff(ctx context.Context, host, confirm string) error
}

// RecoveryView is one VM (or host) being recovered.
type RecoveryView struct {
	VM     string    `json:"vm,omitempty"`
	Host   string    `json:"host,omitempty"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
	State  string    `json:"state"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since,omitzero"`
}

// ConfirmOffRequest repeats the host's name as confirmation.
type ConfirmOffRequest struct {
	Confirm string `json:"confirm"`
}
