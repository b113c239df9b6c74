package guest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// AgentPort is the TCP port the in-guest agent listens on.
const AgentPort = 7777

// DefaultTimeout bounds a call whose context has no deadline, so a hung guest cannot block a
// caller forever.
const DefaultTimeout = 10 * time.Second

// maxReply bounds a reply line; a status line is well under 1 KiB.
const maxReply = 64 << 10

// ErrRejected means the agent answered "error: ..." (a malformed or refused command).
var ErrRejected = errors.New("agent rejected the command")

// Addr returns the agent's address on the guest with the given IP: "IP:7777".
func Addr(ip string) string {
	return net.JoinHostPort(ip, strconv.Itoa(AgentPort))
}

// Dirty asks the agent at addr to dirty a sizeMiB MiB buffer at rateMiBs MiB/s (0 = as fast as
// possible), replacing any dirtying already running.
func Dirty(ctx context.Context, addr string, rateMiBs, sizeMiB int) error {
	return expectOK(ctx, addr, fmt.Sprintf("dirty %d %d", rateMiBs, sizeMiB))
}

// StopDirty asks the agent at addr to stop dirtying and free its buffer.
func StopDirty(ctx context.Context, addr string) error {
	return expectOK(ctx, addr, "stop")
}

// Panic asks the agent at addr to crash the guest's kernel (SysRq c). The guest's pvpanic
// device then tells QEMU that it panicked; what follows is the domain's on_crash action.
func Panic(ctx context.Context, addr string) error {
	return expectOK(ctx, addr, "panic")
}

// GetStatus asks the agent at addr for its status.
func GetStatus(ctx context.Context, addr string) (Status, error) {
	reply, err := roundTrip(ctx, addr, "status")
	if err != nil {
		return Status{}, err
	}
	var st Status
	if err := json.Unmarshal([]byte(reply), &st); err != nil {
		return Status{}, fmt.Errorf("guest: agent %s: status: bad reply %q: %w", addr, reply, err)
	}
	return st, nil
}

// expectOK sends cmd and checks the reply is "ok".
func expectOK(ctx context.Context, addr, cmd string) error {
	reply, err := roundTrip(ctx, addr, cmd)
	if err != nil {
		return err
	}
	if reply != "ok" {
		return fmt.Errorf("guest: agent %s: %s: unexpected reply %q", addr, cmd, reply)
	}
	return nil
}

// roundTrip sends one command on a fresh connection and returns the reply line, without its
// newline. A reply "error: ..." becomes an error wrapping ErrRejected.
func roundTrip(ctx context.Context, addr, cmd string) (string, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	// The connection's deadline is the context's, so it may expire a moment before the context
	// notices: report such a timeout as the context's error, keeping the detail.
	fail := func(err error) error {
		ctxErr := ctx.Err()
		if ctxErr == nil && errors.Is(err, os.ErrDeadlineExceeded) {
			ctxErr = context.DeadlineExceeded
		}
		if ctxErr != nil && !errors.Is(err, ctxErr) {
			err = fmt.Errorf("%w (%v)", ctxErr, err)
		}
		return fmt.Errorf("guest: agent %s: %s: %w", addr, cmd, err)
	}

	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fail(err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return "", fail(err)
		}
	}
	// Cancellation (not only the deadline) must interrupt a blocked read or write.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	if _, err := io.WriteString(conn, cmd+"\n"); err != nil {
		return "", fail(err)
	}
	line, err := bufio.NewReader(io.LimitReader(conn, maxReply)).ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = fmt.Errorf("connection closed before a full reply (got %q): %w", line, io.ErrUnexpectedEOF)
		}
		return "", fail(err)
	}
	line = strings.TrimRight(line, "\r\n")
	if msg, ok := strings.CutPrefix(line, "error:"); ok {
		return "", fmt.Errorf("guest: agent %s: %s: %w: %s", addr, cmd, ErrRejected, strings.TrimSpace(msg))
	}
	return line, nil
}
