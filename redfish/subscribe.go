package redfish

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/stmcginnis/gofish"
)

// ErrNoSubscriptions means the BMC takes no push subscriptions: no EventService, one that is
// disabled, or one without a Subscriptions collection. Poll it instead.
var ErrNoSubscriptions = errors.New("the BMC takes no Redfish event subscriptions (EventService.Subscriptions)")

// ErrSubscriptionGone means the BMC no longer has a subscription (it rebooted, or dropped it):
// subscribe again.
var ErrSubscriptionGone = errors.New("the BMC no longer has the event subscription")

// pushEventTypes are the event types a subscription asks for, among those the BMC lists in
// EventTypesForSubscription: a power change is a ResourceUpdated (or an Alert on older BMCs), a
// health change a StatusChange.
var pushEventTypes = []string{"StatusChange", "ResourceUpdated", "Alert"}

// Subscription is a push subscription (an EventDestination) the BMC holds for us.
type Subscription struct {
	// URI is the subscription's path on the BMC (its @odata.id), for Unsubscribe and
	// SubscriptionExists.
	URI string
	// Destination is where the BMC POSTs events.
	Destination string
}

// withAPI runs f with the logged-in API client, logging in anew once if the BMC refused the
// session (it expired, or the BMC restarted). Caller holds c.mu.
func (c *Client) withAPI(ctx context.Context, f func(api *gofish.APIClient) error) error {
	for attempt := 0; ; attempt++ {
		api, err := c.login(ctx)
		if err != nil {
			return err
		}
		err = f(api.WithContext(ctx))
		if code := httpStatus(err); attempt == 0 && (code == http.StatusUnauthorized || code == http.StatusForbidden) {
			c.api = nil
			continue
		}
		return err
	}
}

// eventService is the part of a Redfish EventService a subscriber reads.
type eventService struct {
	ServiceEnabled            *bool
	EventTypesForSubscription []string
	Subscriptions             struct {
		ID string `json:"@odata.id"`
	}
}

// findSubscriptions reads the service root and the EventService for the subscription
// collection and the event types to ask for. Caller holds c.mu (inside withAPI).
func (c *Client) findSubscriptions(ctx context.Context) (string, []string, error) {
	var root struct {
		EventService struct {
			ID string `json:"@odata.id"`
		}
	}
	if err := c.getJSON(ctx, "/redfish/v1/", &root); err != nil {
		return "", nil, err
	}
	if root.EventService.ID == "" {
		return "", nil, fmt.Errorf("redfish: %s: %w: the service root links no EventService", c.endpoint, ErrNoSubscriptions)
	}
	var es eventService
	if err := c.getJSON(ctx, root.EventService.ID, &es); err != nil {
		if code := httpStatus(err); code == http.StatusNotFound || code == http.StatusNotImplemented {
			return "", nil, fmt.Errorf("redfish: %s: %w: %w", c.endpoint, ErrNoSubscriptions, err)
		}
		return "", nil, err
	}
	switch {
	case es.ServiceEnabled != nil && !*es.ServiceEnabled:
		return "", nil, fmt.Errorf("redfish: %s: %w: the EventService is disabled", c.endpoint, ErrNoSubscriptions)
	case es.Subscriptions.ID == "":
		return "", nil, fmt.Errorf("redfish: %s: %w: the EventService links no Subscriptions", c.endpoint, ErrNoSubscriptions)
	}
	var types []string
	for _, t := range pushEventTypes {
		if slices.Contains(es.EventTypesForSubscription, t) {
			types = append(types, t)
		}
	}
	return es.Subscriptions.ID, types, nil
}

