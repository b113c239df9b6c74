package bmc

import (
	"encoding/json"
	"net/http"
)

// Message IDs from the DMTF Base message registry that the emulator uses in
// error responses.
const (
	msgGeneralError          = "Base.1.0.GeneralError"
	msgMalformedJSON         = "Base.1.0.MalformedJSON"
	msgActionParameterMiss   = "Base.1.0.ActionParameterMissing"
	msgActionParameterValue  = "Base.1.0.ActionParameterValueNotInList"
	msgActionParameterType   = "Base.1.0.ActionParameterValueTypeError"
	msgActionParameterUnk    = "Base.1.0.ActionParameterUnknown"
	msgResourceMissingAtURI  = "Base.1.0.ResourceMissingAtURI"
	msgOperationNotAllowed   = "Base.1.0.OperationNotAllowed"
	msgNoValidSession        = "Base.1.0.NoValidSession"
	msgInternalError         = "Base.1.0.InternalError"
	msgServiceTemporarilyOff = "Base.1.0.ServiceTemporarilyUnavailable"
	msgPayloadTooLarge       = "Base.1.0.PayloadTooLarge"
)

// rfMessage is a Redfish Message, as carried in @Message.ExtendedInfo.
type rfMessage struct {
	ODataType  string `json:"@odata.type"`
	MessageID  string `json:"MessageId"`
	Message    string `json:"Message"`
	Severity   string `json:"Severity"`
	Resolution string `json:"Resolution,omitempty"`
}

// rfErrorBody is the body of every Redfish error response.
type rfErrorBody struct {
	Error rfError `json:"error"`
}

// rfError is the "error" object of a Redfish error response.
type rfError struct {
	Code         string      `json:"code"`
	Message      string      `json:"message"`
	ExtendedInfo []rfMessage `json:"@Message.ExtendedInfo"`
}

// apiError is a failed request: its HTTP status, the registry message ID that
// explains it, a human-readable message and what the client can do about it.
type apiError struct {
	status     int
	messageID  string
	message    string
	resolution string
}

// writeError writes e as a Redfish error response.
func writeError(w http.ResponseWriter, e apiError) {
	body := rfErrorBody{Error: rfError{
		Code:    msgGeneralError,
		Message: e.message,
		ExtendedInfo: []rfMessage{{
			ODataType:  "#Message.v1_1_1.Message",
			MessageID:  e.messageID,
			Message:    e.message,
			Severity:   string(HealthCritical),
			Resolution: e.resolution,
		}},
	}}
	writeJSON(w, e.status, body)
}

// writeJSON writes v as a JSON response with the headers a Redfish service
// sends.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value written here is built from plain structs and maps of
		// strings, so this cannot happen; answer as a BMC would anyway.
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"` + msgGeneralError + `","message":"encode response"}}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("OData-Version", "4.0")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
