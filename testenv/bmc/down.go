package bmc

import (
	"errors"
	"net"
	"sync"
)

// errBMCDown is what a connection's Read or Write returns to the HTTP server
// once the connection has lived through a "down" period; the server then
// drops the connection without answering.
var errBMCDown = errors.New("bmc: connection dropped: BMC was down")

// downGate is the "BMC died" switch shared by all connections of a Server.
//
// While the gate is down every connection hangs: it neither reads nor writes,
// so a client sees a TCP connection that never answers, like a BMC that drops
// packets. A connection that hung, or that was open when the gate went down,
// is closed when the gate comes back up or is shut, as a rebooted BMC would
// have lost it.
type downGate struct {
	mu   sync.Mutex
	down bool
	// gen counts transitions (down or up). A connection remembers the
	// generation it was accepted in; a different one means it lived
	// through an outage.
	gen uint64
	// upCh is closed when the current down period ends; nil while up.
	upCh chan struct{}
	// shut is closed by close; it releases every waiter for good.
	shut     chan struct{}
	shutOnce sync.Once
}

// newDownGate returns an open (up) gate.
func newDownGate() *downGate {
	return &downGate{shut: make(chan struct{})}
}

// set moves the gate down or up; it reports whether the state changed.
func (g *downGate) set(down bool) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.down == down {
		return false
	}
	g.down = down
	g.gen++
	if down {
		g.upCh = make(chan struct{})
	} else {
		close(g.upCh)
		g.upCh = nil
	}
	return true
}

// isDown reports whether the gate is down.
func (g *downGate) isDown() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.down
}

// generation returns the current generation.
func (g *downGate) generation() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.gen
}

// await blocks while the gate is down, until it comes up, the gate is shut
// or connDone is closed. It returns the generation it saw while up, or
// ok=false if it was released by shut or connDone.
func (g *downGate) await(connDone <-chan struct{}) (gen uint64, ok bool) {
	for {
		g.mu.Lock()
		if !g.down {
			gen = g.gen
			g.mu.Unlock()
			select {
			case <-g.shut:
				return 0, false
			default:
				return gen, true
			}
		}
		upCh := g.upCh
		g.mu.Unlock()
		select {
		case <-upCh:
		case <-g.shut:
			return 0, false
		case <-connDone:
			return 0, false
		}
	}
}

// close releases every hung connection for good; later awaits do not block.
func (g *downGate) close() {
	g.shutOnce.Do(func() { close(g.shut) })
}

// gatedListener wraps every accepted connection in a gatedConn. It keeps
// accepting while the gate is down, so the port stays reserved and clients
// connect, then hang. It remembers its open connections so closeAll can end
// any the HTTP server missed.
type gatedListener struct {
	net.Listener
	gate *downGate

	mu    sync.Mutex
	conns map[*gatedConn]struct{}
}

// newGatedListener puts ln's connections behind gate.
func newGatedListener(ln net.Listener, gate *downGate) *gatedListener {
	return &gatedListener{Listener: ln, gate: gate, conns: make(map[*gatedConn]struct{})}
}

// Accept accepts the next connection and puts it behind the gate.
func (l *gatedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	gc := &gatedConn{Conn: c, gate: l.gate, gen: l.gate.generation(), done: make(chan struct{}), ln: l}
	l.mu.Lock()
	l.conns[gc] = struct{}{}
	l.mu.Unlock()
	return gc, nil
}

// closeAll closes every connection still open.
func (l *gatedListener) closeAll() {
	l.mu.Lock()
	conns := make([]*gatedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// forget drops a closed connection from the listener's set.
func (l *gatedListener) forget(c *gatedConn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

// gatedConn is a connection that hangs while its gate is down and dies once
// it has seen an outage.
type gatedConn struct {
	net.Conn
	gate *downGate
	// gen is the gate generation the connection was accepted in. One
	// accepted while down has a "down" generation no later await returns,
	// so it is closed when the gate comes up.
	gen       uint64
	done      chan struct{}
	closeOnce sync.Once
	ln        *gatedListener
}

// alive blocks while the gate is down and reports whether the connection
// may still carry data; if not, it closes the connection.
func (c *gatedConn) alive() bool {
	gen, ok := c.gate.await(c.done)
	if ok && gen == c.gen {
		return true
	}
	_ = c.Close()
	return false
}

// Read reads unless the gate is, or went, down meanwhile. Bytes that arrive
// while the gate is down are dropped, like packets sent to a dead BMC.
func (c *gatedConn) Read(p []byte) (int, error) {
	if !c.alive() {
		return 0, errBMCDown
	}
	n, err := c.Conn.Read(p)
	if !c.alive() {
		return 0, errBMCDown
	}
	return n, err
}

// Write writes unless the gate is, or went, down; a dead BMC answers nothing.
func (c *gatedConn) Write(p []byte) (int, error) {
	if !c.alive() {
		return 0, errBMCDown
	}
	return c.Conn.Write(p)
}

// Close closes the connection and releases any Read or Write hung on it.
func (c *gatedConn) Close() error {
	err := net.ErrClosed
	c.closeOnce.Do(func() {
		close(c.done)
		err = c.Conn.Close()
		c.ln.forget(c)
	})
	return err
}

// SetDown makes the BMC "die" (true) or come back (false). While down the
// port stays open and connections are accepted, but no connection is read
// from or answered: clients hang until their own timeout, as with a BMC that
// drops packets. Connections that hung, or were open when the BMC went down,
// are closed when it comes back up or on Close.
func (s *Server) SetDown(down bool) {
	if s.gate.set(down) {
		s.cfg.Logger.Info("bmc availability changed", "system", s.cfg.SystemID, "down", down)
	}
}

// Down reports whether the BMC is down (see SetDown).
func (s *Server) Down() bool {
	return s.gate.isDown()
}
