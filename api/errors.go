package api

import (
	"errors"
	"net/http"
)

// Sentinel errors. A Backend wraps them to choose the HTTP status; the client's *Error matches
// them with errors.Is.
var (
	// ErrNotFound: the thing asked for does not exist (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrBadRequest: the request is malformed (HTTP 400, or 405 for a wrong method).
	ErrBadRequest = errors.New("bad request")
	// ErrUnauthorized: the credentials are missing or wrong (HTTP 401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the caller's role may not make the call (HTTP 403).
	ErrForbidden = errors.New("forbidden")
	// ErrInternal: the daemon failed to answer (HTTP 5xx).
	ErrInternal = errors.New("internal error")
	// ErrConflict: the request cannot be done in the current state (HTTP 409): the VM is not
	// running, already migrating, or no host can take it.
	ErrConflict = errors.New("conflict")
	// ErrUnreachable: the client could not connect to the daemon at all.
	ErrUnreachable = errors.New("cannot reach the lifeboat daemon")
)

// Error codes in the "code" field of an error response.
const (
	// CodeNotFound: HTTP 404, an unknown host or route.
	CodeNotFound = "not_found"
	// CodeBadRequest: HTTP 400 (a bad parameter) or 405 (a wrong method).
	CodeBadRequest = "bad_request"
	// CodeUnauthorized: HTTP 401, missing or wrong credentials.
	CodeUnauthorized = "unauthorized"
	// CodeForbidden: HTTP 403, the caller's role may not make the call.
	CodeForbidden = "forbidden"
	// CodeInternal: HTTP 500, the daemon failed.
	CodeInternal = "internal"
	// CodeConflict: HTTP 409, the request conflicts with the current state.
	CodeConflict = "conflict"
)

// Error is an error response from the server, as the client returns it.
type Error struct {
	// Status is the HTTP status code.
	Status int
	// Code is the machine-readable code, one of the Code constants.
	Code string
	// Message names what is wrong.
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Status >= 500 {
		return "lifeboat daemon: " + msg
	}
	return msg
}

// Is matches the sentinel error for the response's code (or, without a code, its status).
func (e *Error) Is(target error) bool {
	code := e.Code
	if code == "" {
		code = codeForStatus(e.Status)
	}
	switch target {
	case ErrNotFound:
		return code == CodeNotFound
	case ErrBadRequest:
		return code == CodeBadRequest
	case ErrUnauthorized:
		return code == CodeUnauthorized
	case ErrForbidden:
		return code == CodeForbidden
	case ErrInternal:
		return code == CodeInternal
	case ErrConflict:
		return code == CodeConflict
	}
	return false
}

// errorBody is the JSON of an error response.
type errorBody struct {
	Error string `json:"error"`
	Code  string `json:"code"`
}

// codeForStatus is the code of an error response with an HTTP status.
func codeForStatus(status int) string {
	switch {
	case status == http.StatusNotFound:
		return CodeNotFound
	case status == http.StatusUnauthorized:
		return CodeUnauthorized
	case status == http.StatusForbidden:
		return CodeForbidden
	case status == http.StatusConflict:
		return CodeConflict
	case status >= 400 && status < 500:
		return CodeBadRequest
	default:
		return CodeInternal
	}
}

// statusForError maps a Backend error to an HTTP status by the sentinel it wraps.
func statusForError(err error) int {
	switch {
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, ErrBadRequest):
		return http.StatusBadRequest
	case errors.Is(err, ErrUnauthorized):
		return http.StatusUnauthorized
	case errors.Is(err, ErrForbidden):
		return http.StatusForbidden
	case errors.Is(err, ErrConflict):
		return http.StatusConflict
	default:
		return http.StatusInternalServerError
	}
}
