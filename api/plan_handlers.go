package api

import (
	"net"
	"net/http"
	"strings"
)

// Limits on a PlanDecision's fields.
const (
	// maxDeciderLen bounds PlanDecision.By, in characters.
	maxDeciderLen = 200
	// maxDecisionReasonLen bounds PlanDecision.Reason, in characters.
	maxDecisionReasonLen = 1000
)

// registerPlanner adds the approval routes when the Backend has the approval mode.
func (s *server) registerPlanner(pl Planner) {
	s.mux.HandleFunc("GET /v1/plans", func(w http.ResponseWriter, r *http.Request) {
		ps, err := pl.Plans(r.Context())
		if err != nil {
			s.backendError(w, r, "plans", err)
			return
		}
		if ps == nil {
			ps = []PlanView{}
		}
		for i := range ps {
			ps[i] = planWithMoves(ps[i])
		}
		s.writeJSON(w, r, ps)
	})
	s.mux.HandleFunc("GET /v1/plans/{id}", func(w http.ResponseWriter, r *http.Request) {
		p, err := pl.Plan(r.Context(), r.PathValue("id"))
		if err != nil {
			s.backendError(w, r, "plan "+r.PathValue("id"), err)
			return
		}
		s.writeJSON(w, r, planWithMoves(p))
	})
	s.mux.HandleFunc("POST /v1/plans/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
		d, ok := decodeDecision(w, r, false)
		if !ok {
			return
		}
		p, err := pl.Approve(r.Context(), r.PathValue("id"), d)
		if err != nil {
			s.backendError(w, r, "approve "+r.PathValue("id"), err)
			return
		}
		s.writeJSON(w, r, planWithMoves(p))
	})
	s.mux.HandleFunc("POST /v1/plans/{id}/reject", func(w http.ResponseWriter, r *http.Request) {
		d, ok := decodeDecision(w, r, true)
		if !ok {
			return
		}
		p, err := pl.Reject(r.Context(), r.PathValue("id"), d)
		if err != nil {
			s.backendError(w, r, "reject "+r.PathValue("id"), err)
			return
		}
		s.writeJSON(w, r, planWithMoves(p))
	})
}

// decodeDecision reads and checks a PlanDecision body (By and Reason trimmed), answering 400
// naming the field when it is wrong; needReason makes the reason required (a rejection). It
// appends the caller's address to By for the record: "alice@ws1 (from 127.0.0.1)".
func decodeDecision(w http.ResponseWriter, r *http.Request, needReason bool) (PlanDecision, bool) {
	var d PlanDecision
	if !decodeBody(w, r, &d) {
		return d, false
	}
	d.By, d.Reason = strings.TrimSpace(d.By), strings.TrimSpace(d.Reason)
	if err := checkDecision(d, needReason); err != "" {
		writeError(w, http.StatusBadRequest, CodeBadRequest, err)
		return d, false
	}
	d.By += " (from " + remoteHost(r) + ")"
	return d, true
}

// checkDecision returns what is wrong with a decision, naming the field, or "".
func checkDecision(d PlanDecision, needReason bool) string {
	switch {
	case d.By == "":
		return "by is required: name who decides, e.g. alice@ws1"
	case needReason && d.Reason == "":
		return "reject needs --reason"
	}
	if err := CheckText("by", d.By, maxDeciderLen); err != nil {
		return err.Error()
	}
	if err := CheckText("reason", d.Reason, maxDecisionReasonLen); err != nil {
		return err.Error()
	}
	return ""
}

// remoteHost is the caller's address without the port.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}

// planWithMoves returns p with an empty, non-nil Moves, so that JSON shows [] and not null.
func planWithMoves(p PlanView) PlanView {
	if p.Moves == nil {
		p.Moves = []PlanMove{}
	}
	return p
}
