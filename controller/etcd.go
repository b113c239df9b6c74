package controller

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/store"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// errDeposed ends a leader's session when a newer leader holds the election (not a loss of
// the store).
var errDeposed = errors.New("a newer leader holds the election")

// campaignRetry is the pause after a failed session or campaign before the next try.
const campaignRetry = 500 * time.Millisecond

// Etcd is the controller of the etcd store: each daemon keeps a session (a lease of ttl) and
// campaigns in one election; the winner leads with its election key's create revision as its
// term, which fences the store's writes (store.Etcd.SetTerm). When the session ends (the lease
// could not be renewed within ttl) the daemon stops acting at once and campaigns again.
type Etcd struct {
	s    *store.Etcd
	ttl  time.Duration
	opts Options

	n      notifier
	mu     sync.Mutex
	st     Status
	acting bool
	// renewed is when the session's lease was last renewed: a leader that has not heard from
	// etcd for 2/3 of the ttl stops acting before its lease can expire on the server.
	renewed time.Time
}

// candidate is the election value and the member record: who a daemon is.
type candidate struct {
	Name string `json:"name"`
	URL  string `json:"url,omitempty"`
}

// NewEtcd returns the controller of a daemon on the etcd store s, with sessions of ttl.
func NewEtcd(s *store.Etcd, ttl time.Duration, opts Options) *Etcd {
	opts.defaults()
	e := &Etcd{s: s, ttl: ttl, opts: opts}
	e.st = Status{Name: opts.Name, Role: RoleFollower, Why: "campaigning"}
	s.SetTerm(store.Term{}) // no write without a term
	return e
}

// Run keeps a session and campaigns until ctx ends; on the way out a leader resigns, so that
// another takes over without waiting for the lease to expire.
func (e *Etcd) Run(ctx context.Context) error {
	for ctx.Err() == nil {
		err := e.session(ctx)
		e.demote(err)
		if ctx.Err() != nil {
			break
		}
		select {
		case <-ctx.Done():
		case <-time.After(campaignRetry):
		}
	}
	return nil
}

// session runs one session: register, observe, campaign, lead until the session ends.
func (e *Etcd) session(ctx context.Context) error {
	ttl := max(int(e.ttl/time.Second), 1)
	sess, err := concurrency.NewSession(e.s.Client(), concurrency.WithTTL(ttl), concurrency.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("cannot open an etcd session: %w", err)
	}
	defer func() {
		// Revoking the lease deletes the election key and the member record at once.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		_, _ = e.s.Client().Revoke(rctx, sess.Lease())
		_ = sess.Close()
	}()
	me, _ := json.Marshal(candidate{Name: e.opts.Name, URL: e.opts.URL})
	if _, err := e.s.Client().Put(ctx, e.s.MembersPrefix()+e.opts.Name, string(me), clientv3.WithLease(sess.Lease())); err != nil {
		return fmt.Errorf("cannot register in etcd: %w", err)
	}
	e.mu.Lock()
	e.st.StoreLost = false // the session is open and registered: etcd answers again
	e.mu.Unlock()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-sess.Done():
			e.stopActing("its etcd session ended (etcd unreachable or without quorum)", true) // at once: before the lease is revoked or anything else is tried
			cancel()
		case <-sctx.Done():
		}
	}()
	// A second keep-alive channel on the same lease shares the session's requests; its answers
	// tell when the lease was last renewed.
	kch, err := e.s.Client().KeepAlive(sctx, sess.Lease())
	if err != nil {
		return fmt.Errorf("cannot keep the etcd session alive: %w", err)
	}
	go func() {
		for range kch {
			e.mu.Lock()
			e.renewed = time.Now()
			e.mu.Unlock()
		}
	}()
	el := concurrency.NewElection(sess, e.s.ElectionPrefix())
	go e.observe(sctx, el, cancel)
	e.mu.Lock()
	e.st.Why = "campaigning; another daemon leads"
	e.mu.Unlock()
	if err := el.Campaign(sctx, string(me)); err != nil {
		if sctx.Err() != nil && ctx.Err() == nil {
			return errors.New("the etcd session ended while campaigning")
		}
		return fmt.Errorf("campaign: %w", err)
	}
	term := store.Term{Key: el.Key(), Rev: el.Rev()}
	e.s.SetTerm(term)
	if err := e.opts.Adopt(sctx); err != nil {
		e.s.SetTerm(store.Term{})
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = el.Resign(rctx)
		rcancel()
		return fmt.Errorf("won the election but could not load the store: %w", err)
	}
	e.mu.Lock()
	e.acting, e.renewed = true, time.Now()
	e.st.Role, e.st.Acting, e.st.Leader, e.st.LeaderURL, e.st.Term = RoleLeader, true, e.opts.Name, e.opts.URL, term.Rev
	e.st.Why = fmt.Sprintf("leads in term %d", term.Rev)
	e.mu.Unlock()
	e.opts.Logger.Info("controller: elected leader; acting", "term", term.Rev)
	e.notify()
	<-sctx.Done()
	if ctx.Err() != nil {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		_ = el.Resign(rctx)
		rcancel()
		return nil
	}
	select {
	case <-sess.Done():
	default:
		return errDeposed
	}
	return errors.New("the etcd session ended (its lease was not renewed within session_ttl)")
}

