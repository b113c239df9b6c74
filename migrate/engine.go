package migrate

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// Errors callers can test for.
var (
	// ErrBusy means the VM already has a migration queued or running.
	ErrBusy = errors.New("the VM already has a migration in progress")
	// ErrUnknownMigration means no migration has that id.
	ErrUnknownMigration = errors.New("unknown migration")
	// ErrClosed means the engine is shutting down.
	ErrClosed = errors.New("migration engine closed")
)

// MigrateFunc runs one live migration; hypervisor.Migrate in production.
type MigrateFunc func(ctx context.Context, spec hypervisor.MigrationSpec, ctl hypervisor.MigrationController) (hypervisor.MigrationResult, error)

// Options configure an Engine.
type Options struct {
	Budgets Budgets
	// Ladder is the escalation ladder for every migration.
	Ladder policy.Ladder
	// BandwidthMiBs caps each migration's bandwidth (0: unlimited).
	BandwidthMiBs uint64
	// CopyStorage copies non-shared disks along with memory.
	CopyStorage bool
	// TLS encrypts the migration stream (the hosts need QEMU TLS certificates).
	TLS     bool
	Migrate MigrateFunc
	// Journal records each migration's start and end.
	Journal func(ctx context.Context, e store.Entry)
	Now     func() time.Time
	Logger  *slog.Logger
	// OnDone, if set, is told of every migration's end (the daemon updates its records at once).
	OnDone func(m Migration)
}

// State is a migration's state.
type State string

// Migration states.
const (
	StateQueued    State = "queued"
	StateRunning   State = "running"
	StateSucceeded State = "succeeded"
	StateFailed    State = "failed"
	StateAborted   State = "aborted"
	StateCancelled State = "cancelled"
)

// Done reports a final state.
func (s State) Done() bool {
	switch s {
	case StateSucceeded, StateFailed, StateAborted, StateCancelled:
		return true
	case StateQueued, StateRunning:
		return false
	}
	return false
}

// Purpose says what a migration is for; the engine only carries it to the Migration, so that
// OnDone knows what the move was for.
type Purpose string

// Migration purposes.
const (
	PurposeDrain      Purpose = "drain"
	PurposeEvacuation Purpose = "evacuation"
	PurposeFailback   Purpose = "failback"
	// PurposeSwitchover is an operator's move: the target becomes the VM's home.
	PurposeSwitchover Purpose = "switchover"
)

// Request asks for one live migration.
type Request struct {
	VM, UUID       string
	From, To       string
	FromURI, ToURI string
	// Why is the reason people will read ("switchover by an operator", "drain of h1").
	Why string
	// Purpose tags the migration for its submitter; Plan is the id of the plan it belongs to.
	Purpose Purpose
	Plan    string
	// Ladder and BandwidthMiBs, when set, override the engine's for this VM.
	Ladder        *policy.Ladder
	BandwidthMiBs *uint64
}

// Migration is a snapshot of one migration.
type Migration struct {
	ID      string    `json:"id"`
	VM      string    `json:"vm"`
	UUID    string    `json:"uuid"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Why     string    `json:"why"`
	Purpose Purpose   `json:"purpose,omitempty"`
	Plan    string    `json:"plan,omitempty"`
	State   State     `json:"state"`
	Queued  time.Time `json:"queued"`
	Started time.Time `json:"started,omitzero"`
	Ended   time.Time `json:"ended,omitzero"`
	// Progress is the latest sample: percent of the data sent and what remains.
	Percent       float64 `json:"percent"`
	DataRemaining uint64  `json:"data_remaining"`
	DataTotal     uint64  `json:"data_total"`
	MaxDowntimeMs int64   `json:"max_downtime_ms"`
	// Steps are the escalation steps taken, in words.
	Steps      []string `json:"steps,omitempty"`
	DowntimeMs int64    `json:"downtime_ms,omitempty"`
	DataBytes  uint64   `json:"data_bytes,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// Engine runs migrations within budgets. Its methods are safe for concurrent use.
type Engine struct {
	opts  Options
	slots *slots
	log   *slog.Logger

	mu   sync.Mutex
	byID map[string]*entry
	// busy counts the migrations not done by VM UUID: Busy and BusyVMs answer without walking
	// byID (a snapshot of 100,000 VMs asks about each).
	busy    map[string]int
	order   []string
	closed  bool
	wg      sync.WaitGroup
	rootCtx context.Context
	stopAll context.CancelFunc
}

type entry struct {
	m      Migration
	cancel context.CancelFunc
	done   chan struct{}
}

// New makes an engine; Close stops it.
func New(ctx context.Context, opts Options) *Engine {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Journal == nil {
		opts.Journal = func(context.Context, store.Entry) {}
	}
	if len(opts.Ladder.Downtimes) == 0 {
		opts.Ladder = policy.DefaultLadder()
	}
	root, stop := context.WithCancel(context.WithoutCancel(ctx))
	return &Engine{opts: opts, slots: newSlots(opts.Budgets), log: opts.Logger, byID: map[string]*entry{},
		busy: map[string]int{}, rootCtx: root, stopAll: stop}
}

// Budgets are the engine's budgets, defaults filled in.
func (e *Engine) Budgets() Budgets { return e.slots.b }

func newID() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return "m-" + hex.EncodeToString(b)
}

