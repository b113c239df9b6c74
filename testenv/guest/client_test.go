package guest_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/guest"
	"github.com/lifeboat-ha/lifeboat/testenv/guest/internal/agentd"
)

// startAgent runs the agent's server on 127.0.0.1 for the test's duration and returns its
// address.
func startAgent(t *testing.T, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := agentd.NewServer(name)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
		srv.Dirtier.Stop()
	})
	return ln.Addr().String()
}

func TestClientProtocol(t *testing.T) {
	addr := startAgent(t, "g1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	st, err := guest.GetStatus(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "g1" || st.Dirtying || st.DirtySizeMiB != 0 || st.DirtiedMiBTotal != 0 {
		t.Errorf("idle status = %+v", st)
	}

	if err := guest.Dirty(ctx, addr, 50, 4); err != nil {
		t.Fatal(err)
	}
	for st.DirtiedMiBTotal == 0 && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
		if st, err = guest.GetStatus(ctx, addr); err != nil {
			t.Fatal(err)
		}
	}
	if !st.Dirtying || st.DirtyRateMiBs != 50 || st.DirtySizeMiB != 4 || st.DirtiedMiBTotal <= 0 {
		t.Errorf("dirtying status = %+v", st)
	}

	if err := guest.StopDirty(ctx, addr); err != nil {
		t.Fatal(err)
	}
	if st, err = guest.GetStatus(ctx, addr); err != nil {
		t.Fatal(err)
	}
	if st.Dirtying || st.DirtySizeMiB != 0 || st.DirtiedMiBTotal <= 0 {
		t.Errorf("stopped status = %+v", st)
	}
}

func TestClientRejected(t *testing.T) {
	addr := startAgent(t, "g1")
	err := guest.Dirty(context.Background(), addr, -1, 4)
	if !errors.Is(err, guest.ErrRejected) {
		t.Fatalf("Dirty(-1) error = %v, want ErrRejected", err)
	}
	if msg := err.Error(); !strings.Contains(msg, addr) || !strings.Contains(msg, `bad RATE "-1"`) {
		t.Errorf("error %q should name the address and the agent's reason", msg)
	}
}

func TestClientConcurrent(t *testing.T) {
	addr := startAgent(t, "g1")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%4 == 0 {
				errs <- guest.Dirty(ctx, addr, 10+i, 1+i%3)
				return
			}
			_, err := guest.GetStatus(ctx, addr)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func TestClientRawProtocol(t *testing.T) {
	addr := startAgent(t, "g1")
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	// Several commands on one connection, one reply line each, in order.
	if _, err := conn.Write([]byte("stop\r\nnonsense\n\nstatus\n")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	for strings.Count(string(buf), "\n") < 4 {
		tmp := make([]byte, 1024)
		n, err := conn.Read(tmp)
		if err != nil {
			t.Fatalf("after %q: %v", buf, err)
		}
		buf = append(buf, tmp[:n]...)
	}
	lines := strings.Split(strings.TrimSuffix(string(buf), "\n"), "\n")
	if len(lines) != 4 || lines[0] != "ok" || !strings.HasPrefix(lines[1], "error: unknown command") ||
		!strings.HasPrefix(lines[2], "error: empty command") || !strings.HasPrefix(lines[3], `{"name":"g1",`) {
		t.Errorf("replies = %q", lines)
	}
}

func TestClientDeadline(t *testing.T) {
	// A listener that accepts and never answers, like a hung guest.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn // held open, unanswered, until the listener closes
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	addr := ln.Addr().String()

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = guest.GetStatus(ctx, addr)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), addr) {
		t.Errorf("GetStatus on a silent agent: %v; want DeadlineExceeded naming %s", err, addr)
	}
	t.Logf("silent agent: %v", err)
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("GetStatus took %v with a 200 ms deadline", el)
	}

	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	if err := guest.StopDirty(ctx, addr); !errors.Is(err, context.Canceled) {
		t.Errorf("StopDirty cancelled: %v; want Canceled", err)
	} else {
		t.Logf("cancelled: %v", err)
	}
}

func TestClientUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	err = guest.StopDirty(context.Background(), addr)
	t.Logf("closed port: %v", err)
	if err == nil || !strings.Contains(err.Error(), addr) {
		t.Errorf("StopDirty on a closed port: %v; want an error naming %s", err, addr)
	}
}

func TestAddr(t *testing.T) {
	if got := guest.Addr("10.0.2.15"); got != "10.0.2.15:7777" {
		t.Errorf("Addr = %q", got)
	}
}
