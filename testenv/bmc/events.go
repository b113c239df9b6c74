package bmc

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Event service paths and the registry the emulator's messages come from.
const (
	pathEventService  = "/redfish/v1/EventService"
	pathSSE           = pathEventService + "/SSE"
	pathSubscriptions = pathEventService + "/Subscriptions"
	// registryResourceEvent is the DMTF ResourceEvent message registry's prefix; every event
	// the emulator sends carries one of its messages.
	registryResourceEvent = "ResourceEvent"
	// msgResourceChanged is sent when the system's power state changes.
	msgResourceChanged = "ResourceEvent.1.0.ResourceChanged"
	// msgStatusChangedPrefix + the new health is sent when the system's health changes.
	msgStatusChangedPrefix = "ResourceEvent.1.0.ResourceStatusChanged"
	// resourceTypeSystem is the schema name of the only resource events originate from.
	resourceTypeSystem = "ComputerSystem"
)

// Event types (the EventService's EventTypesForSubscription): a power change is a
// ResourceUpdated, a health change a StatusChange.
const (
	eventStatusChange    = "StatusChange"
	eventResourceUpdated = "ResourceUpdated"
)

// eventTypes lists the event types a subscription may ask for.
var eventTypes = []string{eventStatusChange, eventResourceUpdated}

// eventRecord is one entry of an Event's Events array (Event schema, EventRecord).
type eventRecord struct {
	EventType         string   `json:"EventType"`
	EventID           string   `json:"EventId"`
	EventTimestamp    string   `json:"EventTimestamp"`
	MemberID          string   `json:"MemberId"`
	MessageID         string   `json:"MessageId"`
	Message           string   `json:"Message"`
	MessageArgs       []string `json:"MessageArgs"`
	MessageSeverity   Health   `json:"MessageSeverity"`
	Severity          Health   `json:"Severity"`
	OriginOfCondition odataID  `json:"OriginOfCondition"`
}

// eventPayload is the Event resource a BMC sends, over SSE or in a push.
type eventPayload struct {
	ODataType string        `json:"@odata.type"`
	ID        string        `json:"Id"`
	Name      string        `json:"Name"`
	Context   string        `json:"Context,omitempty"`
	Events    []eventRecord `json:"Events"`
	Count     int           `json:"Events@odata.count"`
}

// eventHub fans the server's events out to its SSE streams and push subscriptions. It holds
// no goroutine of its own: an SSE stream is its request's goroutine, and a push subscription
// has a delivery goroutine only while it has events queued.
type eventHub struct {
	// powerMu serialises PowerChanged, so two calls cannot report their reads out of order.
	powerMu sync.Mutex
	mu      sync.Mutex
	nextID  uint64
	power   PowerState // last power state reported in an event; "" before the first
	streams map[*sseStream]struct{}
	subs    map[string]*subscription
	subSeq  uint64
	sent    uint64 // events emitted

	// ctx bounds push deliveries (the server's life; nil before Start); closing stops new
	// ones, and pushers counts the running delivery goroutines.
	ctx        context.Context
	closing    bool
	pushers    sync.WaitGroup
	clientOnce sync.Once
	client     *http.Client
}

// event is one emitted event, before it is addressed to a subscriber.
type event struct {
	id  uint64
	rec eventRecord
}

// payload renders ev as an Event resource for a subscriber with context ctxString.
func (ev event) payload(ctxString string) []byte {
	b, _ := json.Marshal(eventPayload{ // plain strings and structs: cannot fail
		ODataType: "#Event.v1_7_0.Event",
		ID:        strconv.FormatUint(ev.id, 10),
		Name:      "Lifeboat BMC event",
		Context:   ctxString,
		Events:    []eventRecord{ev.rec},
		Count:     1,
	})
	return b
}

// emit numbers rec and sends it to every SSE stream and every matching push subscription.
func (s *Server) emit(rec eventRecord) {
	h := &s.events
	h.mu.Lock()
	h.nextID++
	h.sent++
	ev := event{id: h.nextID, rec: rec}
	ev.rec.EventID = strconv.FormatUint(ev.id, 10)
	ev.rec.MemberID = "0"
	ev.rec.EventTimestamp = s.cfg.Now().UTC().Format(time.RFC3339Nano)
	for st := range h.streams {
		st.send(ev)
	}
	for _, sub := range h.subs {
		if sub.matches(ev.rec) {
			s.queuePush(sub, ev)
		}
	}
	h.mu.Unlock()
	s.cfg.Logger.Debug("bmc event", "system", s.cfg.SystemID, "id", ev.id, "message_id", rec.MessageID)
}