// Submit queues a migration; it starts as soon as the budgets allow.
func (e *Engine) Submit(req Request) (Migration, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return Migration{}, ErrClosed
	}
	if e.busy[req.UUID] > 0 {
		for _, en := range e.byID {
			if en.m.UUID == req.UUID && !en.m.State.Done() {
				return Migration{}, fmt.Errorf("%w: %s (%s, %s → %s)", ErrBusy, req.VM, en.m.ID, en.m.From, en.m.To)
			}
		}
	}
	ctx, cancel := context.WithCancel(e.rootCtx)
	en := &entry{m: Migration{ID: newID(), VM: req.VM, UUID: req.UUID, From: req.From, To: req.To, Why: req.Why, Purpose: req.Purpose, Plan: req.Plan,
		State: StateQueued, Queued: e.opts.Now()}, cancel: cancel, done: make(chan struct{})}
	e.byID[en.m.ID] = en
	e.busy[req.UUID]++
	e.order = append(e.order, en.m.ID)
	e.trim()
	e.wg.Add(1)
	go e.run(ctx, en, req)
	return en.m, nil
}

// trim forgets the oldest finished migrations beyond the last 200. Caller holds e.mu.
func (e *Engine) trim() {
	for len(e.order) > 200 {
		id := e.order[0]
		if en := e.byID[id]; en != nil && !en.m.State.Done() {
			return
		}
		delete(e.byID, id)
		e.order = e.order[1:]
	}
}

// update changes a migration's snapshot under the lock. Every change of state goes through it,
// so it keeps the busy counts.
func (e *Engine) update(en *entry, fn func(m *Migration)) {
	e.mu.Lock()
	defer e.mu.Unlock()
	wasDone := en.m.State.Done()
	fn(&en.m)
	if !wasDone && en.m.State.Done() {
		if e.busy[en.m.UUID]--; e.busy[en.m.UUID] <= 0 {
			delete(e.busy, en.m.UUID)
		}
	}
}

// run waits for budget, migrates, and records the outcome.
func (e *Engine) run(ctx context.Context, en *entry, req Request) {
	defer e.wg.Done()
	defer close(en.done)
	defer en.cancel()
	if err := e.slots.acquire(ctx, req.From, req.To); err != nil {
		e.finish(ctx, en, hypervisor.MigrationResult{}, fmt.Errorf("%w: cancelled while queued", hypervisor.ErrMigrationCancelled))
		return
	}
	defer e.slots.release(req.From, req.To)
	start := e.opts.Now()
	e.update(en, func(m *Migration) { m.State, m.Started = StateRunning, start })
	e.opts.Journal(ctx, store.Entry{At: start, Kind: "migration", Host: req.From, VM: req.VM, Reason: "started",
		Message: fmt.Sprintf("%s: live migration %s → %s started (%s) [%s]", req.VM, req.From, req.To, req.Why, en.m.ID),
		Data:    mustJSON(map[string]any{"id": en.m.ID, "from": req.From, "to": req.To})})
	var st policy.ConvergenceState
	ladder, bandwidth := e.opts.Ladder, e.opts.BandwidthMiBs
	if req.Ladder != nil {
		ladder = *req.Ladder
	}
	if req.BandwidthMiBs != nil {
		bandwidth = *req.BandwidthMiBs
	}
	ctl := func(p hypervisor.MigrationProgress) hypervisor.MigrationAction {
		a, next := policy.DecideConvergence(ladder, st, policy.ConvergenceSample{Elapsed: p.Elapsed, DataRemaining: p.DataRemaining, Iteration: p.Iteration, PostCopy: p.PostCopy})
		st = next
		e.update(en, func(m *Migration) {
			m.DataRemaining, m.DataTotal, m.MaxDowntimeMs = p.DataRemaining, p.DataTotal, p.MaxDowntime.Milliseconds()
			if p.DataTotal > 0 {
				m.Percent = 100 * float64(p.DataProcessed) / float64(p.DataTotal)
			}
			if a.Kind != policy.ConvergeWait {
				m.Steps = append(m.Steps, a.Reason)
			}
		})
		switch a.Kind {
		case policy.ConvergeRaiseDowntime:
			return hypervisor.MigrationAction{SetMaxDowntime: a.Downtime}
		case policy.ConvergePostCopy:
			return hypervisor.MigrationAction{StartPostCopy: true}
		case policy.ConvergeAbort:
			return hypervisor.MigrationAction{Abort: true, AbortReason: a.Reason}
		case policy.ConvergeWait:
		}
		return hypervisor.MigrationAction{}
	}
	spec := hypervisor.MigrationSpec{SourceURI: req.FromURI, DestURI: req.ToURI, UUID: req.UUID,
		BandwidthMiBs: bandwidth, MaxDowntime: ladder.Downtimes[0], PostCopy: ladder.PostCopy,
		CopyStorage: e.opts.CopyStorage, TLS: e.opts.TLS}
	res, err := e.opts.Migrate(ctx, spec, ctl)
	e.finish(ctx, en, res, err)
}

