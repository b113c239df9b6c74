package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Defaults for EtcdOptions.
const (
	DefaultEtcdDialTimeout = 5 * time.Second
	// etcdTxnChunk bounds the operations of one transaction (etcd's --max-txn-ops is 128 by
	// default).
	etcdTxnChunk = 100
)

// EtcdOptions tune OpenEtcd.
type EtcdOptions struct {
	// Endpoints are the members' client URLs.
	Endpoints []string
	// Prefix is put before every key, e.g. "/lifeboat/prod/"; it must end with "/".
	Prefix string
	// TLS is the client's TLS configuration (nil: plain connections).
	TLS *tls.Config
	// DialTimeout bounds connecting; RequestTimeout bounds each request (DialTimeout if zero),
	// so that a lost quorum fails calls instead of blocking them.
	DialTimeout, RequestTimeout time.Duration
	// MaxJournal is the most journal entries kept (DefaultMaxJournal if zero or less).
	MaxJournal int
}

// Term is a leader's fencing token: the key its election holds and that key's create
// revision. A fenced write commits only while that key still exists with that revision.
type Term struct {
	Key string
	Rev int64
}

// fenceState is nil while the store is unfenced (tools, tests), else the term writes need.
type fenceState struct{ term Term }

// Etcd is a store kept in etcd under a key prefix. Several daemons may use it at once; the
// leader fences its writes with its term (SetTerm), so that a deposed leader's writes fail.
type Etcd struct {
	cli        *clientv3.Client
	endpoints  []string
	prefix     string
	maxJournal int
	reqTimeout time.Duration
	fence      atomic.Pointer[fenceState]
	fenced     atomic.Bool

	done      chan struct{}
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Etcd)(nil)

// Keys under the prefix.
const (
	etcdMetaVersion  = "meta/schema_version"
	etcdMetaCreated  = "meta/created_at"
	etcdVMs          = "vms/"
	etcdHosts        = "hosts/"
	etcdJournal      = "journal/"
	etcdJournalSeq   = "counters/journal"
	etcdPlans        = "plans/"
	etcdPlanSeq      = "counters/plans"
	etcdGuards       = "guards/"
	etcdDisarm       = "disarm"
	etcdElectionPath = "election"
	etcdMembersPath  = "members/"
)

// OpenEtcd connects to etcd and checks (or, in an empty prefix, writes) the schema version.
// Errors wrap ErrVersion for a prefix written by a newer lifeboat.
func OpenEtcd(ctx context.Context, opts EtcdOptions) (*Etcd, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("store: etcd: no endpoints given")
	}
	if !strings.HasPrefix(opts.Prefix, "/") || !strings.HasSuffix(opts.Prefix, "/") {
		return nil, fmt.Errorf("store: etcd: prefix %q must start and end with /", opts.Prefix)
	}
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = DefaultEtcdDialTimeout
	}
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = opts.DialTimeout
	}
	if opts.MaxJournal <= 0 {
		opts.MaxJournal = DefaultMaxJournal
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   opts.Endpoints,
		DialTimeout: opts.DialTimeout,
		TLS:         opts.TLS,
		Context:     context.WithoutCancel(ctx),
		Logger:      zap.NewNop(),
	})
	if err != nil {
		return nil, fmt.Errorf("store: etcd %s: %w", strings.Join(opts.Endpoints, ","), err)
	}
	s := &Etcd{cli: cli, endpoints: opts.Endpoints, prefix: opts.Prefix, maxJournal: opts.MaxJournal,
		reqTimeout: opts.RequestTimeout, done: make(chan struct{})}
	if err := s.initSchema(ctx); err != nil {
		_ = cli.Close()
		return nil, err
	}
	return s, nil
}

// initSchema writes the schema version into an empty prefix, or checks the one there.
func (s *Etcd) initSchema(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, s.reqTimeout)
	defer cancel()
	key := s.prefix + etcdMetaVersion
	resp, err := s.cli.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, strconv.Itoa(SchemaVersion)),
			clientv3.OpPut(s.prefix+etcdMetaCreated, time.Now().UTC().Format(time.RFC3339Nano))).
		Else(clientv3.OpGet(key)).Commit()
	if err != nil {
		return fmt.Errorf("store: etcd %s: cannot reach a quorum: %w", s.Location(), err)
	}
	if resp.Succeeded {
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return fmt.Errorf("store: etcd %s: %w: schema version vanished while opening", s.Location(), ErrCorrupt)
	}
	v, err := strconv.ParseUint(string(kvs[0].Value), 10, 32)
	if err != nil {
		return fmt.Errorf("store: etcd %s: %w: schema_version %q is not a number", s.Location(), ErrCorrupt, kvs[0].Value)
	}
	if v != SchemaVersion {
		return fmt.Errorf("store: etcd %s: %w: schema version %d, this build reads version %d", s.Location(), ErrVersion, v, SchemaVersion)
	}
	return nil
}

// Client is the etcd client, for the controller's election (which shares the connection).
func (s *Etcd) Client() *clientv3.Client { return s.cli }

// Prefix is the key prefix of this store.
func (s *Etcd) Prefix() string { return s.prefix }

