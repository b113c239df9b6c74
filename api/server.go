package api

import (
	"context"
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
	// Token is api.token_file's bearer token, an admin credential named "token"; "" for none.
	Token string
	// Users are api.users_file's named tokens with their roles; nil for none.
	Users *Users
	// ClientCerts makes verified TLS client certificates (api.tls.client_ca_file) credentials:
	// the common name names the caller (see Identity).
	ClientCerts bool
	// MetricsAuth makes /metrics need a viewer credential (api.metrics_auth).
	MetricsAuth bool
	// Gatherer serves /metrics; nil means no /metrics route.
	Gatherer prometheus.Gatherer
	// Logger receives request and error logs; nil discards them.
	Logger *slog.Logger
	// Alerts, when set, adds the Alertmanager webhook receiver (POST /v1/alerts/alertmanager),
	// which authenticates with Alerts.Token instead of Token. The Backend must implement
	// AlertReceiver, and Alerts.Token must be set, or NewServer fails.
	Alerts *AlertOptions
	// BMCEvents, when set, adds the receiver of events pushed by BMCs (POST
	// /v1/bmc-events/{host}), which authenticates each event by its Context instead of the
	// API's credentials.
	BMCEvents BMCEventReceiver
}

// server is the http.Handler that NewServer returns.
type server struct {
	b     Backend
	authn authenticator
	// roles are the role each route pattern needs; a pattern not listed is public.
	roles map[string]Role
	// metricsAuth: /metrics needs a viewer credential.
	metricsAuth bool
	// audit records the calls that change something; nil when the Backend is no Auditor.
	audit Auditor
	// alertAuth checks the Alertmanager receiver's token; nil when there is no receiver.
	alertAuth *tokenAuth
	// bmcEvents takes pushed BMC events; nil when there is no receiver. refusedEvents limits the
	// log lines about refused ones.
	bmcEvents     BMCEventReceiver
	refusedEvents logLimiter
	mux           *http.ServeMux
	log           *slog.Logger
	// streams counts the open event streams (at most MaxEventStreams).
	streams atomic.Int64
}

