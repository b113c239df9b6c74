package main

import (
	"bytes"
	"os"
	"testing"
)

// On a terminal, a new state of the last operation redraws its line; other text and other
// operations start new lines. Elsewhere every state is a line.
func TestProgressRedrawsOnlyOnATerminal(t *testing.T) {
	write := func(p *progress) {
		p.line("m-1", "a 10%")
		p.line("m-1", "a 50%")
		p.line("m-2", "b 10%")
		p.text("b cannot leave\n")
		p.line("m-2", "b 20%")
		p.line("m-2", "b 30%")
	}
	var b bytes.Buffer
	write(&progress{w: &b, terminal: true})
	const redraw = "\x1b[1A\r\x1b[K"
	if want := "a 10%\n" + redraw + "a 50%\nb 10%\nb cannot leave\nb 20%\n" + redraw + "b 30%\n"; b.String() != want {
		t.Errorf("terminal: %q\nwant %q", b.String(), want)
	}
	b.Reset()
	write(newProgress(&b)) // a buffer is no terminal
	if want := "a 10%\na 50%\nb 10%\nb cannot leave\nb 20%\nb 30%\n"; b.String() != want {
		t.Errorf("not a terminal: %q\nwant %q", b.String(), want)
	}
}

// A pseudo-terminal is a terminal; a pipe is not.
func TestIsTerminal(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if isTerminal(w) {
		t.Error("a pipe taken for a terminal")
	}
	pty, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal here: %v", err)
	}
	defer pty.Close()
	if !isTerminal(pty) {
		t.Error("a pseudo-terminal not taken for a terminal")
	}
}
