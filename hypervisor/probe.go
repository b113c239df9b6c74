package hypervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
	"time"

	"libvirt.org/go/libvirt"
)

// probeState remembers an RPC probe that has not returned, so that a hung host gets one
// outstanding probe, not one more per tick.
type probeState struct {
	mu  sync.Mutex
	cur *rpcProbe
}

// rpcProbe is one RPC probe: started closes when the RPC gets the connection (after any call
// ahead of it), done when err is set.
type rpcProbe struct {
	started chan struct{}
	begin   time.Time
	done    chan struct{}
	err     error
}

// Probe checks the host once: a raw TCP connect to its libvirt port tells refused (host up,
// libvirtd down) from timeout (host dark or cut off); when connected, an RPC round trip tells a
// live libvirtd from a hung one.
func (c *Conn) Probe(outer context.Context) Probe {
	ctx, cancel := context.WithTimeout(outer, c.opts.ProbeTimeout)
	defer cancel()
	p := Probe{At: c.opts.Now(), TCP: ProbeOK}
	if c.endpoint != "" {
		start := time.Now()
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", c.endpoint)
		p.RTT = time.Since(start)
		switch {
		case err == nil:
			conn.Close()
		case errors.Is(err, syscall.ECONNREFUSED):
			p.TCP, p.Outcome, p.Err = ProbeRefused, ProbeRefused, fmt.Errorf("hypervisor: %s: %w", c.endpoint, err)
		default:
			p.TCP, p.Outcome, p.Err = ProbeTimeout, ProbeTimeout, fmt.Errorf("hypervisor: %s: %w", c.endpoint, err)
		}
		if p.Outcome != "" {
			p.Connected = c.Connected()
			return p
		}
	}
	p.Connected = c.Connected()
	if !p.Connected {
		select { // the port answers again: do not wait out the reconnection backoff
		case c.retry <- struct{}{}:
		default:
		}
		// The port accepts connections but there is no libvirt session: libvirtd is hung or
		// starting, unless the latest attempt got an answer (an error from libvirt itself).
		p.Outcome, p.Err = ProbeTimeout, fmt.Errorf("hypervisor: %s accepts TCP but libvirt does not answer: %w", c.name, ErrTimeout)
		if le := c.lastErr.Load(); le != nil && !errors.Is(*le, ErrTimeout) {
			p.Outcome, p.Err = ProbeError, fmt.Errorf("hypervisor: %s: %w: %w", c.name, ErrNotConnected, *le)
		}
		return p
	}
	// The RPC's own round trip is bounded by ProbeTimeout; waiting for a call ahead of it on
	// the connection is bounded by another ProbeTimeout (a call that holds the connection that
	// long is itself a sign of a hung libvirtd).
	rp := c.startRPCProbe()
	queued := time.NewTimer(c.opts.ProbeTimeout)
	defer queued.Stop()
	select {
	case <-rp.started:
	case <-queued.C:
		p.Outcome, p.Err = ProbeTimeout, fmt.Errorf("hypervisor: %s: RPC probe waited %s behind another call: %w", c.name, c.opts.ProbeTimeout, ErrTimeout)
		return p
	case <-outer.Done():
		p.Outcome, p.Err = ProbeTimeout, fmt.Errorf("hypervisor: %s: RPC probe: %w", c.name, outer.Err())
		return p
	}
	rtt := time.NewTimer(c.opts.ProbeTimeout - time.Since(rp.begin))
	defer rtt.Stop()
	select {
	case <-rp.done:
		p.RTT = time.Since(rp.begin)
		if rp.err != nil {
			p.Outcome, p.Err = ProbeError, rp.err
			if !c.Connected() {
				// The connection died under the call (keepalive gave up on a silent peer).
				p.Outcome = ProbeTimeout
			}
			return p
		}
		p.Outcome = ProbeOK
	case <-rtt.C:
		p.RTT = time.Since(rp.begin)
		p.Outcome, p.Err = ProbeTimeout, fmt.Errorf("hypervisor: %s: RPC probe: %w", c.name, ErrTimeout)
	case <-outer.Done():
		p.RTT = time.Since(rp.begin)
		p.Outcome, p.Err = ProbeTimeout, fmt.Errorf("hypervisor: %s: RPC probe: %w", c.name, outer.Err())
	}
	return p
}

// startRPCProbe starts a GetLibVersion round trip, or returns the one still in flight.
func (c *Conn) startRPCProbe() *rpcProbe {
	ps := &c.probe
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.cur != nil {
		return ps.cur
	}
	rp := &rpcProbe{started: make(chan struct{}), done: make(chan struct{})}
	ps.cur = rp
	go func() {
		// The probe's own deadline is enforced by its caller; this call may outlive it (a hung
		// host), which is why only one probe RPC is ever in flight.
		rp.err = c.call(context.Background(), "probe", func(conn *libvirt.Connect) error {
			rp.begin = time.Now()
			close(rp.started)
			_, err := conn.GetLibVersion()
			return wrap("probe", err)
		})
		ps.mu.Lock()
		ps.cur = nil
		ps.mu.Unlock()
		select {
		case <-rp.started:
		default: // the call never reached the connection
			rp.begin = time.Now()
			close(rp.started)
		}
		close(rp.done)
	}()
	return rp
}
