package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
)

// Auditor is implemented by a backend that records every API call that changes something (or
// tries to): who, with which role, from where, what, and the result. NewServer calls Audit after
// each such call, refused ones included (401, 403, 400), but not for the Alertmanager receiver,
// whose alerts the backend journals itself.
type Auditor interface {
	Audit(ctx context.Context, rec AuditRecord)
}

// AuditRecord is one audited API call.
type AuditRecord struct {
	// Identity is the caller as its credential proves; Name is "" when it proved nothing (401).
	Identity Identity `json:"identity"`
	// Role is Identity.Role by name.
	Role string `json:"role"`
	// Method and Path are the request's, e.g. POST /v1/hosts/h1/drain.
	Method string `json:"method"`
	Path   string `json:"path"`
	// Status is the HTTP status of the answer; Error its message when it is an error.
	Status int    `json:"status"`
	Error  string `json:"error,omitempty"`
}

// Who is the caller for a sentence: "alice (operator, token, from 10.0.0.5)", or
// "an unauthenticated caller from 10.0.0.5".
func (r AuditRecord) Who() string {
	if r.Identity.Name == "" {
		return "an unauthenticated caller from " + r.Identity.Remote
	}
	return r.Identity.String()
}

// Result is "ok" or "refused 403: the message".
func (r AuditRecord) Result() string {
	if r.Status < 400 {
		return "ok"
	}
	if r.Error == "" {
		return fmt.Sprintf("failed %d", r.Status)
	}
	return fmt.Sprintf("failed %d: %s", r.Status, r.Error)
}

// mutating reports whether a request may change something (anything but GET, HEAD, OPTIONS).
func mutating(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// errorMessage returns the "error" of a JSON error body, or "".
func errorMessage(body []byte) string {
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil {
		return ""
	}
	return eb.Error
}