// PowerChanged tells the emulator that its system's power may have changed without a reset
// request (the lab cut or restored the host's power): it reads Power.PowerState and, if the
// state differs from the last one it reported, sends a power event to its event subscribers.
// Reset requests call it themselves. It is cheap and safe to call at any time, also when
// nothing changed; it must not be called while the Power implementation holds a lock that its
// PowerState needs.
func (s *Server) PowerChanged() {
	if s.cfg.NoEventService {
		return
	}
	h := &s.events
	h.powerMu.Lock()
	defer h.powerMu.Unlock()
	state := s.cfg.Power.PowerState()
	h.mu.Lock()
	changed := h.power != state
	h.power = state
	h.mu.Unlock()
	if !changed {
		return
	}
	severity := HealthOK
	if state == PowerOff {
		severity = HealthWarning
	}
	s.emit(eventRecord{
		EventType:         eventResourceUpdated,
		MessageID:         msgResourceChanged,
		Message:           fmt.Sprintf("One or more resource properties have changed: the PowerState of system %s is now %s.", s.cfg.SystemID, state),
		MessageArgs:       []string{},
		MessageSeverity:   severity,
		Severity:          severity,
		OriginOfCondition: odataID{s.systemPath()},
	})
}

// healthEvent sends the event of a health change from prev to h.
func (s *Server) healthEvent(prev, h Health) {
	if s.cfg.NoEventService {
		return
	}
	s.emit(eventRecord{
		EventType:         eventStatusChange,
		MessageID:         msgStatusChangedPrefix + string(h),
		Message:           fmt.Sprintf("The health of resource '%s' has changed to %s from %s.", s.systemPath(), h, prev),
		MessageArgs:       []string{s.systemPath(), string(prev)},
		MessageSeverity:   h,
		Severity:          h,
		OriginOfCondition: odataID{s.systemPath()},
	})
}

// EventStats counts what the event service has done.
type EventStats struct {
	// Emitted counts events sent to subscribers (each once, however many subscribers).
	Emitted uint64
	// Streams is the number of open SSE streams.
	Streams int
	// Subscriptions is the number of push subscriptions.
	Subscriptions int
	// Delivered and DeliveryFailures count push POSTs that the destination accepted (2xx) and
	// that failed.
	Delivered, DeliveryFailures uint64
}

// EventStats returns the event service's counts so far.
func (s *Server) EventStats() EventStats {
	h := &s.events
	h.mu.Lock()
	defer h.mu.Unlock()
	return EventStats{Emitted: h.sent, Streams: len(h.streams), Subscriptions: len(h.subs),
		Delivered: s.stats.pushOK.Load(), DeliveryFailures: s.stats.pushFailed.Load()}
}

// getEventService answers GET /redfish/v1/EventService.
func (s *Server) getEventService(w http.ResponseWriter, _ *http.Request) {
	res := map[string]any{
		"@odata.type":                  "#EventService.v1_10_0.EventService",
		"@odata.id":                    pathEventService,
		"Id":                           "EventService",
		"Name":                         "Event Service",
		"ServiceEnabled":               true,
		"Status":                       map[string]any{"State": "Enabled", "Health": HealthOK},
		"DeliveryRetryAttempts":        0,
		"DeliveryRetryIntervalSeconds": 0,
		"EventFormatTypes":             []string{"Event"},
		"EventTypesForSubscription":    eventTypes,
		"RegistryPrefixes":             []string{registryResourceEvent},
		"ResourceTypes":                []string{resourceTypeSystem},
		"ServerSentEventUri":           pathSSE,
		"SSEFilterPropertiesSupported": map[string]bool{
			"EventFormatType": false, "EventType": false, "MessageId": false, "MetricReportDefinition": false,
			"OriginResource": false, "RegistryPrefix": false, "ResourceType": false, "SubordinateResources": false,
		},
		"Subscriptions": odataID{pathSubscriptions},
	}
	if s.cfg.NoSSE {
		delete(res, "ServerSentEventUri")
		delete(res, "SSEFilterPropertiesSupported")
	}
	if s.cfg.NoPush {
		delete(res, "Subscriptions")
	}
	writeJSON(w, http.StatusOK, res)
}
