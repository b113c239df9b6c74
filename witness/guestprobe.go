package witness

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Target is where a guest is probed on its own network: an address alone means an ICMP echo, an
// address with a port a TCP connect.
type Target struct {
	Addr netip.Addr
	// Port is 0 for an ICMP echo.
	Port uint16
}

// String gives the target as ParseTarget reads it.
func (t Target) String() string {
	if t.Port == 0 {
		return t.Addr.String()
	}
	return netip.AddrPortFrom(t.Addr, t.Port).String()
}

// ErrBadTarget means a probe address that is neither an IP address nor IP:PORT.
var ErrBadTarget = errors.New("want an IP address (ICMP echo) or IP:PORT (TCP connect)")

// ParseTarget reads a probe address: "10.0.0.5" (ICMP echo), "10.0.0.5:22" or "[fd00::5]:22"
// (TCP connect). Names are refused: a probe must not depend on DNS during a partition.
func ParseTarget(s string) (Target, error) {
	if a, err := netip.ParseAddr(s); err == nil {
		if a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
			return Target{}, fmt.Errorf("%q: %w", s, ErrBadTarget)
		}
		return Target{Addr: a.Unmap()}, nil
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Target{}, fmt.Errorf("%q: %w", s, ErrBadTarget)
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() {
		return Target{}, fmt.Errorf("%q: %q is not an IP address: %w", s, host, ErrBadTarget)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || p == 0 {
		return Target{}, fmt.Errorf("%q: port %q: want 1-65535: %w", s, port, ErrBadTarget)
	}
	return Target{Addr: a.Unmap(), Port: uint16(p)}, nil
}

// ErrNoAnswer means the guest did not answer within the timeout.
var ErrNoAnswer = errors.New("no answer")

// ProbeGuest checks once whether a guest answers at t within timeout: an ICMP echo reply from
// its address, or a completed TCP connection to its port (a refused connection does not count:
// only the service's own answer proves that the guest serves). nil means it answered. An ICMP
// echo needs a raw socket, so root (or CAP_NET_RAW).
func ProbeGuest(ctx context.Context, t Target, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if t.Port != 0 {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(t.Addr, t.Port).String())
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w: no TCP connection within %s", t, ErrNoAnswer, timeout)
			}
			return fmt.Errorf("%s: %w: %w", t, ErrNoAnswer, err)
		}
		return c.Close()
	}
	return echo(ctx, t.Addr, timeout)
}

// echo sends one ICMP echo request to addr and waits for the matching reply. Each call has its
// own raw socket and a random identifier, so that calls in parallel do not take each other's
// replies.
func echo(ctx context.Context, addr netip.Addr, timeout time.Duration) error {
	network, listen, proto := "ip4:icmp", "0.0.0.0", 1
	var reqType, replyType icmp.Type = ipv4.ICMPTypeEcho, ipv4.ICMPTypeEchoReply
	if addr.Is6() {
		network, listen, proto = "ip6:ipv6-icmp", "::", 58
		reqType, replyType = ipv6.ICMPTypeEchoRequest, ipv6.ICMPTypeEchoReply
	}
	conn, err := icmp.ListenPacket(network, listen)
	if err != nil {
		return fmt.Errorf("%s: ICMP socket (needs root or CAP_NET_RAW): %w", addr, err)
	}
	defer conn.Close()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	id, seq := int(binary.BigEndian.Uint16(rnd[:2])), int(binary.BigEndian.Uint16(rnd[2:]))
	req := icmp.Message{Type: reqType, Body: &icmp.Echo{ID: id, Seq: seq, Data: []byte("lifeboat guest probe")}}
	b, err := req.Marshal(nil)
	if err != nil {
		return fmt.Errorf("%s: ICMP echo: %w", addr, err)
	}
	deadline, _ := ctx.Deadline()
	if err := conn.SetDeadline(deadline); err != nil {
		return fmt.Errorf("%s: ICMP echo: %w", addr, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	dst := &net.IPAddr{IP: net.IP(addr.AsSlice())}
	if _, err := conn.WriteTo(b, dst); err != nil {
		return fmt.Errorf("%s: %w: ICMP echo not sent: %w", addr, ErrNoAnswer, err)
	}
	buf := make([]byte, 1500)
	for {
		n, peer, err := conn.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return fmt.Errorf("%s: %w: no echo reply within %s", addr, ErrNoAnswer, timeout)
			}
			return fmt.Errorf("%s: %w: %w", addr, ErrNoAnswer, err)
		}
		from, ok := peer.(*net.IPAddr)
		if !ok {
			continue
		}
		if fa, ok := netip.AddrFromSlice(from.IP); !ok || fa.Unmap() != addr {
			continue
		}
		m, err := icmp.ParseMessage(proto, buf[:n])
		if err != nil || m.Type != replyType {
			continue
		}
		if e, ok := m.Body.(*icmp.Echo); ok && e.ID == id && e.Seq == seq {
			return nil
		}
	}
}
