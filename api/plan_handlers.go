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
	s.handle(RoleViewer, "GET /v1/plans", func(w http.ResponseWriter, r *http.Request) {
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
	s.handle(RoleViewer, "GET /v1/plans/{id}", func(w http.ResponseWriter, r *http.Request) {
		p, err := pl.Plan(r.Context(), r.PathValue("id"))
		if err != nil {
			s.backendError(w, r, "plan "+r.PathValue("id"), err)
			return
		}
		s.writeJSON(w, r, planWithMoves(p))
	})
	s.handle(RoleOperator, "POST /v1/plans/{id}/approve", func(w http.ResponseWriter, r *http.Request) {
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
	s.handle(RoleOperator, "POST /v1/plans/{id}/reject", func(w http.ResponseWriter, r *http.Request) {
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

// decodeDecision reads and checks a PlanDecision body (Reason trimmed), answering 400 naming
// the field when it is wrong; needReason makes the reason required (a rejection). The decider
// recorded is the caller's identity, with its address: "alice (from 10.0.0.5)". The body's by
// counts only without API authentication, marked as unverified: "alice@ws1 (unauthenticated,
// from 127.0.0.1)".
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
	d.By = decider(r, d.By)
	return d, true
}

// decider names who decides, from the request's identity; claimed is the body's by.
func decider(r *http.Request, claimed string) string {
	id, ok := IdentityFrom(r.Context())
	if !ok {
		id = Identity{Name: anonymous, Method: AuthNone, Remote: remoteHost(r)}
	}
	if id.Method == AuthNone {
		if claimed == "" {
			claimed = anonymous
		}
		return claimed + " (unauthenticated, from " + id.Remote + ")"
	}
	return id.Name + " (from " + id.Remote + ")"
}

// checkDecision returns what is wrong with a decision, naming the field, or "".
func checkDecision(d PlanDecision, needReason bool) string {
	if needReason && d.Reason == "" {
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
