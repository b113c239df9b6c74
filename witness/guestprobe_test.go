package witness

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

func TestParseTarget(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.0.5": "10.0.0.5", "10.0.0.5:22": "10.0.0.5:22", "fd00::5": "fd00::5", "[fd00::5]:443": "[fd00::5]:443",
		"::ffff:10.0.0.5": "10.0.0.5",
	} {
		tg, err := ParseTarget(in)
		if err != nil || tg.String() != want {
			t.Errorf("ParseTarget(%q) = %v, %v; want %s", in, tg, err, want)
		}
	}
	for _, bad := range []string{"", "db1.example.com", "db1:22", "10.0.0.5:0", "10.0.0.5:70000", "10.0.0.5:ssh", "0.0.0.0", "224.0.0.1", "fe80::1%eth0", "10.0.0.5:22:1"} {
		if _, err := ParseTarget(bad); !errors.Is(err, ErrBadTarget) {
			t.Errorf("ParseTarget(%q): %v, want ErrBadTarget", bad, err)
		}
	}
}

// A TCP target answers when something accepts the connection; a closed port (refused) and a
// closed context are no answer.
func TestProbeGuestTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	open, _ := ParseTarget(ln.Addr().String())
	ctx := context.Background()
	if err := ProbeGuest(ctx, open, 2*time.Second); err != nil {
		t.Fatalf("a listening port: %v", err)
	}
	ln.Close()
	if err := ProbeGuest(ctx, open, 2*time.Second); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("a closed port: %v, want ErrNoAnswer", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := ProbeGuest(cctx, open, 2*time.Second); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("a cancelled probe: %v, want ErrNoAnswer", err)
	}
}

// An ICMP echo to the loopback address is answered by the kernel; one to an address nobody
// holds (TEST-NET-2: at most a router answers with an error, which does not count) is not. Raw sockets need root.
func TestProbeGuestICMP(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("the ICMP probe test needs root (a raw socket)")
		}
		t.Skip("the ICMP probe test needs root (a raw socket)")
	}
	ctx := context.Background()
	lo, _ := ParseTarget("127.0.0.1")
	if err := ProbeGuest(ctx, lo, 2*time.Second); err != nil {
		t.Fatalf("echo to 127.0.0.1: %v", err)
	}
	lo6, _ := ParseTarget("::1")
	if err := ProbeGuest(ctx, lo6, 2*time.Second); err != nil {
		t.Logf("echo to ::1 (IPv6 may be off here): %v", err)
	}
	nobody, _ := ParseTarget("198.51.100.7")
	if err := ProbeGuest(ctx, nobody, 300*time.Millisecond); !errors.Is(err, ErrNoAnswer) {
		t.Fatalf("echo to 198.51.100.7: %v, want ErrNoAnswer", err)
	}
}