// stopActing stops acting and refuses every later write, without waiting for anything; a
// leader says why it no longer acts. storeLost tells whether the cause is the store.
func (e *Etcd) stopActing(why string, storeLost bool) {
	e.s.SetTerm(store.Term{})
	e.mu.Lock()
	e.st.StoreLost = e.st.StoreLost || storeLost
	if e.acting {
		e.st.Why = fmt.Sprintf("led in term %d until %s; not acting", e.st.Term, why)
	}
	e.acting = false
	e.st.Acting = false
	e.mu.Unlock()
}

// demote stops acting at once (before anything else) and says why.
func (e *Etcd) demote(err error) {
	e.s.SetTerm(store.Term{})
	e.mu.Lock()
	was := e.st.Role == RoleLeader
	e.acting = false
	e.st.Role, e.st.Acting = RoleFollower, false
	if e.st.Leader == e.opts.Name {
		e.st.Leader, e.st.LeaderURL = "", ""
	}
	if err != nil {
		e.st.Why = err.Error() + "; not acting"
		e.st.StoreLost = !errors.Is(err, errDeposed)
	}
	e.mu.Unlock()
	if err != nil {
		e.opts.Logger.Warn("controller: not acting", "why", err, "was_leader", was)
	}
	if was || err != nil {
		e.notify()
	}
}

// observe follows who leads and who runs, for Status.
// A leader that sees another election key lead (its own was deleted) stops acting and ends
// its session (lost). Older leaders, reported late, are ignored.
func (e *Etcd) observe(ctx context.Context, el *concurrency.Election, lost context.CancelFunc) {
	ch := el.Observe(ctx)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	e.refreshPeers(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.refreshPeers(ctx)
		case resp, ok := <-ch:
			if !ok {
				return
			}
			if len(resp.Kvs) == 0 {
				continue
			}
			if resp.Kvs[0].CreateRevision < e.Status().Term {
				continue // an older leader, reported late
			}
			var c candidate
			_ = json.Unmarshal(resp.Kvs[0].Value, &c)
			if rev := resp.Kvs[0].CreateRevision; e.Acting() && rev > e.Status().Term { // a newer leader: ours is gone
				e.opts.Logger.Warn("controller: another daemon leads; this one stops acting", "leader", c.Name, "term", rev)
				e.stopActing(errDeposed.Error(), false)
				lost()
			}
			e.mu.Lock()
			changed := e.st.Leader != c.Name
			e.st.Leader, e.st.LeaderURL, e.st.Term = c.Name, c.URL, resp.Kvs[0].CreateRevision
			if !e.acting {
				e.st.Why = fmt.Sprintf("%s leads in term %d; following", c.Name, resp.Kvs[0].CreateRevision)
			}
			e.mu.Unlock()
			if changed {
				e.notify()
			}
		}
	}
}

func (e *Etcd) refreshPeers(ctx context.Context) {
	c, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	resp, err := e.s.Client().Get(c, e.s.MembersPrefix(), clientv3.WithPrefix())
	if err != nil {
		return
	}
	var peers []Peer
	for _, kv := range resp.Kvs {
		var p candidate
		if json.Unmarshal(kv.Value, &p) == nil {
			peers = append(peers, Peer(p))
		} else {
			peers = append(peers, Peer{Name: strings.TrimPrefix(string(kv.Key), e.s.MembersPrefix())})
		}
	}
	sort.Slice(peers, func(i, j int) bool { return peers[i].Name < peers[j].Name })
	e.mu.Lock()
	e.st.Peers = peers
	e.mu.Unlock()
}

// Acting tells whether this daemon leads now and renewed its session within 2/3 of the ttl.
func (e *Etcd) Acting() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.acting && time.Since(e.renewed) < e.ttl*2/3
}

// Status reports the election as this daemon sees it.
func (e *Etcd) Status() Status {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.status()
}

func (e *Etcd) status() Status {
	st := e.st
	st.Peers = append([]Peer(nil), e.st.Peers...)
	if e.acting {
		if stale := time.Since(e.renewed); stale >= e.ttl*2/3 {
			// Still the leader on record until the session ends, but it no longer acts: say so.
			st.Acting, st.StoreLost = false, true
			st.Why = fmt.Sprintf("%s, but its etcd session was not renewed for %s (etcd unreachable or without quorum); not acting",
				e.st.Why, stale.Round(100*time.Millisecond))
		}
	}
	return st
}

// notify reports the current status to Options.Changed.
func (e *Etcd) notify() { e.n.notify(e.opts, e.Status) }
