// Package controller decides which lifeboat daemon acts on a cluster. With the etcd store,
// every daemon campaigns in an etcd election (the concurrency package: a session whose lease
// the daemon keeps alive, and an election key); the winner leads, and its election key's
// create revision is its term, the fencing token of every write it makes. With the embedded
// store there is no election: the daemon is "single", and an exclusive lock file in the
// shared lease directory keeps a second single daemon on the same cluster from acting.
package controller

import (
	"context"
	"log/slog"
	"sync"
)

// Role is a daemon's part among the daemons of a cluster.
type Role string

// Roles.
const (
	// RoleLeader is the elected daemon (etcd store): it acts.
	RoleLeader Role = "leader"
	// RoleFollower is a daemon that watches but does not act (etcd store), ready to take over.
	RoleFollower Role = "follower"
	// RoleSingle is the daemon of the embedded store: it acts while it holds the controller
	// lock (or always, without a lease directory).
	RoleSingle Role = "single"
)

// Peer is a running daemon of the cluster.
type Peer struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// Status is what a controller knows: who this daemon is, whether it acts, who leads.
type Status struct {
	// Name is this daemon's name (--name).
	Name string
	// Role is this daemon's role.
	Role Role
	// Acting tells whether this daemon may act now (the leader, or a single daemon holding the
	// lock).
	Acting bool
	// Leader is the acting daemon's name ("" if none is known); LeaderURL its API.
	Leader, LeaderURL string
	// Term is the leader's term: its election key's create revision (0 without election).
	Term int64
	// Peers are the daemons known to be running, this one included.
	Peers []Peer
	// Why says why this daemon does not act, or what it depends on, for people.
	Why string
	// StoreLost is true while this daemon cannot reach its store: its etcd session ended, could
	// not be opened, or was not renewed in time. A leader that loses its store stops acting;
	// the daemon alerts without the store (log, webhook, lifeboat_leader).
	StoreLost bool
}

// Controller tells the daemon whether it may act.
type Controller interface {
	// Run campaigns (or holds the lock) until ctx ends, then gives leadership up.
	Run(ctx context.Context) error
	// Acting tells whether this daemon may act now. It turns false as soon as leadership is
	// in doubt (a lost session), before anyone else can lead.
	Acting() bool
	// Status reports the controller's view.
	Status() Status
}

// Options are what every controller needs.
type Options struct {
	// Name is this daemon's name; URL its API's address, given to clients of followers.
	Name, URL string
	// Adopt is called once leadership is won, before Acting turns true: the daemon reloads
	// from the store what the previous leader left (guards, plans). An error gives the
	// leadership up again.
	Adopt func(ctx context.Context) error
	// Changed is called after each change of Status (may be nil).
	Changed func(Status)
	// Logger receives the controller's logs (nil: discarded).
	Logger *slog.Logger
}

func (o *Options) defaults() {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Adopt == nil {
		o.Adopt = func(context.Context) error { return nil }
	}
	if o.Changed == nil {
		o.Changed = func(Status) {}
	}
}

// notifier delivers status changes one at a time, each with the status at delivery, so that a
// change reported late never overwrites a newer one.
type notifier struct {
	mu sync.Mutex
}

func (n *notifier) notify(opts Options, status func() Status) {
	n.mu.Lock()
	defer n.mu.Unlock()
	opts.Changed(status())
}
