package agentd

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxSizeMiB bounds the SIZE of a dirty command (the memory check usually refuses far less).
const MaxSizeMiB = 1 << 20

// MaxRateMiBs bounds the RATE of a dirty command.
const MaxRateMiBs = 1 << 20

// Op is a protocol command.
type Op int

// The protocol's commands.
const (
	// OpStatus is "status": report the agent's state as one JSON line.
	OpStatus Op = iota + 1
	// OpDirty is "dirty RATE SIZE": start or change dirtying.
	OpDirty
	// OpStop is "stop": stop dirtying and free the buffer.
	OpStop
	// OpPanic is "panic": crash the guest's kernel (sysrq c) right after the reply, so that
	// its pvpanic device tells QEMU the guest panicked.
	OpPanic
)

// Command is one parsed protocol line.
type Command struct {
	// Op is the command.
	Op Op
	// RateMiBs is dirty's RATE in MiB/s; 0 means as fast as possible.
	RateMiBs int
	// SizeMiB is dirty's SIZE in MiB.
	SizeMiB int
}

// ParseCommand parses one protocol line (without or with its line ending). The error says what
// is wrong in words fit for an "error: ..." reply.
func ParseCommand(line string) (Command, error) {
	f := strings.Fields(line)
	if len(f) == 0 {
		return Command{}, errors.New("empty command (want status, dirty RATE SIZE, stop or panic)")
	}
	switch f[0] {
	case "status", "stop", "panic":
		if len(f) != 1 {
			return Command{}, fmt.Errorf("%s takes no arguments", f[0])
		}
		return Command{Op: map[string]Op{"status": OpStatus, "stop": OpStop, "panic": OpPanic}[f[0]]}, nil
	case "dirty":
		if len(f) != 3 {
			return Command{}, errors.New("usage: dirty RATE SIZE (RATE in MiB/s, 0 = as fast as possible; SIZE in MiB)")
		}
		rate, err := parseInt("RATE", f[1], 0, MaxRateMiBs)
		if err != nil {
			return Command{}, err
		}
		size, err := parseInt("SIZE", f[2], 1, MaxSizeMiB)
		if err != nil {
			return Command{}, err
		}
		return Command{Op: OpDirty, RateMiBs: rate, SizeMiB: size}, nil
	default:
		return Command{}, fmt.Errorf("unknown command %q (want status, dirty RATE SIZE, stop or panic)", f[0])
	}
}

// parseInt parses a decimal integer in [lo, hi].
func parseInt(what, s string, lo, hi int) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, fmt.Errorf("bad %s %q: want an integer from %d to %d", what, s, lo, hi)
	}
	return n, nil
}