// finish records how a migration ended.
func (e *Engine) finish(ctx context.Context, en *entry, res hypervisor.MigrationResult, err error) {
	end := e.opts.Now()
	state := StateSucceeded
	switch {
	case err == nil:
	case errors.Is(err, hypervisor.ErrMigrationAborted):
		state = StateAborted
	case errors.Is(err, hypervisor.ErrMigrationCancelled):
		state = StateCancelled
	default:
		state = StateFailed
	}
	var m Migration
	e.update(en, func(mm *Migration) {
		mm.State, mm.Ended = state, end
		mm.DowntimeMs, mm.DataBytes = res.Downtime.Milliseconds(), res.DataBytes
		if state == StateSucceeded {
			mm.Percent, mm.DataRemaining = 100, 0
		}
		if err != nil {
			mm.Error = err.Error()
		}
		m = *mm
	})
	dur := time.Duration(0)
	if !m.Started.IsZero() {
		dur = end.Sub(m.Started)
	}
	msg := fmt.Sprintf("%s: live migration %s → %s %s after %s", m.VM, m.From, m.To, state, dur.Round(10*time.Millisecond))
	if state == StateSucceeded {
		msg += fmt.Sprintf(" (downtime %d ms, %d MiB moved)", m.DowntimeMs, m.DataBytes>>20)
	} else if res.PostCopy {
		msg += "; it failed in post-copy, so where the VM runs must be checked: " + m.Error
	} else {
		msg += "; the VM stays on " + m.From + ": " + m.Error
	}
	e.opts.Journal(ctx, store.Entry{At: end, Kind: "migration", Host: m.From, VM: m.VM, Reason: string(state), Message: msg,
		Data: mustJSON(map[string]any{"id": m.ID, "from": m.From, "to": m.To, "why": m.Why, "started": m.Started, "ended": end,
			"duration_ms": dur.Milliseconds(), "downtime_ms": m.DowntimeMs, "bytes": m.DataBytes, "outcome": state,
			"error": m.Error, "steps": m.Steps})})
	if e.opts.OnDone != nil {
		e.opts.OnDone(m)
	}
	e.log.Info("migration ended", "id", m.ID, "vm", m.VM, "from", m.From, "to", m.To, "state", state, "duration", dur, "err", m.Error)
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}

// Cancel stops a queued or running migration; the VM stays on its source.
func (e *Engine) Cancel(id string) error {
	e.mu.Lock()
	en, ok := e.byID[id]
	e.mu.Unlock()
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownMigration, id)
	}
	en.cancel()
	return nil
}

// Get returns one migration.
func (e *Engine) Get(id string) (Migration, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	en, ok := e.byID[id]
	if !ok {
		return Migration{}, fmt.Errorf("%w %q", ErrUnknownMigration, id)
	}
	return en.m, nil
}

// Wait blocks until the migration ends (or ctx does) and returns its final snapshot.
func (e *Engine) Wait(ctx context.Context, id string) (Migration, error) {
	e.mu.Lock()
	en, ok := e.byID[id]
	e.mu.Unlock()
	if !ok {
		return Migration{}, fmt.Errorf("%w %q", ErrUnknownMigration, id)
	}
	select {
	case <-en.done:
		return e.Get(id)
	case <-ctx.Done():
		return Migration{}, ctx.Err()
	}
}

// List returns running and recent migrations, oldest first.
func (e *Engine) List() []Migration {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Migration, 0, len(e.byID))
	for _, id := range e.order {
		if en, ok := e.byID[id]; ok {
			out = append(out, en.m)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Queued.Before(out[j].Queued) })
	return out
}

// Busy reports whether the VM has a migration queued or running.
func (e *Engine) Busy(uuid string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.busy[uuid] > 0
}

// BusyVMs returns the UUIDs of the VMs with a migration queued or running: one call for a
// whole snapshot instead of one Busy per VM.
func (e *Engine) BusyVMs() map[string]bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]bool, len(e.busy))
	for uuid := range e.busy {
		out[uuid] = true
	}
	return out
}

// Close cancels every migration and waits for them to end.
func (e *Engine) Close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.stopAll()
	e.wg.Wait()
}
