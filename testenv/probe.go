package testenv

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"time"
)

// guestAgentPort is where the Linux guest's agent listens (see testenv/guest).
const guestAgentPort = "7777"

// WaitGuestUp waits until the Linux guest at ip answers on its agent port: it has booted, brought
// its network up and is reachable over the guest network.
func WaitGuestUp(ctx context.Context, ip string) error {
	addr := net.JoinHostPort(ip, guestAgentPort)
	var last error
	for {
		d := net.Dialer{Timeout: time.Second}
		c, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		last = err
		select {
		case <-ctx.Done():
			return fmt.Errorf("testenv: guest at %s did not come up: %w (last: %v)", addr, ctx.Err(), last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Pinger pings an address every interval with the system's ping and records when replies come
// back, so that a test can measure how long a guest stopped answering (its pause).
type Pinger struct {
	cmd     *exec.Cmd
	mu      sync.Mutex
	replies []time.Time
	done    chan struct{}
}

var pingReply = regexp.MustCompile(`^\[(\d+\.\d+)\].*icmp_seq=(\d+)`)

// StartPinger starts pinging ip every interval (at least 10 ms) until Stop.
func StartPinger(ctx context.Context, ip string, interval time.Duration) (*Pinger, error) {
	if interval < 10*time.Millisecond {
		interval = 10 * time.Millisecond
	}
	cmd := exec.CommandContext(ctx, "ping", "-n", "-D", "-W", "1", "-i", fmt.Sprintf("%.3f", interval.Seconds()), ip)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("testenv: ping %s: %w", ip, err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: ping %s: %w", ip, err)
	}
	p := &Pinger{cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m := pingReply.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			sec, err := strconv.ParseFloat(m[1], 64)
			if err != nil {
				continue
			}
			t := time.Unix(0, int64(sec*1e9))
			p.mu.Lock()
			p.replies = append(p.replies, t)
			p.mu.Unlock()
		}
	}()
	return p, nil
}

// Replies is the number of replies received so far.
func (p *Pinger) Replies() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.replies)
}

// MaxGap is the longest time between two consecutive replies so far: the longest pause seen.
func (p *Pinger) MaxGap() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	var gap time.Duration
	for i := 1; i < len(p.replies); i++ {
		if d := p.replies[i].Sub(p.replies[i-1]); d > gap {
			gap = d
		}
	}
	return gap
}

// Stop ends the ping process (the one this Pinger started) and waits for it.
func (p *Pinger) Stop() {
	if p.cmd.Process != nil {
		_ = p.cmd.Process.Kill()
	}
	<-p.done
	_ = p.cmd.Wait()
}
