package main

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// progress prints the progress of operations. On a terminal, a new state of the operation whose
// line was printed last replaces that line in place; elsewhere (a pipe, a file, a log) every
// state is a plain line of its own.
type progress struct {
	w        io.Writer
	terminal bool
	// last is the key of the line printed last, "" after any other text.
	last string
}

// newProgress writes to w, redrawing in place when w is a terminal.
func newProgress(w io.Writer) *progress {
	return &progress{w: w, terminal: isTerminal(w)}
}

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// line prints s as the state of the operation key.
func (p *progress) line(key, s string) {
	if p.terminal && key == p.last {
		fmt.Fprint(p.w, "\x1b[1A\r\x1b[K") // up one line, to its start, and clear it
	}
	fmt.Fprintln(p.w, s)
	p.last = key
}

// text prints other lines (never redrawn).
func (p *progress) text(format string, args ...any) {
	fmt.Fprintf(p.w, format, args...)
	p.last = ""
}
