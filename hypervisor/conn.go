package hypervisor

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"libvirt.org/go/libvirt"
)

// Options tune a host connection. Zero values take the defaults.
type Options struct {
	// KeepAliveInterval (seconds) and KeepAliveCount: libvirt closes a connection whose peer has
	// not answered for about interval*(count+1) seconds. Defaults 1 and 3.
	KeepAliveInterval int
	KeepAliveCount    uint
	// ProbeTimeout bounds one probe. Default 1s.
	ProbeTimeout time.Duration
	// ConnectTimeout bounds one connection attempt. Default 5s.
	ConnectTimeout time.Duration
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts (with jitter).
	// Defaults 250ms and 5s.
	MinBackoff, MaxBackoff time.Duration
	// EventBuffer is the capacity of the Events channel; events beyond it are dropped (and
	// counted). Default 1024.
	EventBuffer int
	Logger      *slog.Logger
	// Now is the clock, injectable for tests. Default time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.KeepAliveInterval <= 0 {
		o.KeepAliveInterval = 1
	}
	if o.KeepAliveCount == 0 {
		o.KeepAliveCount = 3
	}
	if o.ProbeTimeout <= 0 {
		o.ProbeTimeout = time.Second
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 5 * time.Second
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 250 * time.Millisecond
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = 5 * time.Second
	}
	if o.EventBuffer <= 0 {
		o.EventBuffer = 1024
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Conn is the long-lived libvirt connection to one host. It implements Host.
type Conn struct {
	name, uri, endpoint string
	opts                Options
	log                 *slog.Logger

	// mu guards conn: readers hold it while they use the connection, teardown takes it.
	mu   sync.RWMutex
	conn *libvirt.Connect
	// callMu lets one RPC at a time use the connection: libvirt's client has crashed this
	// process when a keepalive timeout closed a connection with several RPCs in flight to a
	// hung host.
	callMu sync.Mutex

	events     chan Event
	dropped    atomic.Uint64
	closedWake chan struct{} // the close callback fired
	retry      chan struct{} // a probe saw the host answer again: reconnect now
	done       chan struct{}
	closeOnce  sync.Once
	wg         sync.WaitGroup

	connecting atomic.Int64          // unix nanos when a hanging connect attempt began, or 0
	lastErr    atomic.Pointer[error] // why the latest connect attempt failed
	broken     atomic.Bool           // the connection died; no call may use it until reconnected
	probe      probeState
}

// Dial starts watching a host: it returns at once and connects (and reconnects) in the
// background. Only a malformed URI is an error here.
func Dial(ctx context.Context, name, uri string, opts Options) (*Conn, error) {
	ep, err := tcpEndpoint(uri)
	if err != nil {
		return nil, err
	}
	if err := startEventLoop(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	c := &Conn{name: name, uri: uri, endpoint: ep, opts: opts, log: opts.Logger.With("host", name),
		events: make(chan Event, opts.EventBuffer), closedWake: make(chan struct{}, 1), retry: make(chan struct{}, 1), done: make(chan struct{})}
	c.wg.Add(1)
	go c.run(context.WithoutCancel(ctx))
	return c, nil
}

// Name is the host's name.
func (c *Conn) Name() string { return c.name }

// Events delivers the host's events until Close.
func (c *Conn) Events() <-chan Event { return c.events }

// DroppedEvents counts events dropped because the Events channel was full.
func (c *Conn) DroppedEvents() uint64 { return c.dropped.Load() }

// Connected reports whether the libvirt connection is up.
func (c *Conn) Connected() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.conn != nil && !c.broken.Load()
}

// Close ends the connection and waits for its goroutines.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() { close(c.done) })
	c.wg.Wait()
	c.teardown()
	close(c.events)
	return nil
}

// run keeps the connection up until Close.
func (c *Conn) run(ctx context.Context) {
	defer c.wg.Done()
	backoff := c.opts.MinBackoff
	for {
		if err := c.connect(ctx); err != nil {
			c.lastErr.Store(&err)
			c.log.Debug("libvirt connect failed", "uri", c.uri, "err", err)
			wait := backoff/2 + rand.N(backoff/2+1) // jitter keeps many hosts from reconnecting in step
			backoff = min(backoff*2, c.opts.MaxBackoff)
			select {
			case <-c.done:
				return
			case <-time.After(wait):
			case <-c.retry:
			}
			continue
		}
		backoff = c.opts.MinBackoff
		c.lastErr.Store(nil)
		c.emit(Event{Host: c.name, Kind: EventConnected, At: c.opts.Now()})
		c.log.Info("libvirt connected", "uri", c.uri)
		select {
		case <-c.done:
			return
		case <-c.closedWake:
		}
		c.teardown()
		lost := fmt.Errorf("hypervisor: connection to %s lost: %w", c.uri, ErrTimeout)
		c.lastErr.Store(&lost)
		c.emit(Event{Host: c.name, Kind: EventDisconnected, At: c.opts.Now()})
		c.log.Warn("libvirt connection lost", "uri", c.uri)
	}
}

