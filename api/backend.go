package api

import "context"

// Backend is what the daemon implements for the server. Methods must be safe for concurrent use.
type Backend interface {
	// Status returns the daemon and cluster at a glance.
	Status(ctx context.Context) (StatusView, error)
	// Hosts returns every host with its verdict.
	Hosts(ctx context.Context) ([]HostView, error)
	// VMs returns every VM.
	VMs(ctx context.Context) ([]VMView, error)
	// Events returns at most limit journal entries with Seq > after, oldest first.
	Events(ctx context.Context, after uint64, limit int) ([]Event, error)
	// WaitEvents blocks until an entry with Seq > after exists, or ctx ends (then it returns
	// ctx.Err()).
	WaitEvents(ctx context.Context, after uint64) error
	// ExplainHost says why a host has its verdict; an unknown host is an error wrapping
	// ErrNotFound.
	ExplainHost(ctx context.Context, name string) (Explanation, error)
	// Ready returns nil when the daemon has its state and watches the hosts, else why not.
	Ready(ctx context.Context) error
}
