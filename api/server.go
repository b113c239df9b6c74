package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ServerOptions configure NewServer.
type ServerOptions struct {
	// Token is the bearer token every /v1 request must carry; "" disables auth.
	Token string
	// Gatherer serves /metrics; nil means no /metrics route.
	Gatherer prometheus.Gatherer
	// Logger receives request and error logs; nil discards them.
	Logger *slog.Logger
	// Alerts, when set, adds the Alertmanager webhook receiver (POST /v1/alerts/alertmanager),
	// which authenticates with Alerts.Token instead of Token. The Backend must implement
	// AlertReceiver, and Alerts.Token must be set, or NewServer fails.
	Alerts *AlertOptions
}

// server is the http.Handler that NewServer returns.
type server struct {
	b    Backend
	auth *tokenAuth
	// alertAuth checks the Alertmanager receiver's token; nil when there is no receiver.
	alertAuth *tokenAuth
	mux       *http.ServeMux
	log       *slog.Logger
	// streams counts the open event streams (at most MaxEventStreams).
	streams atomic.Int64
}

// NewServer returns the API's handler over b. The event stream (follow=true) clears the
// connection's write deadline, so an http.Server's WriteTimeout does not cut it off.
func NewServer(b Backend, opts ServerOptions) (http.Handler, error) {
	if b == nil {
		return nil, errors.New("api: NewServer: nil Backend")
	}
	s := &server{b: b, mux: http.NewServeMux(), log: opts.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.Token != "" {
		if err := checkToken(opts.Token); err != nil {
			return nil, fmt.Errorf("api: NewServer: %w", err)
		}
		s.auth = newTokenAuth(opts.Token)
	}
	s.mux.HandleFunc("GET /v1/status", s.handleStatus)
	s.mux.HandleFunc("GET /v1/hosts", s.handleHosts)
	s.mux.HandleFunc("GET /v1/hosts/{name}/explain", s.handleExplainHost)
	s.mux.HandleFunc("GET /v1/vms", s.handleVMs)
	s.mux.HandleFunc("GET /v1/events", s.handleEvents)
	s.mux.HandleFunc("GET /healthz", s.handleHealthz)
	s.mux.HandleFunc("GET /readyz", s.handleReadyz)
	if op, ok := b.(Operator); ok {
		s.registerOperator(op)
	}
	if rc, ok := b.(Recoverer); ok {
		s.registerRecoverer(rc)
	}
	if pl, ok := b.(Planner); ok {
		s.registerPlanner(pl)
	}
	if fc, ok := b.(Forecaster); ok {
		s.registerForecaster(fc)
	}
	if opts.Alerts != nil {
		if err := s.registerAlerts(b, *opts.Alerts); err != nil {
			return nil, fmt.Errorf("api: NewServer: %w", err)
		}
	}
	if opts.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelError),
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
	return s, nil
}

// ServeHTTP recovers from panics, checks the token on /v1 routes (the alert receiver's own
// token on its route), and answers unknown routes and wrong methods with JSON errors.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.Error("api: handler panicked", "method", r.Method, "path", r.URL.Path, "panic", v)
			if !sw.wrote {
				writeError(sw, http.StatusInternalServerError, CodeInternal, "internal error while serving "+r.URL.Path)
			}
		}
		s.log.Debug("api: request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "duration", time.Since(start))
	}()
	if s.alertAuth != nil && r.URL.Path == AlertmanagerPath {
		if !s.checkAlertToken(sw, r) {
			return
		}
	} else if s.auth != nil && (r.URL.Path == "/v1" || strings.HasPrefix(r.URL.Path, "/v1/")) {
		if msg, ok := s.auth.check(r); !ok {
			sw.Header().Set("WWW-Authenticate", `Bearer realm="lifeboat"`)
			writeError(sw, http.StatusUnauthorized, CodeUnauthorized, msg)
			return
		}
	}
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(sw, r)
		return
	}
	if s.redirectToLeader(sw, r) {
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// noRoute answers a request no pattern matches: 405 when only the method is wrong, else 404.
func (s *server) noRoute(w http.ResponseWriter, r *http.Request) {
	h, _ := s.mux.Handler(r)
	probe := &headerProbe{header: http.Header{}}
	h.ServeHTTP(probe, r)
	if allow := probe.header.Get("Allow"); probe.status == http.StatusMethodNotAllowed && allow != "" {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, CodeBadRequest,
			fmt.Sprintf("method %s is not allowed on %s: use %s", r.Method, r.URL.Path, allow))
		return
	}
	writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no such API route: %s %s", r.Method, r.URL.Path))
}

// writeJSON writes v as a 200 JSON response.
func (s *server) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.log.Error("api: encode response", "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, CodeInternal, fmt.Sprintf("encode response: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(b, '\n'))
}

// backendError answers with the status matching a Backend error; what names the call.
func (s *server) backendError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if r.Context().Err() != nil {
		return // the client went away: nobody reads the answer
	}
	status := statusForError(err)
	if status == http.StatusInternalServerError {
		s.log.Error("api: backend failed", "call", what, "path", r.URL.Path, "err", err)
	}
	writeError(w, status, codeForStatus(status), fmt.Sprintf("%s: %s", what, withoutSentinel(err)))
}

// withoutSentinel is an error's message without the API sentinel it ends with (": conflict",
// ": not found", ...): the status code says that already.
func withoutSentinel(err error) string {
	msg := err.Error()
	for _, s := range []error{ErrNotFound, ErrBadRequest, ErrUnauthorized, ErrConflict} {
		if errors.Is(err, s) {
			msg = strings.TrimSuffix(msg, ": "+s.Error())
		}
	}
	return msg
}

// writeError writes a JSON error response.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(errorBody{Error: msg, Code: code})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// statusWriter records the status a handler wrote, for the request log and panic recovery.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

// WriteHeader records the status.
func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records an implicit 200.
func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (Flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// headerProbe captures the status and headers the mux's own 404/405 handler writes.
type headerProbe struct {
	header http.Header
	status int
}

// Header returns the captured headers.
func (p *headerProbe) Header() http.Header { return p.header }

// Write discards the body.
func (p *headerProbe) Write(b []byte) (int, error) { return len(b), nil }

// WriteHeader captures the status.
func (p *headerProbe) WriteHeader(code int) { p.status = code }
