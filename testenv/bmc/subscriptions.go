package bmc

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Push subscription limits and the Base registry messages of a refused subscription.
const (
	// MaxSubscriptions bounds the push subscriptions of one server, as BMCs bound theirs.
	MaxSubscriptions = 16
	// pushQueue is how many undelivered events a subscription keeps; older ones are dropped.
	pushQueue = 64
	// pushTimeout bounds one delivery POST.
	pushTimeout = 5 * time.Second
	maxSubBody  = 8 << 10

	msgPropertyMissing     = "Base.1.0.PropertyMissing"
	msgPropertyUnknown     = "Base.1.0.PropertyUnknown"
	msgPropertyType        = "Base.1.0.PropertyValueTypeError"
	msgPropertyNotInList   = "Base.1.0.PropertyValueNotInList"
	msgPropertyFormat      = "Base.1.0.PropertyValueFormatError"
	msgCreateLimitReached  = "Base.1.0.CreateLimitReachedForResource"
	protocolRedfish        = "Redfish"
	subscriptionTypeRF     = "RedfishEvent"
	eventFormatTypeEvent   = "Event"
	destinationStateActive = "Enabled"
)

// subscription is one push subscription (an EventDestination). Its queue and sending flag
// are guarded by the hub's lock; a delivery goroutine runs only while sending is true.
type subscription struct {
	id            string
	destination   string
	context       string
	eventTypes    []string
	prefixes      []string
	resourceTypes []string

	queue   []event
	sending bool
	deleted bool
}

// matches reports whether rec passes the subscription's filters (an empty filter passes all).
func (sub *subscription) matches(rec eventRecord) bool {
	if len(sub.eventTypes) > 0 && !slices.Contains(sub.eventTypes, rec.EventType) {
		return false
	}
	if len(sub.prefixes) > 0 && !slices.ContainsFunc(sub.prefixes, func(p string) bool {
		return strings.HasPrefix(rec.MessageID, p+".")
	}) {
		return false
	}
	return len(sub.resourceTypes) == 0 || slices.Contains(sub.resourceTypes, resourceTypeSystem)
}

// resource renders the subscription as an EventDestination.
func (sub *subscription) resource() map[string]any {
	m := map[string]any{
		"@odata.type":      "#EventDestination.v1_13_0.EventDestination",
		"@odata.id":        pathSubscriptions + "/" + sub.id,
		"Id":               sub.id,
		"Name":             "Event Subscription " + sub.id,
		"Destination":      sub.destination,
		"Protocol":         protocolRedfish,
		"SubscriptionType": subscriptionTypeRF,
		"EventFormatType":  eventFormatTypeEvent,
		"Context":          sub.context,
		"EventTypes":       nonNil(sub.eventTypes),
		"RegistryPrefixes": nonNil(sub.prefixes),
		"ResourceTypes":    nonNil(sub.resourceTypes),
		"Status":           map[string]any{"State": destinationStateActive, "Health": HealthOK},
	}
	return m
}

// nonNil renders a nil list as [].
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// subscriptionID returns the id of a subscription member path, "" if path is not one.
func subscriptionID(path string) string {
	id, ok := strings.CutPrefix(path, pathSubscriptions+"/")
	if !ok || id == "" || strings.Contains(id, "/") {
		return ""
	}
	return id
}

// subscriptionMember is the route of the subscription member id.
func (s *Server) subscriptionMember(id string) route {
	return route{methods: map[string]http.HandlerFunc{
		http.MethodGet:    func(w http.ResponseWriter, r *http.Request) { s.getSubscription(w, r, id) },
		http.MethodDelete: func(w http.ResponseWriter, r *http.Request) { s.deleteSubscription(w, r, id) },
	}}
}

// getSubscriptions answers GET on the subscription collection.
func (s *Server) getSubscriptions(w http.ResponseWriter, _ *http.Request) {
	h := &s.events
	h.mu.Lock()
	ids := make([]string, 0, len(h.subs))
	for id := range h.subs {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	slices.SortFunc(ids, func(a, b string) int { x, _ := strconv.Atoi(a); y, _ := strconv.Atoi(b); return x - y })
	members := make([]odataID, 0, len(ids))
	for _, id := range ids {
		members = append(members, odataID{pathSubscriptions + "/" + id})
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.type":         "#EventDestinationCollection.EventDestinationCollection",
		"@odata.id":           pathSubscriptions,
		"Name":                "Event Subscriptions Collection",
		"Members":             members,
		"Members@odata.count": len(members),
	})
}