// Subscribe asks the BMC to POST its events to destination with context in every event (the
// receiver checks it: it is the subscription's secret). Subscriptions to the same destination
// left behind by an earlier run (a crash skips Unsubscribe) are deleted first, so that restarts
// do not fill the BMC's few subscription slots. It returns an error wrapping
// ErrNoSubscriptions when the BMC takes no subscriptions.
func (c *Client) Subscribe(ctx context.Context, destination, context string) (Subscription, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var sub Subscription
	err := c.withAPI(ctx, func(api *gofish.APIClient) error {
		coll, types, err := c.findSubscriptions(ctx)
		if err != nil {
			return err
		}
		if err := c.deleteStale(ctx, api, coll, destination); err != nil {
			return err
		}
		body := map[string]any{"Destination": destination, "Protocol": "Redfish", "Context": context}
		if len(types) > 0 {
			body["EventTypes"] = types
		}
		resp, err := api.Post(coll, body)
		if err != nil {
			if code := httpStatus(err); code == http.StatusNotFound || code == http.StatusMethodNotAllowed || code == http.StatusNotImplemented {
				return fmt.Errorf("redfish: %s: %w: POST %s: %w", c.endpoint, ErrNoSubscriptions, coll, wrapStatus(err))
			}
			return fmt.Errorf("redfish: %s: subscribe: POST %s: %w", c.endpoint, coll, wrapStatus(err))
		}
		defer resp.Body.Close()
		var created struct {
			ID string `json:"@odata.id"`
		}
		uri := resp.Header.Get("Location")
		if uri == "" {
			if err := decodeBody(resp, &created); err != nil {
				return fmt.Errorf("redfish: %s: subscribe: %w", c.endpoint, err)
			}
			uri = created.ID
		}
		if uri = pathOf(uri); uri == "" {
			return fmt.Errorf("redfish: %s: subscribe: %w: the created subscription has no Location or @odata.id", c.endpoint, ErrBadAnswer)
		}
		sub = Subscription{URI: uri, Destination: destination}
		return nil
	})
	return sub, err
}

// deleteStale deletes the members of the subscription collection whose Destination is
// destination. Caller holds c.mu.
func (c *Client) deleteStale(ctx context.Context, api *gofish.APIClient, coll, destination string) error {
	var list struct {
		Members []struct {
			ID string `json:"@odata.id"`
		}
	}
	if err := c.getJSON(ctx, coll, &list); err != nil {
		return err
	}
	for _, m := range list.Members {
		var ed struct{ Destination string }
		if err := c.getJSON(ctx, m.ID, &ed); err != nil {
			if httpStatus(err) == http.StatusNotFound {
				continue // deleted meanwhile
			}
			return err
		}
		if ed.Destination != destination {
			continue
		}
		resp, err := api.Delete(m.ID)
		if err != nil && httpStatus(err) != http.StatusNotFound {
			return fmt.Errorf("redfish: %s: delete the stale subscription %s: %w", c.endpoint, m.ID, wrapStatus(err))
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	return nil
}

// Unsubscribe deletes the subscription. One the BMC no longer has is not an error.
func (c *Client) Unsubscribe(ctx context.Context, sub Subscription) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.withAPI(ctx, func(api *gofish.APIClient) error {
		resp, err := api.Delete(sub.URI)
		if err != nil {
			if httpStatus(err) == http.StatusNotFound {
				return nil
			}
			return fmt.Errorf("redfish: %s: unsubscribe: DELETE %s: %w", c.endpoint, sub.URI, wrapStatus(err))
		}
		resp.Body.Close()
		return nil
	})
}

// SubscriptionExists checks that the BMC still holds the subscription (GET of its URI) with
// the same destination: nil if so, an error wrapping ErrSubscriptionGone if the BMC forgot it
// (404, or another destination in its place), another error if the BMC could not be asked.
func (c *Client) SubscriptionExists(ctx context.Context, sub Subscription) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.withAPI(ctx, func(*gofish.APIClient) error {
		var ed struct{ Destination string }
		if err := c.getJSON(ctx, sub.URI, &ed); err != nil {
			if httpStatus(err) == http.StatusNotFound {
				return fmt.Errorf("redfish: %s: %w: GET %s: 404", c.endpoint, ErrSubscriptionGone, sub.URI)
			}
			return err
		}
		if ed.Destination != sub.Destination {
			return fmt.Errorf("redfish: %s: %w: %s now sends to %q", c.endpoint, ErrSubscriptionGone, sub.URI, ed.Destination)
		}
		return nil
	})
}

// pathOf is the path of a Location or @odata.id (which may be an absolute URL).
func pathOf(loc string) string {
	if loc == "" {
		return ""
	}
	u, err := url.Parse(loc)
	if err != nil || u.Path == "" {
		return ""
	}
	return "/" + strings.TrimLeft(u.Path, "/")
}