// NewServer returns the API's handler over b. Without any credential in opts every caller is
// "anonymous" and may do everything (for a loopback listen only: the daemon refuses anything
// else). The event stream (follow=true) clears the connection's read and write deadlines, so
// an http.Server's timeouts do not cut it off.
func NewServer(b Backend, opts ServerOptions) (http.Handler, error) {
	if b == nil {
		return nil, errors.New("api: NewServer: nil Backend")
	}
	s := &server{b: b, mux: http.NewServeMux(), log: opts.Logger, roles: map[string]Role{}, metricsAuth: opts.MetricsAuth}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.Token != "" {
		if err := checkToken(opts.Token); err != nil {
			return nil, fmt.Errorf("api: NewServer: %w", err)
		}
		s.authn.token = newTokenAuth(opts.Token)
	}
	if opts.Users != nil && opts.Users.Len() > 0 {
		s.authn.users = opts.Users
	}
	s.authn.certs = opts.ClientCerts
	if opts.MetricsAuth && !s.authn.enabled() {
		return nil, errors.New("api: NewServer: metrics authentication needs a credential (a token, users or client certificates)")
	}
	if au, ok := b.(Auditor); ok {
		s.audit = au
	}
	s.handle(RoleViewer, "GET /v1/status", s.handleStatus)
	s.handle(RoleViewer, "GET /v1/hosts", s.handleHosts)
	s.handle(RoleViewer, "GET /v1/hosts/{name}/explain", s.handleExplainHost)
	s.handle(RoleViewer, "GET /v1/vms", s.handleVMs)
	s.handle(RoleViewer, "GET /v1/events", s.handleEvents)
	s.handle(RoleViewer, "GET /v1/whoami", s.handleWhoami)
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
	if opts.BMCEvents != nil {
		s.registerBMCEvents(opts.BMCEvents)
	}
	if d, ok := b.(Disarmer); ok {
		s.registerDisarmer(d)
	}
	if opts.Gatherer != nil {
		if opts.MetricsAuth {
			s.roles["GET /metrics"] = RoleViewer
		}
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(opts.Gatherer, promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(s.log.Handler(), slog.LevelError),
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
	return s, nil
}

// handle registers a route that needs role.
func (s *server) handle(role Role, pattern string, h http.HandlerFunc) {
	s.roles[pattern] = role
	s.mux.HandleFunc(pattern, h)
}

// protected reports whether a path needs credentials: every /v1 route but the Alertmanager
// receiver (which has its own token) and the pushed BMC event receiver (which checks each
// event's Context), and /metrics under api.metrics_auth. Unknown /v1 routes
// need them too, so that a caller without credentials learns nothing about the routes.
func (s *server) protected(path string) bool {
	if path == "/metrics" {
		return s.metricsAuth
	}
	return path == "/v1" || strings.HasPrefix(path, "/v1/")
}

// ServeHTTP recovers from panics, authenticates the caller (the alert receiver's own token on
// its route), checks the route's role, answers unknown routes and wrong methods with JSON
// errors, and audits every call that may change something.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	sw := &statusWriter{ResponseWriter: w}
	var id Identity
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
		s.log.Debug("api: request", "method", r.Method, "path", r.URL.Path, "status", sw.status, "who", id.Name, "duration", time.Since(start))
	}()
	if s.alertAuth != nil && r.URL.Path == AlertmanagerPath {
		if !s.checkAlertToken(sw, r) {
			return
		}
		s.serveRoute(sw, r)
		return
	}
	if s.isBMCEventPath(r.URL.Path) {
		s.serveRoute(sw, r) // authenticated by the event's Context (handleBMCEvent)
		return
	}
	if mutating(r) && s.audit != nil {
		sw.keepError = true
		defer func() { s.auditCall(r, id, sw) }()
	}
	id = Identity{Name: anonymous, Role: RoleAdmin, Method: AuthNone, Remote: remoteHost(r)}
	if s.protected(r.URL.Path) {
		var msg string
		var ok bool
		if id, msg, ok = s.authn.authenticate(r); !ok {
			id.Name = "" // proved nothing
			sw.Header().Set("WWW-Authenticate", `Bearer realm="lifeboat"`)
			writeError(sw, http.StatusUnauthorized, CodeUnauthorized, msg)
			return
		}
	}
	r = r.WithContext(WithIdentity(r.Context(), id))
	_, pattern := s.mux.Handler(r)
	need, declared := s.roles[pattern]
	if !declared && pattern != "" && s.protected(r.URL.Path) {
		need = RoleAdmin // a protected route registered without a role: fail closed
	}
	if id.Role < need {
		writeError(sw, http.StatusForbidden, CodeForbidden, fmt.Sprintf("%s may not %s %s: that needs the %s role", id.Name, r.Method, r.URL.Path, need))
		return
	}
	s.serveRoute(sw, r)
}

// serveRoute serves r through the mux, or answers that no route matches.
func (s *server) serveRoute(w http.ResponseWriter, r *http.Request) {
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.noRoute(w, r)
		return
	}
	if s.redirectToLeader(w, r) {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// auditCall hands the Auditor the record of a call that may have changed something.
func (s *server) auditCall(r *http.Request, id Identity, sw *statusWriter) {
	status := sw.status
	if !sw.wrote {
		status = http.StatusOK
	}
	rec := AuditRecord{Identity: id, Role: id.Role.String(), Method: r.Method, Path: r.URL.Path, Status: status}
	if status >= 400 {
		rec.Error = errorMessage(sw.errBody)
	}
	if id.Name == "" {
		rec.Role = RoleNone.String()
	}
	s.audit.Audit(context.WithoutCancel(r.Context()), rec)
}

// handleWhoami serves GET /v1/whoami: the caller's identity and role.
func (s *server) handleWhoami(w http.ResponseWriter, r *http.Request) {
	id, _ := IdentityFrom(r.Context())
	s.writeJSON(w, r, WhoamiView{Name: id.Name, Role: id.Role.String(), Method: string(id.Method), Remote: id.Remote})
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

// statusWriter records the status a handler wrote, for the request log, the audit and panic
// recovery; with keepError it also keeps the start of an error answer's body.
type statusWriter struct {
	http.ResponseWriter
	status    int
	wrote     bool
	keepError bool
	errBody   []byte
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
	if w.keepError && w.status >= 400 && len(w.errBody) < 4096 {
		w.errBody = append(w.errBody, b[:min(len(b), 4096-len(w.errBody))]...)
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
