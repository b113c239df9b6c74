package fleet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// ProcessOptions configure the BMC process of StartBMCProcess.
type ProcessOptions struct {
	// Username and Password are every emulator's credentials.
	Username, Password string
	// Command is the child's program and arguments; nil runs this process's executable again
	// (a test binary whose TestMain calls RunChildIfAsked) with -test.run=^$, so that a binary
	// without that hook runs no test and the start fails with a clear error.
	Command []string
	// Stderr receives the child's standard error (its failures); nil means os.Stderr.
	Stderr io.Writer
}

// commandTimeout bounds the wait for the child's answer to a cut or restore: it answers at
// once unless it is stuck.
const commandTimeout = 30 * time.Second

// closeGrace is how long Close lets the child end on its own (its stdin closed) before it
// kills it.
const closeGrace = 5 * time.Second

// BMCProcess is a child process that runs the BMC emulators of a fleet's hosts
// (StartBMCProcess), so that their CPU and memory are not counted in the process that watches
// them. Its methods are safe for concurrent use.
type BMCProcess struct {
	f           *Fleet
	cmd         *exec.Cmd
	names       []string
	urls        map[string]string
	fingerprint string

	writeMu sync.Mutex
	stdin   io.WriteCloser

	// cmdMu lets one cut or restore at a time wait for its answer on replies.
	cmdMu   sync.Mutex
	replies chan message

	// readDone is closed when the child's stdout has ended; exited when the child has been
	// waited for, with its exit in waitErr.
	readDone chan struct{}
	exited   chan struct{}
	waitErr  error

	errMu    sync.Mutex
	protoErr error
	killed   bool

	closeOnce sync.Once
	closeErr  error
}

// StartBMCProcess makes the named hosts (as Dial would; Dial then returns them) and starts one
// child process that runs a Redfish BMC emulator (testenv/bmc, with sessions and events, one
// shared certificate) for each, on 127.0.0.1 at a free port; each host's power is on. CutPower
// and RestorePower of these hosts go through the child, and a Redfish ForceOff or On at an
// emulator changes the simulated host's power here before the emulator reports it. The child
// is killed if this process dies (Pdeathsig), and ends when its stdin does; Close (or the
// fleet's Close) ends it and waits for it. Each host costs the child about 3 file descriptors
// (the listener, a connection and an event stream) and this process 2.
func (f *Fleet) StartBMCProcess(ctx context.Context, names []string, o ProcessOptions) (*BMCProcess, error) {
	if len(names) == 0 {
		return nil, errors.New("fleet: StartBMCProcess: no host names")
	}
	f.mu.Lock()
	for _, name := range names {
		if f.bmcs[name] != nil || f.remote[name] != nil {
			f.mu.Unlock()
			return nil, fmt.Errorf("fleet: host %s already has a BMC", name)
		}
	}
	f.mu.Unlock()
	argv := o.Command
	if len(argv) == 0 {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("fleet: the BMC process: %w", err)
		}
		argv = []string{exe, "-test.run=^$"}
	}
	spec, err := json.Marshal(childSpec{Username: o.Username, Password: o.Password, Names: names})
	if err != nil {
		return nil, fmt.Errorf("fleet: %w", err)
	}
	cmd := exec.Command(argv[0], argv[1:]...) //nolint:gosec // the test's own binary, or the caller's command
	cmd.Env = append(os.Environ(), ChildEnv+"=1")
	cmd.Stderr = o.Stderr
	if cmd.Stderr == nil {
		cmd.Stderr = os.Stderr
	}
	// The kernel sends Pdeathsig when the thread that forked the child ends, not only the
	// process: start it from a locked thread that lives as long as the child.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &BMCProcess{f: f, cmd: cmd, names: names, urls: make(map[string]string, len(names)),
		replies: make(chan message, 1), readDone: make(chan struct{}), exited: make(chan struct{})}
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, fmt.Errorf("fleet: the BMC process: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("fleet: the BMC process: %w", err)
	}
	started := make(chan error, 1)
	go p.run(started)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("fleet: start the BMC process %q: %w", argv[0], err)
	}
	sc := bufio.NewScanner(stdout)
	stop := context.AfterFunc(ctx, p.kill)
	err = p.handshake(sc, spec)
	stop()
	if err == nil {
		err = ctx.Err()
	}
	if err != nil {
		p.kill()
		go drain(sc, p.readDone)
		<-p.exited
		return nil, fmt.Errorf("fleet: the BMC process (pid %d): %w", cmd.Process.Pid, errors.Join(err, p.exitError()))
	}
	f.mu.Lock()
	for _, name := range names {
		if f.hosts[name] == nil {
			f.newHost(name)
		}
		f.remote[name] = p
	}
	f.procs = append(f.procs, p)
	f.mu.Unlock()
	go p.read(sc, len(names)+2)
	return p, nil
}

