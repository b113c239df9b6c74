package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// Proxy is a TCP proxy for faults on a link, in user space (this kernel has no netem):
//   - latency: every chunk of data, in both directions, is delivered a latency plus a random
//     jitter after it arrived, in order (in front of a host's libvirt port, a slow management
//     link);
//   - a cut: while cut, every byte in either direction is dropped and new connections go
//     nowhere, as when a cable is pulled (connections hang, nothing is refused). Heal ends the
//     connections that lived through the cut, as TCP would once its retransmissions time out,
//     and forwards new ones again (between one daemon and etcd, a partition of that daemon
//     alone).
type Proxy struct {
	ln      net.Listener
	target  string
	latency time.Duration
	jitter  time.Duration
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	cut     bool
	closed  bool
}

// StartDelayProxy listens on 127.0.0.1 and forwards to target with the given latency and jitter.
func StartDelayProxy(target string, latency, jitter time.Duration) (*Proxy, error) {
	return startProxy(target, latency, jitter)
}

// StartCutProxy listens on 127.0.0.1 and forwards to target with no delay, until Cut.
func StartCutProxy(target string) (*Proxy, error) { return startProxy(target, 0, 0) }

func startProxy(target string, latency, jitter time.Duration) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testenv: proxy to %s: %w", target, err)
	}
	p := &Proxy{ln: ln, target: target, latency: latency, jitter: jitter, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Cut drops everything from now on.
func (p *Proxy) Cut() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
}

// Heal ends the connections that lived through the cut and forwards new ones again.
func (p *Proxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *Proxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

func (p *Proxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.isCut() {
			// Nothing answers: hold the connection until heal or close.
			if !p.track(in) {
				in.Close()
				return
			}
			p.wg.Add(1)
			go p.pipe(in, nil)
			continue
		}
		out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		if !p.track(in, out) {
			in.Close()
			out.Close()
			return
		}
		p.wg.Add(2)
		go p.pipe(in, out)
		go p.pipe(out, in)
	}
}

type chunk struct {
	data []byte
	at   time.Time
}

// pipe copies src to dst (nil: nowhere), dropping what arrives while the proxy is cut; with a
// latency, each chunk is delivered no earlier than latency+jitter after it arrived and never
// before the chunk ahead of it. At the end it closes dst for writing (src for a held connection).
func (p *Proxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	if dst == nil {
		buf := make([]byte, 4<<10)
		for {
			if _, err := src.Read(buf); err != nil {
				src.Close()
				return
			}
		}
	}
	q := make(chan chunk, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if d := time.Until(c.at); d > 0 {
				time.Sleep(d)
			}
			if _, err := dst.Write(c.data); err != nil {
				break
			}
		}
		for range q { // drain after a write error
		}
	}()
	last := time.Time{}
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !p.isCut() {
			at := time.Now().Add(p.latency)
			if p.jitter > 0 {
				at = at.Add(time.Duration(rand.Int64N(int64(p.jitter))))
			}
			if at.Before(last) {
				at = last
			}
			last = at
			q <- chunk{data: append([]byte(nil), buf[:n]...), at: at}
		}
		if err != nil {
			break
		}
	}
	close(q)
	<-done
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		dst.Close()
	}
}

// Close stops the proxy and ends its connections.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	err := p.ln.Close()
	p.wg.Wait()
	return err
}
