package testenv

import (
	"bufio"
	"net"
	"testing"
	"time"
)

// echoServer answers every line with the same line, until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					if _, err := c.Write([]byte(line)); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

// roundTrip sends a line through the connection and reads the answer, waiting at most wait.
func roundTrip(c net.Conn, r *bufio.Reader, line string, wait time.Duration) (string, error) {
	_ = c.SetDeadline(time.Now().Add(wait))
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	got, err := r.ReadString('\n')
	if len(got) > 0 {
		got = got[:len(got)-1]
	}
	return got, err
}

// TestProxyCutAndHeal: a cut proxy drops data both ways and holds new connections without an
// answer; Heal ends the connections that lived through the cut and forwards new ones.
func TestProxyCutAndHeal(t *testing.T) {
	p, err := StartCutProxy(echoServer(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if got, err := roundTrip(c, r, "one", 5*time.Second); err != nil || got != "one" {
		t.Fatalf("before the cut: %q, %v", got, err)
	}
	p.Cut()
	if got, err := roundTrip(c, r, "two", 300*time.Millisecond); err == nil {
		t.Fatalf("through a cut link: %q, want no answer", got)
	}
	held, err := net.Dial("tcp", p.Addr()) // accepted, but nothing answers
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	if got, err := roundTrip(held, bufio.NewReader(held), "three", 300*time.Millisecond); err == nil {
		t.Fatalf("a new connection through a cut link: %q, want no answer", got)
	}
	p.Heal()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := r.ReadString('\n'); err == nil {
		t.Error("a connection that lived through the cut still works after Heal; want it ended")
	}
	c2, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if got, err := roundTrip(c2, bufio.NewReader(c2), "four", 5*time.Second); err != nil || got != "four" {
		t.Fatalf("after Heal: %q, %v", got, err)
	}
}

// TestProxyDelayKeepsOrder: a proxy with latency and jitter delivers every line, in order.
func TestProxyDelayKeepsOrder(t *testing.T) {
	p, err := StartDelayProxy(echoServer(t), time.Millisecond, 5*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	lines := []string{"a", "bb", "ccc", "dddd", "eeeee", "f"}
	for _, l := range lines {
		if _, err := c.Write([]byte(l + "\n")); err != nil {
			t.Fatal(err)
		}
	}
	r := bufio.NewReader(c)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	for _, want := range lines {
		got, err := r.ReadString('\n')
		if err != nil || got != want+"\n" {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
}