// run starts the child on a locked OS thread, reports the start, and waits for the child once
// its stdout has ended, keeping the thread (and so Pdeathsig) alive as long as the child.
func (p *BMCProcess) run(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := p.cmd.Start(); err != nil {
		started <- err
		close(p.exited)
		return
	}
	started <- nil
	<-p.readDone
	p.waitErr = p.cmd.Wait()
	close(p.exited)
}

// drain reads what is left of the child's stdout, then closes done.
func drain(sc *bufio.Scanner, done chan<- struct{}) {
	for sc.Scan() {
	}
	close(done)
}

// handshake sends the spec and reads the child's "bmc" lines and its "ready".
func (p *BMCProcess) handshake(sc *bufio.Scanner, spec []byte) error {
	// A child that does not serve may have exited already: then what its stdout says is the
	// better error.
	sendErr := p.send(string(spec))
	for n := 1; ; n++ {
		if !sc.Scan() {
			return fmt.Errorf("the child's stdout ended after %d of %d BMCs, before ready (does its TestMain call fleet.RunChildIfAsked?): %w",
				len(p.urls), len(p.names), errors.Join(sc.Err(), io.ErrUnexpectedEOF, sendErr))
		}
		line := sc.Text()
		if len(p.urls) < len(p.names) {
			m, err := parseLine(n, line, verbBMC)
			if err != nil {
				return err
			}
			if want := p.names[len(p.urls)]; m.name != want {
				return lineError(n, line, "BMC of %q, want %q", m.name, want)
			}
			p.urls[m.name] = m.url
			continue
		}
		m, err := parseLine(n, line, verbReady)
		if err != nil {
			return err
		}
		p.fingerprint = m.text
		return nil
	}
}

// read follows the child's lines after the handshake (from line n on) until its stdout ends:
// answers go to the waiting command, power changes to the simulated hosts.
func (p *BMCProcess) read(sc *bufio.Scanner, n int) {
	defer close(p.readDone)
	for ; sc.Scan(); n++ {
		line := sc.Text()
		m, err := parseLine(n, line, verbDone, verbError, verbOff, verbOn)
		if err == nil {
			err = p.handle(n, line, m)
		}
		if err != nil {
			p.fail(err)
		}
	}
	if err := sc.Err(); err != nil {
		p.fail(fmt.Errorf("reading the child's stdout: %w", err))
	}
}

// handle acts on a parsed line of the child.
func (p *BMCProcess) handle(n int, line string, m message) error {
	switch m.verb {
	case verbDone, verbError:
		select {
		case p.replies <- m:
			return nil
		default:
			return lineError(n, line, "an answer nobody waits for")
		}
	case verbOff, verbOn:
		p.f.mu.Lock()
		h := p.f.hosts[m.name]
		mine := p.f.remote[m.name] == p
		p.f.mu.Unlock()
		if h == nil || !mine {
			return lineError(n, line, "no host %q with its BMC in this process", m.name)
		}
		if m.verb == verbOff {
			h.powerOff()
		} else {
			h.powerOn()
		}
		return p.send(message{verb: verbDone, of: m.verb, name: m.name}.String())
	}
	return lineError(n, line, "unexpected verb %q", m.verb)
}

