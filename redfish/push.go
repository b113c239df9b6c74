package redfish

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// MaxPushedEvent bounds the body of one pushed event that ParsePushedEvent reads.
const MaxPushedEvent = 64 << 10

// PushedEvent is a Redfish Event a BMC POSTed to a subscription's destination.
type PushedEvent struct {
	// Context is the subscription's Context, echoed by the BMC: the receiver compares it with
	// the secret it subscribed with.
	Context string
	// Events are the event's records.
	Events []Event
}

// ParsePushedEvent decodes the body of a pushed event: one JSON object, a Redfish Event, with
// a Context and an Events array. Errors say what is wrong with the body.
func ParsePushedEvent(body []byte) (PushedEvent, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var raw struct {
		rfEvent
		Context *string
	}
	if err := dec.Decode(&raw); err != nil {
		return PushedEvent{}, fmt.Errorf("not a Redfish Event (JSON object): %w", err)
	}
	if dec.More() {
		return PushedEvent{}, fmt.Errorf("not a Redfish Event: unexpected data after the JSON object")
	}
	if raw.Context == nil {
		return PushedEvent{}, fmt.Errorf("the Redfish Event has no Context (the subscription's secret)")
	}
	if raw.rfEvent.Events == nil {
		return PushedEvent{}, fmt.Errorf("the Redfish Event has no Events array")
	}
	return PushedEvent{Context: *raw.Context, Events: records(raw.ID, raw.rfEvent)}, nil
}

// decodeBody decodes a JSON answer of at most 1 MiB.
func decodeBody(resp *http.Response, v any) error {
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadAnswer, err)
	}
	return nil
}
