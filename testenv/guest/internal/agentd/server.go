package agentd

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/guest"
)

// MaxLine bounds a command line; a longer line gets an error reply and the connection is closed.
const MaxLine = 1024

// IdleTimeout closes a connection that sends no command for this long.
const IdleTimeout = 10 * time.Minute

// ReserveMiB is the memory a dirty command must leave free in the guest, so that the agent is
// not the OOM killer's victim.
const ReserveMiB = 12

// Server answers the agent's line protocol. Set its fields before Serve.
type Server struct {
	// Name is reported by status.
	Name string
	// Dirtier does the dirtying.
	Dirtier *Dirtier
	// Uptime returns the uptime reported by status, in seconds; nil means time since NewServer.
	Uptime func() float64
	// MemAvailableMiB returns the guest's available memory; nil disables the memory check.
	MemAvailableMiB func() (int, error)
	// Logf logs connection errors; nil discards them.
	Logf func(format string, args ...any)
	// Panic crashes the guest's kernel; nil refuses the panic command. It is called after the
	// reply "ok" is sent.
	Panic func() error

	started time.Time
}

// NewServer returns a server named name with an idle Dirtier.
func NewServer(name string) *Server {
	return &Server{Name: name, Dirtier: &Dirtier{}, started: time.Now()}
}

// Serve accepts connections on ln until ctx is done, serving each in its own goroutine. It
// closes ln and every connection before it returns; it returns nil when ctx ended it.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	defer ln.Close()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return fmt.Errorf("agentd: accept: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
}

// serveConn answers one connection's commands until it closes, idles out or ctx ends.
func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 0, 256), MaxLine)
	w := bufio.NewWriter(conn)
	for {
		_ = conn.SetReadDeadline(time.Now().Add(IdleTimeout))
		if !sc.Scan() {
			if err := sc.Err(); errors.Is(err, bufio.ErrTooLong) {
				fmt.Fprintf(w, "error: line longer than %d bytes\n", MaxLine)
				w.Flush()
			} else if err != nil && ctx.Err() == nil {
				s.logf("agentd: %s: %v", conn.RemoteAddr(), err)
			}
			return
		}
		line := sc.Text()
		w.WriteString(s.Exec(line))
		w.WriteByte('\n')
		if err := w.Flush(); err != nil {
			s.logf("agentd: %s: %v", conn.RemoteAddr(), err)
			return
		}
		if cmd, err := ParseCommand(line); err == nil && cmd.Op == OpPanic && s.Panic != nil {
			// The reply is on its way; give it a moment to leave the guest, then crash.
			time.Sleep(200 * time.Millisecond)
			if err := s.Panic(); err != nil {
				s.logf("agentd: panic: %v", err)
			}
			return
		}
	}
}

// Exec runs one command line and returns its reply line, without a newline.
func (s *Server) Exec(line string) string {
	cmd, err := ParseCommand(line)
	if err != nil {
		return errorReply(err)
	}
	switch cmd.Op {
	case OpStatus:
		b, err := json.Marshal(s.Status())
		if err != nil {
			return errorReply(err)
		}
		return string(b)
	case OpDirty:
		if err := s.checkMemory(cmd.SizeMiB); err != nil {
			return errorReply(err)
		}
		if err := s.Dirtier.Start(cmd.RateMiBs, cmd.SizeMiB); err != nil {
			return errorReply(err)
		}
		return "ok"
	case OpStop:
		s.Dirtier.Stop()
		return "ok"
	case OpPanic:
		if s.Panic == nil {
			return errorReply(errors.New("panic is not supported by this agent"))
		}
		return "ok"
	}
	return errorReply(fmt.Errorf("unhandled command %v", cmd.Op))
}

// Status returns what the status command reports.
func (s *Server) Status() guest.Status {
	st := s.Dirtier.Stats()
	up := time.Since(s.started).Seconds()
	if s.Uptime != nil {
		up = s.Uptime()
	}
	return guest.Status{
		Name:             s.Name,
		UptimeSeconds:    up,
		DirtyRateMiBs:    st.RateMiBs,
		DirtySizeMiB:     st.SizeMiB,
		DirtiedMiBTotal:  st.TotalMiB,
		MeasuredRateMiBs: st.MeasuredMiBs,
		Dirtying:         st.Active,
	}
}

// checkMemory refuses a buffer that would not fit in the guest's available memory plus the
// current buffer (which a new dirty frees), minus ReserveMiB.
func (s *Server) checkMemory(sizeMiB int) error {
	if s.MemAvailableMiB == nil {
		return nil
	}
	avail, err := s.MemAvailableMiB()
	if err != nil {
		return nil // best effort: without the figure, let the allocation decide
	}
	if fit := avail + s.Dirtier.SizeMiB() - ReserveMiB; sizeMiB > fit {
		return fmt.Errorf("SIZE %d MiB does not fit: %d MiB available, %d MiB kept in reserve", sizeMiB, avail+s.Dirtier.SizeMiB(), ReserveMiB)
	}
	return nil
}

// logf logs through s.Logf when set.
func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

// errorReply formats err as a one-line "error: ..." reply.
func errorReply(err error) string {
	return "error: " + strings.ReplaceAll(err.Error(), "\n", " ")
}
