package ipmisim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// startWait bounds how long Start waits for ipmi_sim to answer an RMCP ping.
const startWait = 10 * time.Second

// stopWait bounds how long Close waits for ipmi_sim to exit after SIGTERM before SIGKILL.
const stopWait = 5 * time.Second

// Server is one running ipmi_sim BMC and the power socket its chassis_control script uses.
// Create it with New, start it with Start, end it with Close.
type Server struct {
	cfg Config

	mu      sync.Mutex
	started bool
	closed  bool
	port    int
	cmd     *exec.Cmd
	exited  chan struct{} // closed when ipmi_sim has been reaped
	waitErr error         // how ipmi_sim exited; set before exited is closed
	srv     *http.Server
	cancel  context.CancelFunc
	down    bool
}

// New validates cfg and returns a Server that is not yet running. Errors wrap ErrInvalidConfig
// and name the field.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg}, nil
}

// Installed reports ipmi_sim's path, or an error wrapping ErrNotInstalled. The power script
// needs curl as well.
func Installed() (string, error) {
	p, err := exec.LookPath("ipmi_sim")
	if err != nil {
		return "", fmt.Errorf("ipmisim: %w: %w", ErrNotInstalled, err)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		return "", fmt.Errorf("ipmisim: curl, which the chassis power script runs, is missing: %w", err)
	}
	return p, nil
}

// Start serves the power socket, writes the configuration with a free UDP port on 127.0.0.1,
// starts ipmi_sim and returns once it answers an RMCP presence ping. ctx bounds the start only;
// the Server runs until Close. On error nothing is left running.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fmt.Errorf("ipmisim %s: start: %w", s.cfg.Name, net.ErrClosed)
	case s.started:
		return fmt.Errorf("ipmisim %s: start: already started", s.cfg.Name)
	}
	bin, err := Installed()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.cfg.Dir, 0o700); err != nil {
		return fmt.Errorf("ipmisim %s: %w", s.cfg.Name, err)
	}
	// A fresh state directory: ipmi_sim keeps users it was told about there, and would prefer
	// a stale copy to the configuration's.
	if err := removeFiles(s.cfg.Dir); err != nil {
		return err
	}
	if err := s.servePower(); err != nil {
		return err
	}
	// A free port can be taken by someone else before ipmi_sim binds it; try a few.
	for attempt := 0; ; attempt++ {
		if err = s.startSim(ctx, bin); err == nil {
			s.started = true
			s.cfg.Logger.Info("ipmi bmc listening", "bmc", s.cfg.Name, "addr", s.addr(), "pid", s.cmd.Process.Pid)
			return nil
		}
		if attempt == 2 || ctx.Err() != nil {
			break
		}
	}
	s.stopPower()
	_ = removeFiles(s.cfg.Dir)
	return err
}