// connect makes one connection attempt, bounded by ConnectTimeout. An attempt that hangs (a
// hung host accepts TCP but never answers) is left to finish on its own, and no second attempt
// starts until it has.
func (c *Conn) connect(ctx context.Context) error {
	if c.connecting.Load() != 0 {
		return fmt.Errorf("hypervisor: %s: previous connect attempt still hanging: %w", c.name, ErrTimeout)
	}
	type result struct {
		conn *libvirt.Connect
		err  error
	}
	res := make(chan result, 1)
	c.connecting.Store(c.opts.Now().UnixNano())
	go func() {
		conn, err := libvirt.NewConnect(c.uri)
		c.connecting.Store(0)
		res <- result{conn, err}
	}()
	var r result
	select {
	case r = <-res:
	case <-time.After(c.opts.ConnectTimeout):
		go func() { // close it if it ever succeeds
			if late := <-res; late.conn != nil {
				late.conn.Close()
			}
		}()
		return fmt.Errorf("hypervisor: connect %s: %w", c.uri, ErrTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
	if r.err != nil {
		return wrap("connect "+c.uri, r.err)
	}
	conn := r.conn
	if err := conn.SetKeepAlive(c.opts.KeepAliveInterval, c.opts.KeepAliveCount); err != nil {
		conn.Close()
		return wrap("keepalive", err)
	}
	// Drain a stale wake-up from a previous connection.
	select {
	case <-c.closedWake:
	default:
	}
	if err := conn.RegisterCloseCallback(func(_ *libvirt.Connect, reason libvirt.ConnectCloseReason) {
		select {
		case c.closedWake <- struct{}{}:
		default:
		}
	}); err != nil {
		conn.Close()
		return wrap("close callback", err)
	}
	if err := c.registerEvents(conn); err != nil {
		_ = conn.UnregisterCloseCallback()
		conn.Close()
		return err
	}
	c.mu.Lock()
	c.conn = conn
	c.broken.Store(false)
	c.mu.Unlock()
	return nil
}

// markBroken stops every further call on the current connection and has it torn down: libvirt
// must not be called on a connection whose socket has closed.
func (c *Conn) markBroken() {
	c.broken.Store(true)
	select {
	case c.closedWake <- struct{}{}:
	default:
	}
}

// teardown drops the current connection, if any.
func (c *Conn) teardown() {
	c.mu.Lock()
	conn := c.conn
	c.conn = nil
	c.mu.Unlock()
	if conn == nil {
		return
	}
	_ = conn.UnregisterCloseCallback()
	conn.Close()
}

// emit sends an event without ever blocking the libvirt event loop.
func (c *Conn) emit(e Event) {
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.events <- e:
	default:
		c.dropped.Add(1)
	}
}

// call runs fn on the live connection, one call at a time, giving up when ctx ends (fn then
// finishes on its own: libvirt calls cannot be cancelled, but keepalive ends calls to a dead
// peer). A call whose caller has given up before its turn is not made at all.
func (c *Conn) call(ctx context.Context, op string, fn func(*libvirt.Connect) error) error {
	errc := make(chan error, 1)
	go func() {
		c.mu.RLock()
		defer c.mu.RUnlock()
		c.callMu.Lock()
		defer c.callMu.Unlock()
		if err := ctx.Err(); err != nil {
			errc <- fmt.Errorf("hypervisor: %s on %s: %w (%w)", op, c.name, ErrTimeout, err)
			return
		}
		if c.conn == nil || c.broken.Load() {
			errc <- fmt.Errorf("hypervisor: %s on %s: %w", op, c.name, ErrNotConnected)
			return
		}
		if alive, err := c.conn.IsAlive(); err != nil || !alive {
			c.markBroken()
			errc <- fmt.Errorf("hypervisor: %s on %s: %w (connection closed)", op, c.name, ErrNotConnected)
			return
		}
		err := fn(c.conn)
		if err != nil {
			if alive, aerr := c.conn.IsAlive(); aerr != nil || !alive {
				c.markBroken()
			}
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return fmt.Errorf("hypervisor: %s on %s: %w (%w)", op, c.name, ErrTimeout, ctx.Err())
	}
}
