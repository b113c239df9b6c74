package api

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// Disarmer is implemented by a daemon that can stop all automatic action: POST /v1/disarm and
// POST /v1/arm, for admins.
type Disarmer interface {
	// Disarm stops every automatic fence, restart, evacuation and failback, cluster-wide, until
	// Arm; monitoring, the API and operator commands go on. It survives a daemon restart.
	// The identity in ctx is recorded.
	Disarm(ctx context.Context, reason string) (DisarmView, error)
	// Arm resumes automatic action.
	Arm(ctx context.Context) (DisarmView, error)
}

// DisarmRequest gives the reason for disarming; it is required.
type DisarmRequest struct {
	Reason string `json:"reason"`
}

// DisarmView says whether automatic action is disarmed, since when, by whom and why.
type DisarmView struct {
	Disarmed bool      `json:"disarmed"`
	Reason   string    `json:"reason,omitempty"`
	By       string    `json:"by,omitempty"`
	Since    time.Time `json:"since,omitzero"`
}

// WhoamiView is the caller as the daemon sees it (GET /v1/whoami).
type WhoamiView struct {
	Name   string `json:"name"`
	Role   string `json:"role"`
	Method string `json:"method"`
	Remote string `json:"remote"`
}

// registerDisarmer adds the disarm and arm routes.
func (s *server) registerDisarmer(d Disarmer) {
	s.handle(RoleAdmin, "POST /v1/disarm", func(w http.ResponseWriter, r *http.Request) {
		var req DisarmRequest
		if !decodeBody(w, r, &req) {
			return
		}
		req.Reason = strings.TrimSpace(req.Reason)
		if req.Reason == "" {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "reason is required: say why automatic action stops (--reason)")
			return
		}
		if !checkTexts(w, textField{"reason", req.Reason, MaxReasonLen}) {
			return
		}
		v, err := d.Disarm(r.Context(), req.Reason)
		if err != nil {
			s.backendError(w, r, "disarm", err)
			return
		}
		s.writeJSON(w, r, v)
	})
	s.handle(RoleAdmin, "POST /v1/arm", func(w http.ResponseWriter, r *http.Request) {
		var req struct{}
		if !decodeBody(w, r, &req) {
			return
		}
		v, err := d.Arm(r.Context())
		if err != nil {
			s.backendError(w, r, "arm", err)
			return
		}
		s.writeJSON(w, r, v)
	})
}

// Disarm stops all automatic action until Arm (admin).
func (c *Client) Disarm(ctx context.Context, reason string) (DisarmView, error) {
	var v DisarmView
	err := c.post(ctx, "/v1/disarm", nil, DisarmRequest{Reason: reason}, &v)
	return v, err
}

// Arm resumes automatic action (admin).
func (c *Client) Arm(ctx context.Context) (DisarmView, error) {
	var v DisarmView
	err := c.post(ctx, "/v1/arm", nil, nil, &v)
	return v, err
}

// Whoami returns the caller as the daemon sees it: name, role and how it authenticated.
func (c *Client) Whoami(ctx context.Context) (WhoamiView, error) {
	var v WhoamiView
	err := c.getJSON(ctx, "/v1/whoami", nil, &v)
	return v, err
}
