package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// registerOperator adds the operation routes when the Backend carries out operations.
func (s *server) registerOperator(op Operator) {
	s.handle(RoleOperator, "POST /v1/vms/{name}/switchover", func(w http.ResponseWriter, r *http.Request) {
		var req SwitchoverRequest
		if !decodeBody(w, r, &req) {
			return
		}
		req.VM = r.PathValue("name")
		if !checkTexts(w, textField{"to", req.To, MaxNameLen}) {
			return
		}
		res, err := op.Switchover(r.Context(), req)
		if err != nil {
			s.backendError(w, r, "switchover "+req.VM, err)
			return
		}
		s.writeJSON(w, r, res)
	})
	s.handle(RoleViewer, "GET /v1/vms/{name}/explain", func(w http.ResponseWriter, r *http.Request) {
		ex, err := op.ExplainVM(r.Context(), r.PathValue("name"))
		if err != nil {
			s.backendError(w, r, "explain vm "+r.PathValue("name"), err)
			return
		}
		s.writeJSON(w, r, ex)
	})
	s.handle(RoleOperator, "POST /v1/hosts/{name}/drain", func(w http.ResponseWriter, r *http.Request) {
		dry, ok := boolParam(w, r, "dry_run")
		if !ok {
			return
		}
		res, err := op.Drain(r.Context(), r.PathValue("name"), dry)
		if err != nil {
			s.backendError(w, r, "drain "+r.PathValue("name"), err)
			return
		}
		if res.Plan == nil {
			res.Plan = []PlannedMove{}
		}
		s.writeJSON(w, r, res)
	})
	s.handle(RoleOperator, "POST /v1/hosts/{name}/undrain", func(w http.ResponseWriter, r *http.Request) {
		if err := op.Undrain(r.Context(), r.PathValue("name")); err != nil {
			s.backendError(w, r, "undrain "+r.PathValue("name"), err)
			return
		}
		s.writeJSON(w, r, struct{}{})
	})
	s.handle(RoleOperator, "POST /v1/hosts/{name}/degrade", func(w http.ResponseWriter, r *http.Request) {
		var req DegradeRequest
		if !decodeBody(w, r, &req) {
			return
		}
		req.Reason = strings.TrimSpace(req.Reason)
		if !checkTexts(w, textField{"reason", req.Reason, MaxReasonLen}) {
			return
		}
		if err := op.Degrade(r.Context(), r.PathValue("name"), req.Reason); err != nil {
			s.backendError(w, r, "degrade "+r.PathValue("name"), err)
			return
		}
		s.writeJSON(w, r, struct{}{})
	})
	s.handle(RoleOperator, "POST /v1/hosts/{name}/repair", func(w http.ResponseWriter, r *http.Request) {
		if err := op.Repair(r.Context(), r.PathValue("name")); err != nil {
			s.backendError(w, r, "repair "+r.PathValue("name"), err)
			return
		}
		s.writeJSON(w, r, struct{}{})
	})
	s.handle(RoleViewer, "GET /v1/migrations", func(w http.ResponseWriter, r *http.Request) {
		ms, err := op.Migrations(r.Context())
		if err != nil {
			s.backendError(w, r, "migrations", err)
			return
		}
		s.writeJSON(w, r, ms)
	})
	s.handle(RoleViewer, "GET /v1/migrations/{id}", func(w http.ResponseWriter, r *http.Request) {
		m, err := op.Migration(r.Context(), r.PathValue("id"))
		if err != nil {
			s.backendError(w, r, "migration "+r.PathValue("id"), err)
			return
		}
		s.writeJSON(w, r, m)
	})
	s.handle(RoleOperator, "POST /v1/migrations/{id}/cancel", func(w http.ResponseWriter, r *http.Request) {
		if err := op.CancelMigration(r.Context(), r.PathValue("id")); err != nil {
			s.backendError(w, r, "cancel "+r.PathValue("id"), err)
			return
		}
		s.writeJSON(w, r, struct{}{})
	})
}

// decodeBody reads an optional JSON body (at most 64 KiB, one JSON value, no unknown fields)
// into v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 64<<10))
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "request body: "+err.Error())
		return false
	}
	if len(b) == 0 {
		return true
	}
	if err := decodeOne(b, v); err != nil {
		var trailing *trailingError
		if errors.As(err, &trailing) {
			writeError(w, http.StatusBadRequest, CodeBadRequest, "request body "+err.Error())
			return false
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, "request body is not the expected JSON: "+err.Error())
		return false
	}
	return true
}

// trailingError is decodeOne's error for data after the JSON value.
type trailingError struct{ at int64 }

// Error implements error.
func (e *trailingError) Error() string {
	return fmt.Sprintf("has more after its JSON value (trailing data from byte %d): send one JSON object", e.at)
}

// decodeOne decodes exactly one JSON value from b into v, refusing unknown fields and anything
// but white space after the value.
func decodeOne(b []byte, v any) error {
	dec := json.NewDecoder(bytesReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if off := dec.InputOffset(); dec.More() || !onlySpace(b[off:]) {
		return &trailingError{at: off}
	}
	return nil
}

// onlySpace reports whether b holds nothing but JSON white space.
func onlySpace(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\n' && c != '\r' {
			return false
		}
	}
	return true
}

// textField is one free-text field of a request body, with its length limit.
type textField struct {
	name  string
	value string
	max   int
}

// checkTexts answers 400 naming the first field that is too long or holds a control character.
func checkTexts(w http.ResponseWriter, fields ...textField) bool {
	for _, f := range fields {
		if err := CheckText(f.name, f.value, f.max); err != nil {
			writeError(w, http.StatusBadRequest, CodeBadRequest, err.Error())
			return false
		}
	}
	return true
}

// boolParam reads an optional boolean query parameter.
func boolParam(w http.ResponseWriter, r *http.Request, name string) (bool, bool) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("parameter %s=%q: want true or false", name, v))
		return false, false
	}
	return b, true
}

// registerRecoverer adds the recovery routes.
func (s *server) registerRecoverer(rc Recoverer) {
	s.handle(RoleViewer, "GET /v1/recoveries", func(w http.ResponseWriter, r *http.Request) {
		rs, err := rc.Recoveries(r.Context())
		if err != nil {
			s.backendError(w, r, "recoveries", err)
			return
		}
		s.writeJSON(w, r, rs)
	})
	s.handle(RoleAdmin, "POST /v1/hosts/{name}/confirm-off", func(w http.ResponseWriter, r *http.Request) {
		var req ConfirmOffRequest
		if !decodeBody(w, r, &req) {
			return
		}
		if !checkTexts(w, textField{"confirm", req.Confirm, MaxNameLen}) {
			return
		}
		if err := rc.ConfirmOff(r.Context(), r.PathValue("name"), req.Confirm); err != nil {
			s.backendError(w, r, "confirm-off "+r.PathValue("name"), err)
			return
		}
		s.writeJSON(w, r, struct{}{})
	})
}
