package fleet

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// ChildEnv is the environment variable that makes RunChildIfAsked serve BMC emulators: the
// parent (StartBMCProcess) sets it to "1" when it runs its own executable again as the child.
const ChildEnv = "LIFEBOAT_FLEET_BMC_CHILD"

// childSpec is the first line the parent writes to the child, in JSON: what to serve.
type childSpec struct {
	Username string   `json:"username"`
	Password string   `json:"password"`
	Names    []string `json:"names"`
}

// RunChildIfAsked makes a test binary the BMC process of StartBMCProcess. Call it first in
// TestMain: with ChildEnv set to "1" it reads a childSpec from stdin, serves those BMC
// emulators (ServeBMCs, stdin and stdout carrying the protocol), and exits the process: with
// status 0 once stdin ends, 1 (the error on stderr) on failure. Without ChildEnv it returns at
// once.
func RunChildIfAsked() {
	if os.Getenv(ChildEnv) != "1" {
		return
	}
	if err := runChild(context.Background(), os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fleet BMC process:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// runChild reads the spec line from in, then serves its hosts.
func runChild(ctx context.Context, in io.Reader, out io.Writer) error {
	br := bufio.NewReader(in)
	line, err := br.ReadBytes('\n')
	if err != nil {
		return fmt.Errorf("%w: line 1 (the JSON spec): %w", ErrProtocol, err)
	}
	var spec childSpec
	if err := json.Unmarshal(line, &spec); err != nil {
		return fmt.Errorf("%w: line 1 (the JSON spec): %w", ErrProtocol, err)
	}
	return serveBMCs(ctx, spec.Names, BMCOptions{Username: spec.Username, Password: spec.Password}, br, out, 1)
}

// ServeBMCs is the BMC process: it starts a Redfish BMC emulator (testenv/bmc, with sessions
// and events, one shared certificate) for each of the named hosts on 127.0.0.1 at a free port,
// each host's power on, writes "bmc NAME URL" for each and "ready SHA256" to out, then
// follows the protocol (see protocol.go) on in and out: "cut NAME" and "restore NAME" change a
// BMC's power state behind its back (with a power event), and a Redfish ForceOff or On is
// reported as "off NAME" or "on NAME" and takes effect once in answers "done off NAME" or
// "done on NAME". A bad line on in is answered "error ..." naming it. ServeBMCs returns when in
// ends, after closing the emulators; when ctx is done the emulators close, and it returns once
// in ends.
func ServeBMCs(ctx context.Context, names []string, o BMCOptions, in io.Reader, out io.Writer) error {
	return serveBMCs(ctx, names, o, in, out, 0)
}

// childHost is one emulated BMC of the child and the power state it reports.
type childHost struct {
	name string
	c    *bmcChild
	srv  *bmc.Server
	on   atomic.Bool

	mu sync.Mutex
	// waiting is the answer an off or on waits for (nil when none does), of the verb waitFor.
	waiting chan struct{}
	waitFor verb
}

// bmcChild is the state of ServeBMCs.
type bmcChild struct {
	outMu sync.Mutex
	out   io.Writer
	hosts map[string]*childHost
}

// serveBMCs is ServeBMCs, whose in has already had skip lines read (for the line numbers).
func serveBMCs(ctx context.Context, names []string, o BMCOptions, in io.Reader, out io.Writer, skip int) (err error) {
	if len(names) == 0 {
		return errors.New("fleet: ServeBMCs: no host names")
	}
	if o.Certificate == nil {
		cert, err := bmc.NewCertificate("fleet")
		if err != nil {
			return fmt.Errorf("fleet: %w", err)
		}
		o.Certificate = &cert
	}
	c := &bmcChild{out: out, hosts: make(map[string]*childHost, len(names))}
	defer func() {
		var errs []error
		for _, h := range c.hosts {
			if h.srv != nil {
				errs = append(errs, h.srv.Close())
			}
		}
		err = errors.Join(append([]error{err}, errs...)...)
	}()
	for _, name := range names {
		if _, dup := c.hosts[name]; dup {
			return fmt.Errorf("fleet: host %s named twice", name)
		}
		h := &childHost{name: name, c: c}
		h.on.Store(true)
		c.hosts[name] = h
		h.srv, err = bmc.New(bmc.Config{SystemID: name, Username: o.Username, Password: o.Password,
			Power: h, Certificate: o.Certificate, Logger: o.Logger})
		if err != nil {
			return fmt.Errorf("fleet: BMC of %s: %w", name, err)
		}
		if err := h.srv.Start(ctx); err != nil {
			return fmt.Errorf("fleet: BMC of %s: %w", name, err)
		}
		if err := c.write(message{verb: verbBMC, name: name, url: h.srv.URL()}); err != nil {
			return err
		}
	}
	sum := sha256.Sum256(o.Certificate.Certificate[0]) // the leaf's DER
	if err := c.write(message{verb: verbReady, text: hex.EncodeToString(sum[:])}); err != nil {
		return err
	}
	sc := bufio.NewScanner(in)
	for n := skip + 1; sc.Scan(); n++ {
		if err := c.handle(n, sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("fleet: reading the parent's lines: %w", err)
	}
	return nil
}

// write sends one protocol line to the parent.
func (c *bmcChild) write(m message) error {
	c.outMu.Lock()
	defer c.outMu.Unlock()
	if _, err := io.WriteString(c.out, m.String()+"\n"); err != nil {
		return fmt.Errorf("fleet: writing %q to the parent: %w", m.String(), err)
	}
	return nil
}

// handle acts on line n from the parent. A bad line is answered with an error line; only a
// failure to write is returned.
func (c *bmcChild) handle(n int, line string) error {
	m, err := parseLine(n, line, verbCut, verbRestore, verbDone)
	if err == nil {
		err = c.apply(n, line, m)
	}
	if err != nil {
		return c.write(message{verb: verbError, text: err.Error()})
	}
	return nil
}

// apply carries out a parsed line from the parent.
func (c *bmcChild) apply(n int, line string, m message) error {
	h := c.hosts[m.name]
	if h == nil {
		return lineError(n, line, "no BMC of a host %q here", m.name)
	}
	switch m.verb {
	case verbCut, verbRestore:
		h.on.Store(m.verb == verbRestore)
		h.srv.PowerChanged()
		return c.write(message{verb: verbDone, of: m.verb, name: m.name})
	case verbDone:
		h.mu.Lock()
		defer h.mu.Unlock()
		if h.waiting == nil || h.waitFor != m.of {
			return lineError(n, line, "no %s of %s waits for an answer", m.of, m.name)
		}
		close(h.waiting)
		h.waiting = nil
		return nil
	}
	return lineError(n, line, "unexpected verb %q", m.verb)
}

// PowerState implements bmc.Power.
func (h *childHost) PowerState() bmc.PowerState {
	if h.on.Load() {
		return bmc.PowerOn
	}
	return bmc.PowerOff
}

// ForceOff implements bmc.Power: the parent cuts the simulated host's power, then the BMC
// reports Off.
func (h *childHost) ForceOff(ctx context.Context) error { return h.ask(ctx, verbOff) }

// On implements bmc.Power: the parent gives the simulated host power again, then the BMC
// reports On.
func (h *childHost) On(ctx context.Context) error { return h.ask(ctx, verbOn) }

// ask tells the parent of a power change (off or on), waits for its answer, and then reports
// the new state. The emulator serialises resets, so one ask at a time waits per host.
func (h *childHost) ask(ctx context.Context, v verb) error {
	done := make(chan struct{})
	h.mu.Lock()
	h.waiting, h.waitFor = done, v
	h.mu.Unlock()
	if err := h.c.write(message{verb: v, name: h.name}); err != nil {
		return err
	}
	select {
	case <-done:
		h.on.Store(v == verbOn)
		return nil
	case <-ctx.Done():
		h.mu.Lock()
		if h.waiting == done {
			h.waiting = nil
		}
		h.mu.Unlock()
		return fmt.Errorf("fleet: %s of %s: the parent did not answer: %w", v, h.name, ctx.Err())
	}
}
