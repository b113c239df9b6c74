package testenv

import (
	"fmt"
	"net"
	"sync"
	"time"
)

// CutProxy is a TCP proxy whose link can be cut: while cut, every byte in either direction is
// dropped and new connections go nowhere, as when a cable is pulled (connections hang, nothing
// is refused). Heal ends the connections that lived through the cut, as TCP would once its
// retransmissions time out, and forwards new ones again. Tests put it between one daemon and
// etcd to partition that daemon alone.
type CutProxy struct {
	ln     net.Listener
	target string
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
	cut    bool
	closed bool
}

// StartCutProxy listens on 127.0.0.1 and forwards to target.
func StartCutProxy(target string) (*CutProxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("testenv: cut proxy: %w", err)
	}
	p := &CutProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// Addr is the proxy's listening address.
func (p *CutProxy) Addr() string { return p.ln.Addr().String() }

// Cut drops everything from now on.
func (p *CutProxy) Cut() {
	p.mu.Lock()
	p.cut = true
	p.mu.Unlock()
}

// Heal ends the connections that lived through the cut and forwards new ones again.
func (p *CutProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *CutProxy) isCut() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cut
}

func (p *CutProxy) track(cs ...net.Conn) bool {
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

func (p *CutProxy) accept() {
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

// pipe copies src to dst (nil: nowhere), dropping what arrives while the proxy is cut.
func (p *CutProxy) pipe(src, dst net.Conn) {
	defer p.wg.Done()
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && dst != nil && !p.isCut() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	src.Close()
	if dst != nil {
		dst.Close()
	}
}

// Close stops the proxy and ends its connections.
func (p *CutProxy) Close() error {
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