// getSubscription answers GET on a subscription member.
func (s *Server) getSubscription(w http.ResponseWriter, r *http.Request, id string) {
	h := &s.events
	h.mu.Lock()
	sub, ok := h.subs[id]
	var res map[string]any
	if ok {
		res = sub.resource()
	}
	h.mu.Unlock()
	if !ok {
		writeNotFound(w, r)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// deleteSubscription answers DELETE on a subscription member: no further event is sent to it.
func (s *Server) deleteSubscription(w http.ResponseWriter, r *http.Request, id string) {
	h := &s.events
	h.mu.Lock()
	sub, ok := h.subs[id]
	if ok {
		delete(h.subs, id)
		sub.deleted, sub.queue = true, nil
	}
	h.mu.Unlock()
	if !ok {
		writeNotFound(w, r)
		return
	}
	s.cfg.Logger.Debug("bmc subscription deleted", "system", s.cfg.SystemID, "subscription", id)
	w.WriteHeader(http.StatusNoContent)
}

// DropSubscriptions forgets every push subscription at once, as a BMC that reboots or resets
// its event service does; subscribers are expected to notice (GET of the subscription: 404)
// and subscribe again.
func (s *Server) DropSubscriptions() {
	h := &s.events
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, sub := range h.subs {
		delete(h.subs, id)
		sub.deleted, sub.queue = true, nil
	}
}

// postSubscription answers POST on the subscription collection: it validates the
// EventDestination in the body, and answers 201 with the new subscription and its URI in
// Location.
func (s *Server) postSubscription(w http.ResponseWriter, r *http.Request) {
	sub, apiErr := decodeSubscription(w, r)
	if apiErr != nil {
		writeError(w, *apiErr)
		return
	}
	h := &s.events
	h.mu.Lock()
	if len(h.subs) >= MaxSubscriptions {
		h.mu.Unlock()
		writeError(w, apiError{status: http.StatusBadRequest, messageID: msgCreateLimitReached,
			message:    fmt.Sprintf("The create operation failed because the resource has reached the limit of possible resources: %d subscriptions.", MaxSubscriptions),
			resolution: "Delete a subscription before creating another."})
		return
	}
	if h.subs == nil {
		h.subs = map[string]*subscription{}
	}
	h.subSeq++
	sub.id = strconv.FormatUint(h.subSeq, 10)
	h.subs[sub.id] = sub
	res := sub.resource()
	h.mu.Unlock()
	s.cfg.Logger.Debug("bmc subscription created", "system", s.cfg.SystemID, "subscription", sub.id, "destination", sub.destination)
	w.Header().Set("Location", pathSubscriptions+"/"+sub.id)
	writeJSON(w, http.StatusCreated, res)
}

// propertyError is the Redfish error for a bad property of a subscription request.
func propertyError(messageID, message, resolution string) *apiError {
	return &apiError{status: http.StatusBadRequest, messageID: messageID, message: message, resolution: resolution}
}

// decodeSubscription reads and checks a subscription request; each error names the property
// at fault.
func decodeSubscription(w http.ResponseWriter, r *http.Request) (*subscription, *apiError) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxSubBody))
	if err != nil {
		return nil, &apiError{status: http.StatusRequestEntityTooLarge, messageID: msgPayloadTooLarge,
			message: fmt.Sprintf("The request body is larger than %d bytes or could not be read: %v.", maxSubBody, err)}
	}
	var props map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&props); err != nil || props == nil {
		detail := "the body must be a JSON object"
		if err != nil {
			detail = err.Error()
		}
		return nil, malformed(detail)
	}
	if dec.More() {
		return nil, malformed("unexpected data after the JSON object")
	}
	sub := &subscription{}
	var protocol string
	for _, name := range slices.Sorted(maps.Keys(props)) {
		raw := props[name]
		var apiErr *apiError
		switch name {
		case "Destination":
			apiErr = stringProp(name, raw, &sub.destination)
		case "Context":
			apiErr = stringProp(name, raw, &sub.context)
		case "Protocol":
			if apiErr = stringProp(name, raw, &protocol); apiErr == nil {
				apiErr = inList(name, protocol, []string{protocolRedfish})
			}
		case "SubscriptionType":
			var v string
			if apiErr = stringProp(name, raw, &v); apiErr == nil {
				apiErr = inList(name, v, []string{subscriptionTypeRF})
			}
		case "EventFormatType":
			var v string
			if apiErr = stringProp(name, raw, &v); apiErr == nil {
				apiErr = inList(name, v, []string{eventFormatTypeEvent})
			}
		case "EventTypes":
			apiErr = listProp(name, raw, eventTypes, &sub.eventTypes)
		case "RegistryPrefixes":
			apiErr = listProp(name, raw, []string{registryResourceEvent}, &sub.prefixes)
		case "ResourceTypes":
			apiErr = listProp(name, raw, []string{resourceTypeSystem}, &sub.resourceTypes)
		default:
			apiErr = propertyError(msgPropertyUnknown,
				fmt.Sprintf("The property %s is not in the list of valid properties for the resource.", name),
				"Remove the unknown property from the request body and resubmit the request if the operation failed.")
		}
		if apiErr != nil {
			return nil, apiErr
		}
	}
	for _, req := range []string{"Destination", "Protocol"} {
		if _, ok := props[req]; !ok {
			return nil, propertyError(msgPropertyMissing,
				fmt.Sprintf("The property %s is a required property and must be included in the request.", req),
				"Ensure that the property is in the request body and has a valid value and resubmit the request if the operation failed.")
		}
	}
	u, err := url.Parse(sub.destination)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, propertyError(msgPropertyFormat,
			fmt.Sprintf("The value %q for the property Destination is of a different format than the property can accept: an absolute http or https URI is required.", sub.destination),
			"Correct the value for the property in the request body and resubmit the request if the operation failed.")
	}
	return sub, nil
}

