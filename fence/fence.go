// Package fence cuts a failed host's power before its VMs are restarted elsewhere, through a
// ladder of fencing methods (Redfish, IPMI, ClusterLabs fence agents) tried in order.
//
// A method succeeds only when the power is verified off; an error, an unverified state or a
// timeout is a failure, and the ladder moves on to its next method.
package fence

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// Errors that fencing failures wrap.
var (
	// ErrTimeout means a method did not finish within its timeout.
	ErrTimeout = errors.New("fence timed out")
	// ErrNotVerified means the power could not be verified off.
	ErrNotVerified = errors.New("power-off not verified")
	// ErrAllFailed means no method of the ladder fenced the host.
	ErrAllFailed = errors.New("all fence methods failed")
)

// DefaultTimeout bounds each method of a Ladder whose Timeout is zero.
const DefaultTimeout = 20 * time.Second

// abandonGrace is how long the ladder waits, after a method's timeout, for the method to return
// before it gives up on it and moves on.
const abandonGrace = 2 * time.Second

// Method is one way to cut a host's power.
type Method interface {
	// Name names the method, e.g. "redfish", "ipmi" or "exec:fence_redfish".
	Name() string
	// Off cuts the power and verifies that it is off; it returns nil only once the power is
	// verified off.
	Off(ctx context.Context) error
	// Status reports whether the power is verified off (true) or on (false).
	Status(ctx context.Context) (bool, error)
}

// Attempt records one method's try.
type Attempt struct {
	// Method is the method's Name.
	Method string
	// Started is when the try began.
	Started time.Time
	// Took is how long it lasted.
	Took time.Duration
	// Err is why it failed; empty if it succeeded.
	Err string
}

// Result reports a fencing.
type Result struct {
	// Host is the fenced host.
	Host string
	// Method is the method that worked; empty if none did.
	Method string
	// Attempts are the tries, in order.
	Attempts []Attempt
	// Took is how long the whole ladder took.
	Took time.Duration
}

// Ladder tries methods in order, each under its own timeout, until one verifies the host off.
type Ladder struct {
	// Host names the host in results and errors.
	Host string
	// Methods are tried in order.
	Methods []Method
	// Timeout bounds each method; zero means DefaultTimeout.
	Timeout time.Duration
	// Now is the clock for Result and Attempt times; nil means time.Now.
	Now func() time.Time
}

// Fence tries the methods in order and stops at the first that verifies the power off. It
// returns an error wrapping ErrAllFailed, and every method's failure, if none did. If ctx ends
// before a method succeeded, the error wraps ctx's error instead (not every method was tried).
// A nil error means the host's power is verified off.
func (l Ladder) Fence(ctx context.Context) (Result, error) {
	now := l.Now
	if now == nil {
		now = time.Now
	}
	timeout := l.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	start := now()
	res := Result{Host: l.Host}
	if len(l.Methods) == 0 {
		res.Took = now().Sub(start)
		return res, fmt.Errorf("fence %s: %w: no fence method configured", l.Host, ErrAllFailed)
	}
	var errs []error
	for _, m := range l.Methods {
		if err := ctx.Err(); err != nil {
			res.Took = now().Sub(start)
			return res, &FailedError{Host: l.Host, Errs: errs, Cause: err}
		}
		a := Attempt{Method: m.Name(), Started: now()}
		err := try(ctx, m, timeout)
		a.Took = now().Sub(a.Started)
		if err == nil {
			res.Attempts = append(res.Attempts, a)
			res.Method = a.Method
			res.Took = now().Sub(start)
			return res, nil
		}
		a.Err = err.Error()
		res.Attempts = append(res.Attempts, a)
		errs = append(errs, fmt.Errorf("%s: %w", a.Method, err))
	}
	res.Took = now().Sub(start)
	if err := ctx.Err(); err != nil {
		return res, &FailedError{Host: l.Host, Errs: errs, Cause: err}
	}
	return res, &FailedError{Host: l.Host, Errs: errs, Cause: ErrAllFailed}
}

// try runs m.Off under timeout. A method that overruns its timeout (plus a short grace to
// report) is abandoned; a failure after the deadline wraps ErrTimeout.
func try(ctx context.Context, m Method, timeout time.Duration) error {
	mctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("method panicked: %v", p)
			}
		}()
		done <- m.Off(mctx)
	}()
	var err error
	select {
	case err = <-done:
	case <-mctx.Done():
		t := time.NewTimer(abandonGrace)
		defer t.Stop()
		select {
		case err = <-done:
		case <-t.C:
			err = fmt.Errorf("%w after %s: method did not return; abandoned", ErrTimeout, timeout)
		}
	}
	if err != nil && !errors.Is(err, ErrTimeout) &&
		(errors.Is(mctx.Err(), context.DeadlineExceeded) || isTimeout(err)) {
		err = fmt.Errorf("%w after %s: %w", ErrTimeout, timeout, err)
	}
	return err
}

// isTimeout reports whether err is a deadline or network timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// FailedError is the error of a ladder that fenced nothing. It wraps Cause (ErrAllFailed, or
// the context's error if the ladder was cut short) and every method's failure.
type FailedError struct {
	// Host is the host that was not fenced.
	Host string
	// Errs are the methods' failures, in order, each prefixed with the method's name.
	Errs []error
	// Cause is ErrAllFailed, or the context's error.
	Cause error
}

// Error lists every method's failure.
func (e *FailedError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "fence %s: %v", e.Host, e.Cause)
	for i, err := range e.Errs {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap returns the cause and every method's failure.
func (e *FailedError) Unwrap() []error {
	return append([]error{e.Cause}, e.Errs...)
}
