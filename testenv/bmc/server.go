package bmc

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is a Redfish BMC emulator for one system. Create it with New, serve
// with Start, stop with Close. Its methods are safe for concurrent use.
type Server struct {
	cfg        Config
	routeTable map[string]route
	gate       *downGate
	// powerSem serialises reset actions (capacity 1).
	powerSem chan struct{}

	sessions *sessionTable
	stats    counters
	events   eventHub

	healthMu     sync.Mutex
	health       Health
	healthReason string
	healthSince  time.Time

	mu        sync.Mutex // guards the fields below
	started   bool
	closed    bool
	addr      string
	cert      *x509.Certificate
	srv       *http.Server
	ln        *gatedListener
	cancel    context.CancelFunc
	stopWatch func() bool
	serveDone chan struct{}
	serveErr  error
	conns     sync.WaitGroup

	closeOnce sync.Once
	closeErr  error
}

// New validates cfg and returns a Server that is not yet listening. Errors
// wrap ErrInvalidConfig and name the offending field.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg:         cfg,
		gate:        newDownGate(),
		powerSem:    make(chan struct{}, 1),
		health:      HealthOK,
		healthSince: time.Now(),
		sessions:    newSessionTable(cfg.Now, cfg.SessionTimeout, cfg.MaxSessions),
	}
	s.routeTable = s.routes()
	return s, nil
}

// Start generates a fresh self-signed certificate (unless Config.Certificate gives one), listens on Config.Addr and
// serves HTTPS in the background. It returns once the listener is open, so
// URL and Addr are valid afterwards.
//
// ctx bounds the server's life: when ctx is done the server closes as if
// Close had been called, and request contexts (hence Power calls) derive
// from it. A Server can be started only once.
func (s *Server) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return fmt.Errorf("bmc %s: start: %w", s.cfg.SystemID, net.ErrClosed)
	case s.started:
		return fmt.Errorf("bmc %s: start: already started", s.cfg.SystemID)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("bmc %s: start: %w", s.cfg.SystemID, err)
	}
	cert, err := s.certificate()
	if err != nil {
		return fmt.Errorf("bmc %s: %w", s.cfg.SystemID, err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("bmc %s: listen on %s: %w", s.cfg.SystemID, s.cfg.Addr, err)
	}
	baseCtx, cancel := context.WithCancel(ctx)
	s.events.mu.Lock()
	s.events.ctx = baseCtx
	s.events.mu.Unlock()
	tlsConf := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
	}
	tlsConf.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		s.stats.handshakes.Add(1)
		return nil, nil // the listener's own configuration
	}
	s.srv = &http.Server{
		Handler:           http.HandlerFunc(s.serveHTTP),
		ReadHeaderTimeout: 30 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ConnState:         s.trackConn,
		ErrorLog:          slog.NewLogLogger(s.cfg.Logger.Handler(), slog.LevelDebug),
	}
	s.started = true
	s.addr = ln.Addr().String()
	s.cert = cert.Leaf
	s.cancel = cancel
	s.serveDone = make(chan struct{})
	s.ln = newGatedListener(ln, s.gate)
	go s.serve(tls.NewListener(s.ln, tlsConf))
	s.stopWatch = context.AfterFunc(ctx, func() { _ = s.Close() })
	s.cfg.Logger.Info("bmc listening", "system", s.cfg.SystemID, "url", "https://"+s.addr)
	return nil
}

// certificate is the configured certificate, or a fresh self-signed one.
func (s *Server) certificate() (tls.Certificate, error) {
	if c := s.cfg.Certificate; c != nil {
		if c.Leaf != nil {
			return *c, nil
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			return tls.Certificate{}, fmt.Errorf("Certificate: %w", err)
		}
		cc := *c
		cc.Leaf = leaf
		return cc, nil
	}
	return selfSignedCert(s.cfg.SystemID, time.Now())
}

// serve runs the HTTP server until it is closed.
func (s *Server) serve(ln net.Listener) {
	defer close(s.serveDone)
	if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		s.serveErr = fmt.Errorf("bmc %s: serve: %w", s.cfg.SystemID, err)
	}
}

// trackConn counts the HTTP server's connection goroutines so Close can wait
// for them; net/http reports StateNew before it starts one and StateClosed
// (or StateHijacked) when it ends.
func (s *Server) trackConn(_ net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		s.conns.Add(1)
	case http.StateClosed, http.StateHijacked:
		s.conns.Done()
	}
}

// URL is the service's base URL, "https://127.0.0.1:PORT"; empty before
// Start.
func (s *Server) URL() string {
	a := s.Addr()
	if a == "" {
		return ""
	}
	return "https://" + a
}

// Addr is the address the server listens on, "127.0.0.1:PORT"; empty before
// Start.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Certificate is the server's self-signed certificate, for clients that want
// to verify it instead of skipping verification; nil before Start.
func (s *Server) Certificate() *x509.Certificate {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cert
}

// Close stops listening, closes every connection (hung ones included),
// cancels in-flight Power calls and waits for the server's goroutines. It is
// safe to call more than once and before Start; later calls return the
// first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.close() })
	return s.closeErr
}

// close does the work of Close, once.
func (s *Server) close() error {
	s.mu.Lock()
	s.closed = true
	started := s.started
	s.mu.Unlock()
	s.gate.close()
	if !started {
		return nil
	}
	s.stopWatch()
	s.cancel()
	s.events.mu.Lock()
	s.events.closing = true
	s.events.mu.Unlock()
	err := s.srv.Close()
	<-s.serveDone
	// A connection accepted while the server was closing can escape
	// http.Server.Close; end those too before waiting.
	s.ln.closeAll()
	s.conns.Wait()
	s.events.pushers.Wait()
	if s.events.client != nil {
		s.events.client.CloseIdleConnections()
	}
	s.cfg.Logger.Info("bmc closed", "system", s.cfg.SystemID)
	if err != nil {
		return fmt.Errorf("bmc %s: close: %w", s.cfg.SystemID, err)
	}
	return s.serveErr
}