// fail records a protocol error; Close returns it, with the others.
func (p *BMCProcess) fail(err error) {
	p.errMu.Lock()
	defer p.errMu.Unlock()
	p.protoErr = errors.Join(p.protoErr, err)
}

// send writes one line to the child.
func (p *BMCProcess) send(line string) error {
	p.writeMu.Lock()
	defer p.writeMu.Unlock()
	if _, err := io.WriteString(p.stdin, line+"\n"); err != nil {
		return fmt.Errorf("writing to the BMC process: %w", err)
	}
	return nil
}

// command sends a cut or restore of a host and waits for the child's answer.
func (p *BMCProcess) command(v verb, name string) error {
	p.cmdMu.Lock()
	defer p.cmdMu.Unlock()
	out := message{verb: v, name: name}
	if err := p.send(out.String()); err != nil {
		return fmt.Errorf("fleet: %s %s: %w", v, name, err)
	}
	t := time.NewTimer(commandTimeout)
	defer t.Stop()
	select {
	case m := <-p.replies:
		if m.verb == verbError {
			return fmt.Errorf("fleet: %q: the BMC process answered: %s", out.String(), m.text)
		}
		if m.of != v || m.name != name {
			return fmt.Errorf("fleet: %q: %w: the answer %q is to another line", out.String(), ErrProtocol, m.String())
		}
		return nil
	case <-p.readDone:
		return fmt.Errorf("fleet: %q: the BMC process (pid %d) has ended", out.String(), p.Pid())
	case <-t.C:
		return fmt.Errorf("fleet: %q: no answer from the BMC process (pid %d) within %s", out.String(), p.Pid(), commandTimeout)
	}
}

// Pid is the child's process id.
func (p *BMCProcess) Pid() int { return p.cmd.Process.Pid }

// Names are the hosts whose BMCs the child runs, in the order given to StartBMCProcess.
func (p *BMCProcess) Names() []string { return append([]string(nil), p.names...) }

// URL is the Redfish address of a host's emulator, "https://127.0.0.1:PORT"; empty for a
// host not in this process.
func (p *BMCProcess) URL(name string) string { return p.urls[name] }

// Fingerprint is the hex SHA-256 of the certificate every emulator serves (to pin).
func (p *BMCProcess) Fingerprint() string { return p.fingerprint }

// kill ends the child by its pid (SIGKILL).
func (p *BMCProcess) kill() {
	p.errMu.Lock()
	p.killed = true
	p.errMu.Unlock()
	_ = p.cmd.Process.Kill()
}

// exitError is the child's exit as an error, once it has been waited for: nil after a clean
// exit or a kill by this side.
func (p *BMCProcess) exitError() error {
	p.errMu.Lock()
	killed := p.killed
	p.errMu.Unlock()
	if p.waitErr == nil || killed {
		return nil
	}
	return fmt.Errorf("the BMC process (pid %d): %w", p.Pid(), p.waitErr)
}

// Close ends the child: it closes its stdin, so that it closes its emulators and exits, and
// kills it by pid if it has not exited within 5 s; it waits for it in either case. It returns
// the protocol errors seen and an exit that was not clean. Later calls return the same.
func (p *BMCProcess) Close() error {
	p.closeOnce.Do(func() {
		p.writeMu.Lock()
		_ = p.stdin.Close()
		p.writeMu.Unlock()
		t := time.NewTimer(closeGrace)
		select {
		case <-p.exited:
		case <-t.C:
			p.kill()
			<-p.exited
		}
		t.Stop()
		p.f.mu.Lock()
		for _, name := range p.names {
			if p.f.remote[name] == p {
				delete(p.f.remote, name)
			}
		}
		p.f.mu.Unlock()
		p.errMu.Lock()
		err := p.protoErr
		p.errMu.Unlock()
		p.closeErr = errors.Join(err, p.exitError())
	})
	return p.closeErr
}