// servePower listens on the power socket (owner only) and serves the power handler.
func (s *Server) servePower() error {
	sock := filepath.Join(s.cfg.Dir, powerSocket)
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fmt.Errorf("ipmisim %s: power socket: %w", s.cfg.Name, err)
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("ipmisim %s: power socket: %w", s.cfg.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &powerHandler{ctx: ctx, name: s.cfg.Name, power: s.cfg.Power, log: s.cfg.Logger}
	s.srv = &http.Server{Handler: h.routes(), ReadHeaderTimeout: 10 * time.Second}
	s.cancel = cancel
	go func() { _ = s.srv.Serve(ln) }()
	return nil
}

// stopPower closes the power socket and cancels power changes in flight.
func (s *Server) stopPower() {
	if s.srv == nil {
		return
	}
	s.cancel()
	_ = s.srv.Close()
}

// startSim picks a port, writes the files and starts ipmi_sim, waiting until it answers.
func (s *Server) startSim(ctx context.Context, bin string) error {
	port, err := freeUDPPort()
	if err != nil {
		return fmt.Errorf("ipmisim %s: %w", s.cfg.Name, err)
	}
	if err := writeFiles(s.cfg, port); err != nil {
		return err
	}
	logf, err := os.OpenFile(filepath.Join(s.cfg.Dir, logFile), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("ipmisim %s: %w", s.cfg.Name, err)
	}
	defer logf.Close()
	// -n: no console on standard input and output. Start-up errors go to standard error.
	cmd := exec.Command(bin, "-c", filepath.Join(s.cfg.Dir, lanConfFile), "-f", filepath.Join(s.cfg.Dir, emuFile),
		"-s", filepath.Join(s.cfg.Dir, stateDir), "-n")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = s.cfg.Dir
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("ipmisim %s: start ipmi_sim: %w", s.cfg.Name, err)
	}
	exited := make(chan struct{})
	s.cmd, s.exited, s.port = cmd, exited, port
	go func() {
		s.waitErr = cmd.Wait() // read only after exited is closed
		close(exited)
	}()
	wctx, cancel := context.WithTimeout(ctx, startWait)
	defer cancel()
	if err := waitPong(wctx, s.addr(), exited); err != nil {
		s.kill()
		return fmt.Errorf("ipmisim %s: ipmi_sim (pid %d) on %s: %w%s", s.cfg.Name, cmd.Process.Pid, s.addr(), err, s.logTail())
	}
	return nil
}

// logTail is the end of ipmi_sim's log, for an error message.
func (s *Server) logTail() string {
	b, _ := os.ReadFile(filepath.Join(s.cfg.Dir, logFile))
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return ""
	}
	if len(b) > 400 {
		b = b[len(b)-400:]
	}
	return ": " + strings.ReplaceAll(string(b), "\n", "; ")
}

// kill ends ipmi_sim (SIGTERM, then SIGKILL after stopWait) and waits until it is reaped.
func (s *Server) kill() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a "down" (stopped) ipmi_sim must run to exit
	select {
	case <-s.exited:
	case <-time.After(stopWait):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *Server) addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Addr is the IPMI LAN address, "127.0.0.1:PORT"; empty before Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return ""
	}
	return s.addr()
}

// Port is the IPMI LAN UDP port; zero before Start.
func (s *Server) Port() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return 0
	}
	return s.port
}

// PID is ipmi_sim's process id; zero before Start.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return 0
	}
	return s.cmd.Process.Pid
}

// Close ends ipmi_sim (by its pid) and the power socket, and removes the files the Server wrote.
// It is safe to call more than once and before Start.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	started := s.started
	s.mu.Unlock()
	if !started {
		return nil
	}
	s.kill()
	s.stopPower()
	s.cfg.Logger.Info("ipmi bmc closed", "bmc", s.cfg.Name)
	return removeFiles(s.cfg.Dir)
}

// freeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago.
func freeUDPPort() (int, error) {
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free UDP port: %w", err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port, nil
}

// errExited means ipmi_sim exited before it answered.
var errExited = errors.New("exited before answering")

// SetDown makes the BMC "die" (true) or come back (false): ipmi_sim is stopped (SIGSTOP), so
// requests reach its port and are never answered, as with a BMC that drops packets; SIGCONT
// lets it answer again (requests sent meanwhile may then be answered late, and clients ignore
// them).
func (s *Server) SetDown(down bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started || s.closed {
		return fmt.Errorf("ipmisim %s: not running", s.cfg.Name)
	}
	if s.down == down {
		return nil
	}
	sig := syscall.SIGCONT
	if down {
		sig = syscall.SIGSTOP
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("ipmisim %s: %s ipmi_sim (pid %d): %w", s.cfg.Name, sig, s.cmd.Process.Pid, err)
	}
	s.down = down
	s.cfg.Logger.Info("ipmi bmc availability changed", "bmc", s.cfg.Name, "down", down)
	return nil
}

// Down reports whether the BMC is down (see SetDown).
func (s *Server) Down() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.down
}
