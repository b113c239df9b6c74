package bmc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
)

// maxBodyBytes is the largest request body the emulator reads.
const maxBodyBytes = 64 << 10

// resetRequest is the body of a ComputerSystem.Reset action.
type resetRequest struct {
	ResetType *string `json:"ResetType"`
}

// postReset answers POST .../Actions/ComputerSystem.Reset: it decodes the
// reset type, drives Power, and answers 204 No Content on success.
func (s *Server) postReset(w http.ResponseWriter, r *http.Request) {
	resetType, apiErr := decodeReset(w, r)
	if apiErr != nil {
		writeError(w, *apiErr)
		return
	}
	if err := s.reset(r.Context(), resetType); err != nil {
		s.cfg.Logger.Warn("bmc reset failed", "system", s.cfg.SystemID, "reset_type", resetType, "err", err)
		e := apiError{
			status:     http.StatusInternalServerError,
			messageID:  msgInternalError,
			message:    fmt.Sprintf("The request failed due to an internal service error: reset %s: %v", resetType, err),
			resolution: "Resubmit the request. If the problem persists, check the host.",
		}
		if errors.Is(err, errBusy) {
			e.status = http.StatusServiceUnavailable
			e.messageID = msgServiceTemporarilyOff
		}
		writeError(w, e)
		return
	}
	w.Header().Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusNoContent)
}

// decodeReset reads and validates a reset request body. It returns the reset
// type, or the error to answer with.
func decodeReset(w http.ResponseWriter, r *http.Request) (string, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return "", &apiError{
				status:     http.StatusRequestEntityTooLarge,
				messageID:  msgPayloadTooLarge,
				message:    fmt.Sprintf("The request body is larger than %d bytes.", maxBodyBytes),
				resolution: "Send a smaller request body.",
			}
		}
		return "", &apiError{status: http.StatusBadRequest, messageID: msgGeneralError, message: "Read request body: " + err.Error()}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return "", malformed("the request body is empty")
	}
	var req resetRequest
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return "", decodeError(err)
	}
	if dec.More() {
		return "", malformed("unexpected data after the JSON object")
	}
	if req.ResetType == nil {
		return "", &apiError{
			status:     http.StatusBadRequest,
			messageID:  msgActionParameterMiss,
			message:    "The action ComputerSystem.Reset requires the parameter ResetType to be present in the request body.",
			resolution: `Supply the action with the ResetType parameter, e.g. {"ResetType": "ForceOff"}.`,
		}
	}
	if !slices.Contains(allowedResetTypes, *req.ResetType) {
		return "", &apiError{
			status:    http.StatusBadRequest,
			messageID: msgActionParameterValue,
			message: fmt.Sprintf("The value %q for the parameter ResetType in the action ComputerSystem.Reset is not in the list of acceptable values (%s).",
				*req.ResetType, strings.Join(allowedResetTypes, ", ")),
			resolution: "Choose a value from the enumeration list that the implementation can support and resubmit the request.",
		}
	}
	return *req.ResetType, nil
}

// decodeError turns a JSON decoding error into the matching Redfish error.
func decodeError(err error) *apiError {
	if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok {
		if te.Field == "" {
			return malformed("the request body must be a JSON object, not " + te.Value)
		}
		return &apiError{
			status:     http.StatusBadRequest,
			messageID:  msgActionParameterType,
			message:    fmt.Sprintf("The value for the parameter %s in the action ComputerSystem.Reset is of type %s; a string is required.", te.Field, te.Value),
			resolution: "Correct the value for the parameter in the request body and resubmit the request.",
		}
	}
	if field, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &apiError{
			status:     http.StatusBadRequest,
			messageID:  msgActionParameterUnk,
			message:    fmt.Sprintf("The action ComputerSystem.Reset was submitted with the invalid parameter %s.", field),
			resolution: "Correct the invalid parameter and resubmit the request.",
		}
	}
	return malformed(err.Error())
}

// malformed is the error for a body that is not a JSON object.
func malformed(detail string) *apiError {
	return &apiError{
		status:     http.StatusBadRequest,
		messageID:  msgMalformedJSON,
		message:    "The request body submitted was malformed JSON and could not be parsed by the receiving service: " + detail + ".",
		resolution: "Ensure that the request body is valid JSON and resubmit the request.",
	}
}

// errBusy means another reset was still running when the request gave up.
var errBusy = errors.New("another reset is in progress")

// reset performs resetType on the Power, one reset at a time. "On" when on
// and "ForceOff" when off succeed without calling Power, as on a real BMC;
// "ForceRestart" is ForceOff (if on) then On, so it also boots a host that
// is off.
func (s *Server) reset(ctx context.Context, resetType string) error {
	select {
	case s.powerSem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("%w: %w", errBusy, ctx.Err())
	}
	defer func() { <-s.powerSem }()
	defer s.PowerChanged() // tell the event subscribers, whatever the outcome

	s.cfg.Logger.Info("bmc reset", "system", s.cfg.SystemID, "reset_type", resetType, "power_state", s.cfg.Power.PowerState())
	switch resetType {
	case resetOn:
		return s.powerOn(ctx)
	case resetForceOff:
		return s.forceOff(ctx)
	case resetForceRestart:
		if err := s.forceOff(ctx); err != nil {
			return err
		}
		return s.powerOn(ctx)
	}
	return fmt.Errorf("unsupported reset type %q", resetType)
}

// powerOn turns the host on unless it already is.
func (s *Server) powerOn(ctx context.Context) error {
	if s.cfg.Power.PowerState() == PowerOn {
		return nil
	}
	if err := s.cfg.Power.On(ctx); err != nil {
		return fmt.Errorf("power on: %w", err)
	}
	return nil
}

// forceOff turns the host off unless it already is.
func (s *Server) forceOff(ctx context.Context) error {
	if s.cfg.Power.PowerState() == PowerOff {
		return nil
	}
	if err := s.cfg.Power.ForceOff(ctx); err != nil {
		return fmt.Errorf("force off: %w", err)
	}
	return nil
}
