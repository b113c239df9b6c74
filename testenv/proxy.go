package testenv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// DelayProxy is a TCP proxy that delays every chunk of data in both directions by a latency plus
// a random jitter, keeping order: this kernel has no netem, so latency on a management link is
// made in user space, in front of a host's libvirt port.
type DelayProxy struct {
	ln      net.Listener
	target  string
	latency time.Duration
	jitter  time.Duration
	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	closed  bool
}

// StartDelayProxy listens on 127.0.0.1 and forwards to target with the given latency and jitter.
func StartDelayProxy(target string, latency, jitter time.Duration) (*DelayProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testenv: delay proxy: %w", err)
	}
	p := &DelayProxy{ln: ln, target: target, latency: latency, jitter: jitter, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *DelayProxy) Addr() string { return p.ln.Addr().String() }

func (p *DelayProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *DelayProxy) accept() {
	defer p.wg.Done()
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		out, err := net.DialTimeout("tcp", p.target, 2*time.Second)
		if err != nil {
			in.Close()
			continue
		}
		if !p.track(in) || !p.track(out) {
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

// pipe copies src to dst, each chunk delivered no earlier than latency+jitter after it arrived
// and never before the chunk ahead of it.
func (p *DelayProxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
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
		if n > 0 {
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
func (p *DelayProxy) Close() error {
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
