package api

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// readyTimeout bounds one Backend.Ready call from /readyz.
const readyTimeout = 5 * time.Second

// handleStatus serves GET /v1/status.
func (s *server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.b.Status(r.Context())
	if err != nil {
		s.backendError(w, r, "status", err)
		return
	}
	if st.HostStates == nil {
		st.HostStates = map[string]int{}
	}
	s.writeJSON(w, r, st)
}

// handleHosts serves GET /v1/hosts: every host, or with ?limit=&after= a page of hosts in name
// order after the named one (a Link header names the next page).
func (s *server) handleHosts(w http.ResponseWriter, r *http.Request) {
	q, err := parsePageQuery(r.URL.RawQuery, "host name")
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	hosts, err := s.b.Hosts(r.Context())
	if err != nil {
		s.backendError(w, r, "hosts", err)
		return
	}
	if hosts == nil {
		hosts = []HostView{}
	}
	if q.Paged {
		var next string
		hosts, next = page(hosts, func(h HostView) string { return h.Name }, q)
		setNextLink(w, r, q, next)
	}
	for i := range hosts {
		if hosts[i].VMs == nil {
			hosts[i].VMs = []string{}
		}
	}
	s.writeJSON(w, r, hosts)
}

// handleVMs serves GET /v1/vms: every VM (by name), or with ?limit=&after= a page of VMs in
// UUID order after the given UUID (a Link header names the next page). Pages go by UUID, which
// never changes, so a VM renamed while a client pages is neither skipped nor listed twice.
func (s *server) handleVMs(w http.ResponseWriter, r *http.Request) {
	q, err := parsePageQuery(r.URL.RawQuery, "VM UUID")
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
		return
	}
	vms, err := s.b.VMs(r.Context())
	if err != nil {
		s.backendError(w, r, "vms", err)
		return
	}
	if vms == nil {
		vms = []VMView{}
	}
	if q.Paged {
		var next string
		vms, next = page(vms, func(v VMView) string { return v.UUID }, q)
		setNextLink(w, r, q, next)
	}
	s.writeJSON(w, r, vms)
}

// handleExplainHost serves GET /v1/hosts/{name}/explain.
func (s *server) handleExplainHost(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	ex, err := s.b.ExplainHost(r.Context(), name)
	if err != nil {
		if statusForError(err) == http.StatusNotFound {
			writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("unknown host %q", name))
			return
		}
		s.backendError(w, r, fmt.Sprintf("explain host %q", name), err)
		return
	}
	if ex.Signals == nil {
		ex.Signals = []SignalView{}
	}
	s.writeJSON(w, r, ex)
}

// handleHealthz serves GET /healthz: the process is up and serving.
func (s *server) handleHealthz(w http.ResponseWriter, _ *http.Request) {
	writeText(w, http.StatusOK, "ok")
}

// handleReadyz serves GET /readyz: 200 once the daemon has its state and watches the hosts.
func (s *server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
	defer cancel()
	if err := s.b.Ready(ctx); err != nil {
		writeText(w, http.StatusServiceUnavailable, "not ready: "+err.Error())
		return
	}
	writeText(w, http.StatusOK, "ok")
}

// writeText writes a one-line plain-text response (for probes).
func writeText(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = fmt.Fprintln(w, msg)
}
