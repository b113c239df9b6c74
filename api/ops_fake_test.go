package api

import (
	"context"
	"fmt"
	"sync"
)

// opsFake is a fakeBackend that also carries out operations and recoveries, recording each call
// with the identity the server put in its context.
type opsFake struct {
	*fakeBackend
	mu    sync.Mutex
	calls []string
}

// newOpsFake returns an opsFake over newFake().
func newOpsFake() *opsFake { return &opsFake{fakeBackend: newFake()} }

// record notes a call and who made it.
func (f *opsFake) record(ctx context.Context, format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id, _ := IdentityFrom(ctx)
	f.calls = append(f.calls, fmt.Sprintf(format, args...)+" by "+id.Name)
}

// recorded returns the calls so far.
func (f *opsFake) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *opsFake) Switchover(ctx context.Context, req SwitchoverRequest) (SwitchoverResult, error) {
	f.record(ctx, "switchover %s to %q", req.VM, req.To)
	return SwitchoverResult{VM: req.VM, To: req.To}, nil
}

func (f *opsFake) Drain(ctx context.Context, host string, dryRun bool) (DrainResult, error) {
	f.record(ctx, "drain %s", host)
	return DrainResult{Host: host, DryRun: dryRun}, nil
}

func (f *opsFake) Undrain(ctx context.Context, host string) error {
	f.record(ctx, "undrain %s", host)
	return nil
}

func (f *opsFake) Migrations(context.Context) ([]MigrationView, error) { return []MigrationView{}, nil }

func (f *opsFake) Migration(_ context.Context, id string) (MigrationView, error) {
	return MigrationView{}, fmt.Errorf("migration %s: %w", id, ErrNotFound)
}

func (f *opsFake) CancelMigration(ctx context.Context, id string) error {
	f.record(ctx, "cancel %s", id)
	return nil
}

func (f *opsFake) ExplainVM(_ context.Context, name string) (VMExplanation, error) {
	return VMExplanation{VM: name}, nil
}

func (f *opsFake) Degrade(ctx context.Context, host, reason string) error {
	f.record(ctx, "degrade %s: %s", host, reason)
	return nil
}

func (f *opsFake) Repair(ctx context.Context, host string) error {
	f.record(ctx, "repair %s", host)
	return nil
}

func (f *opsFake) Recoveries(context.Context) ([]RecoveryView, error) { return []RecoveryView{}, nil }

func (f *opsFake) ConfirmOff(ctx context.Context, host, confirm string) error {
	f.record(ctx, "confirm-off %s", host)
	return nil
}