// typeError is the error for a property of the wrong JSON type.
func typeError(name, raw, want string) *apiError {
	return propertyError(msgPropertyType,
		fmt.Sprintf("The value %s for the property %s is of a different type than the property can accept: %s is required.", raw, name, want),
		"Correct the value for the property in the request body and resubmit the request if the operation failed.")
}

// inList is the error for a value not among allowed, or nil.
func inList(name, v string, allowed []string) *apiError {
	if slices.Contains(allowed, v) {
		return nil
	}
	return propertyError(msgPropertyNotInList,
		fmt.Sprintf("The value %q for the property %s is not in the list of acceptable values (%s).", v, name, strings.Join(allowed, ", ")),
		"Choose a value from the enumeration list that the implementation can support and resubmit the request if the operation failed.")
}

// stringProp decodes a string property into dst.
func stringProp(name string, raw json.RawMessage, dst *string) *apiError {
	if err := json.Unmarshal(raw, dst); err != nil || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		return typeError(name, string(raw), "a string")
	}
	return nil
}

// listProp decodes a list of strings, each among allowed, into dst.
func listProp(name string, raw json.RawMessage, allowed []string, dst *[]string) *apiError {
	var l []string
	if err := json.Unmarshal(raw, &l); err != nil || l == nil {
		return typeError(name, string(raw), "an array of strings")
	}
	for _, v := range l {
		if e := inList(name, v, allowed); e != nil {
			return e
		}
	}
	*dst = l
	return nil
}

// queuePush queues ev for sub and starts its delivery goroutine unless one runs. Caller holds
// the hub's lock.
func (s *Server) queuePush(sub *subscription, ev event) {
	h := &s.events
	if h.closing || h.ctx == nil {
		return
	}
	sub.queue = append(sub.queue, ev)
	if len(sub.queue) > pushQueue {
		sub.queue = sub.queue[len(sub.queue)-pushQueue:]
	}
	if sub.sending {
		return
	}
	sub.sending = true
	h.pushers.Add(1)
	go s.deliver(sub)
}

// deliver POSTs sub's queued events in order, one at a time, and ends when the queue is empty.
func (s *Server) deliver(sub *subscription) {
	h := &s.events
	defer h.pushers.Done()
	for {
		h.mu.Lock()
		if len(sub.queue) == 0 || sub.deleted || h.closing {
			sub.sending = false
			h.mu.Unlock()
			return
		}
		ev := sub.queue[0]
		sub.queue = sub.queue[1:]
		ctx, dest, ctxString := h.ctx, sub.destination, sub.context
		h.mu.Unlock()
		if err := s.post(ctx, dest, ev.payload(ctxString)); err != nil {
			s.stats.pushFailed.Add(1)
			s.cfg.Logger.Warn("bmc event delivery failed", "system", s.cfg.SystemID, "subscription", sub.id, "destination", dest, "err", err)
			continue
		}
		s.stats.pushOK.Add(1)
	}
}

// post sends one event to a destination; a status other than 2xx is a failure.
func (s *Server) post(ctx context.Context, dest string, body []byte) error {
	ctx, cancel := context.WithTimeout(ctx, pushTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.pushClient().Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("destination answered %s", resp.Status)
	}
	return nil
}

// pushClient is the HTTP client deliveries use, made on first use. Lab event receivers have
// self-signed certificates, so it does not verify them.
func (s *Server) pushClient() *http.Client {
	h := &s.events
	h.clientOnce.Do(func() {
		h.client = &http.Client{Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}, //nolint:gosec // lab receivers are self-signed
			MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute,
		}}
	})
	return h.client
}