// ElectionPrefix is where the controllers campaign; MembersPrefix is where each running
// daemon registers itself under its session.
func (s *Etcd) ElectionPrefix() string { return s.prefix + etcdElectionPath }

// MembersPrefix is where each running daemon registers itself (under its session's lease).
func (s *Etcd) MembersPrefix() string { return s.prefix + etcdMembersPath }

// Location names the endpoints and the prefix.
func (s *Etcd) Location() string {
	return "etcd " + strings.Join(s.endpoints, ",") + " " + s.prefix
}

// SetTerm fences every later write with a leader's term: a write commits only while the
// election key t.Key exists with create revision t.Rev, and fails with ErrNotLeader
// otherwise. A zero Term (a follower, or a leader that lost its session) refuses every write.
// A store never given a term writes unconditionally (tools such as store migrate).
func (s *Etcd) SetTerm(t Term) {
	s.fence.Store(&fenceState{term: t})
	s.fenced.Store(true)
}

// Close closes the connection. Blocked Waits return ErrClosed.
func (s *Etcd) Close() error {
	s.closeOnce.Do(func() {
		close(s.done)
		if err := s.cli.Close(); err != nil && !errors.Is(err, context.Canceled) {
			s.closeErr = fmt.Errorf("store: close %s: %w", s.Location(), err)
		}
	})
	return s.closeErr
}

func (s *Etcd) closed() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// reqCtx bounds one request and checks that the store is open.
func (s *Etcd) reqCtx(ctx context.Context, what string) (context.Context, context.CancelFunc, error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("store: %s: %w", what, err)
	}
	if s.closed() {
		return nil, nil, fmt.Errorf("store: %s: %w", what, ErrClosed)
	}
	c, cancel := context.WithTimeout(ctx, s.reqTimeout)
	return c, cancel, nil
}

// get reads a key (nil if missing) and the store revision it was read at.
func (s *Etcd) get(ctx context.Context, what, key string, opts ...clientv3.OpOption) (*clientv3.GetResponse, error) {
	c, cancel, err := s.reqCtx(ctx, what)
	if err != nil {
		return nil, err
	}
	defer cancel()
	resp, err := s.cli.Get(c, s.prefix+key, opts...)
	if err != nil {
		return nil, s.wrap(what, err)
	}
	return resp, nil
}

// wrap names what failed; a closed client reads as ErrClosed.
func (s *Etcd) wrap(what string, err error) error {
	if s.closed() {
		return fmt.Errorf("store: %s: %w", what, ErrClosed)
	}
	return fmt.Errorf("store: %s: etcd: %w", what, err)
}

// errConflict is a compare of the caller's that failed: the caller reads again and retries.
var errConflict = errors.New("conflict")

// commit writes ops in one transaction if cmps hold and, on a fenced store, the term is still
// the leader's. It returns ErrNotLeader when the term failed, errConflict when cmps did.
func (s *Etcd) commit(ctx context.Context, what string, cmps []clientv3.Cmp, ops ...clientv3.Op) error {
	c, cancel, err := s.reqCtx(ctx, what)
	if err != nil {
		return err
	}
	defer cancel()
	var term *Term
	if s.fenced.Load() {
		f := s.fence.Load()
		if f == nil || f.term.Rev == 0 {
			return fmt.Errorf("store: %s: %w (this daemon is a follower)", what, ErrNotLeader)
		}
		t := f.term
		term = &t
		cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(t.Key), "=", t.Rev))
	}
	txn := s.cli.Txn(c).If(cmps...).Then(ops...)
	if term != nil {
		txn = txn.Else(clientv3.OpGet(term.Key))
	}
	resp, err := txn.Commit()
	if err != nil {
		return s.wrap(what, err)
	}
	if resp.Succeeded {
		return nil
	}
	if term != nil {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 || kvs[0].CreateRevision != term.Rev {
			return fmt.Errorf("store: %s: %w (term %d ended: the election key is gone or another's)", what, ErrNotLeader, term.Rev)
		}
	}
	return errConflict
}

// maxConflicts bounds the retries of a read-modify-write that keeps meeting other writers.
const maxConflicts = 100

// retry runs a read-modify-write until it commits without a conflict.
func retry(ctx context.Context, what string, fn func() error) error {
	for range maxConflicts {
		err := fn()
		if !errors.Is(err, errConflict) {
			return err
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("store: %s: %w", what, err)
		}
	}
	return fmt.Errorf("store: %s: %d concurrent writes in a row changed the same keys; giving up", what, maxConflicts)
}

// put writes one key (fenced, unconditional otherwise).
func (s *Etcd) put(ctx context.Context, what, key string, v []byte) error {
	return s.commit(ctx, what, nil, clientv3.OpPut(s.prefix+key, string(v)))
}

// counter reads a counter key: its value (0 if missing) and mod revision (0 if missing).
func counterOf(resp *clientv3.GetResponse) (uint64, int64, error) {
	if len(resp.Kvs) == 0 {
		return 0, 0, nil
	}
	n, err := strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, 0, fmt.Errorf("store: counter %q: %w: %q is not a number", resp.Kvs[0].Key, ErrCorrupt, resp.Kvs[0].Value)
	}
	return n, resp.Kvs[0].ModRevision, nil
}
