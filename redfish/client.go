package redfish

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
)

// ErrBadAnswer means the BMC answered, but not with what Redfish promises.
var ErrBadAnswer = errors.New("unexpected BMC answer")

// ErrUnauthorized means the BMC refused the credentials (HTTP 401 or 403).
var ErrUnauthorized = errors.New("the BMC refused the credentials")

// httpStatus is the HTTP status of a Redfish error answer (0 if err is not one).
func httpStatus(err error) int {
	var re *schemas.Error
	if errors.As(err, &re) {
		return re.HTTPReturnedStatusCode
	}
	return 0
}

// authErr marks a refusal of the credentials with ErrUnauthorized.
func authErr(err error) error {
	if c := httpStatus(err); c == http.StatusUnauthorized || c == http.StatusForbidden {
		return fmt.Errorf("%w (HTTP %d)", ErrUnauthorized, c)
	}
	return err
}

// Client reaches one host's BMC. It keeps one HTTP connection alive and one Redfish session
// (SessionService login, X-Auth-Token on each request) for its whole life, logs in again when
// the BMC forgets the session (401), and remembers where the system is, so a steady-state read
// is one GET over an open TLS connection. A BMC without a SessionService is read with basic
// auth over the same kept-alive connection. Close logs out. Its methods are safe for
// concurrent use; requests to one BMC are made one at a time.
type Client struct {
	endpoint string
	systemID string
	creds    Credentials
	http     *http.Client
	// streamHTTP carries the event stream: the same transport (TLS trust, connection reuse)
	// without the per-request timeout, which would cut a long-lived stream.
	streamHTTP *http.Client

	mu      sync.Mutex
	api     *gofish.APIClient // logged in; nil until the first request and after a refusal
	sysPath string            // the system's @odata.id, once found
	sseURI  string            // the EventService's ServerSentEventUri, once found
	closed  bool
}

// New makes a client. systemID picks the system (empty: the first in /redfish/v1/Systems).
// timeout bounds every request; a BMC that does not answer in time has failed. trust says how
// the BMC's certificate is checked (by default against the system's CAs).
func New(endpoint, systemID string, creds Credentials, trust Trust, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("redfish: endpoint %q: want an http(s) URL", endpoint)
	}
	if u.Scheme == "http" && !trust.AllowHTTP {
		return nil, fmt.Errorf("redfish: endpoint %q is plain http, which anyone on the path can answer: use https, or allow http explicitly (allow_http)", endpoint)
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	tlsCfg, err := trust.tlsConfig()
	if err != nil {
		return nil, fmt.Errorf("redfish: %s: %w", endpoint, err)
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg,
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 1, IdleConnTimeout: 5 * time.Minute}
	return &Client{endpoint: strings.TrimRight(endpoint, "/"), systemID: systemID, creds: creds,
		http: &http.Client{Transport: tr, Timeout: timeout}, streamHTTP: &http.Client{Transport: tr}}, nil
}

// Status is what the BMC says about the system.
type Status struct {
	// Power is "on", "off", or the BMC's own word in lower case (e.g. "poweringon").
	Power string
	// Health is "ok", "warning" or "critical" ("" if the BMC does not say).
	Health string
	// Reason joins the messages of the BMC's active conditions.
	Reason string
}

// login returns the logged-in API client, logging in first if there is none. Caller holds c.mu.
func (c *Client) login(ctx context.Context) (*gofish.APIClient, error) {
	if c.closed {
		return nil, fmt.Errorf("redfish: %s: the client is closed", c.endpoint)
	}
	if c.api != nil {
		return c.api, nil
	}
	cfg := gofish.ClientConfig{Endpoint: c.endpoint, Username: c.creds.Username, Password: c.creds.Password,
		HTTPClient: c.http, NoModifyTransport: true, ReuseConnections: true}
	api, err := gofish.ConnectContext(ctx, cfg)
	if err != nil && noSessionService(err) {
		cfg.BasicAuth = true
		api, err = gofish.ConnectContext(ctx, cfg)
	}
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return nil, fmt.Errorf("redfish: %s: %w: the answer is not Redfish JSON (%w)", c.endpoint, ErrBadAnswer, err)
	}
	if err != nil {
		return nil, fmt.Errorf("redfish: %s: log in: %w", c.endpoint, authErr(err))
	}
	c.api = api
	return api, nil
}

// noSessionService reports whether a failed session login means the BMC has no session service
// (no Sessions link, or a login the BMC does not implement), not a refusal or a failure.
func noSessionService(err error) bool {
	// gofish keeps the service root's Sessions link to itself; without one, its login fails
	// before any request with this plain error, the only sign it gives.
	if strings.Contains(err.Error(), "no target provided") {
		return true
	}
	var re *schemas.Error
	if !errors.As(err, &re) {
		return false
	}
	switch re.HTTPReturnedStatusCode {
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return true
	}
	return false
}

// logout ends the session, if any, and forgets it. Caller holds c.mu.
func (c *Client) logout(ctx context.Context) {
	if c.api == nil {
		return
	}
	c.api.WithContext(ctx).Logout() // DELETE the session (nothing to delete with basic auth)
	c.api = nil
}

// system reads the configured system, finding it first if need be, with one new login if the
// BMC refuses the session (it expired, or the BMC restarted). Caller holds c.mu.
func (c *Client) system(ctx context.Context) (*schemas.ComputerSystem, error) {
	for attempt := 0; ; attempt++ {
		api, err := c.login(ctx)
		if err != nil {
			return nil, err
		}
		sys, err := c.readSystem(api.WithContext(ctx))
		if err == nil {
			return sys, nil
		}
		if code := httpStatus(err); attempt == 0 && (code == http.StatusUnauthorized || code == http.StatusForbidden) {
			c.api = nil // the session is gone: the BMC forgot it; log in anew
			continue
		}
		return nil, err
	}
}

// readSystem GETs the system at its known path, or lists the systems to find it.
func (c *Client) readSystem(api *gofish.APIClient) (*schemas.ComputerSystem, error) {
	if c.sysPath != "" {
		sys, err := schemas.GetComputerSystem(api, c.sysPath)
		if err != nil {
			return nil, fmt.Errorf("redfish: %s: read system: %w", c.endpoint, wrapStatus(err))
		}
		return sys, nil
	}
	systems, err := api.GetService().Systems()
	if err != nil {
		// The collection's error hides the HTTP status: ask once more, plainly, to tell a refusal
		// of the credentials from other failures.
		if resp, gerr := api.Get(api.GetService().ODataID + "/Systems"); gerr != nil {
			err = gerr
		} else {
			resp.Body.Close()
		}
		return nil, fmt.Errorf("redfish: %s: list systems: %w", c.endpoint, wrapStatus(err))
	}
	for _, s := range systems {
		if c.systemID == "" || s.ID == c.systemID {
			c.sysPath = s.ODataID
			return s, nil
		}
	}
	return nil, fmt.Errorf("redfish: %s: %w: no system %q among %d", c.endpoint, ErrBadAnswer, c.systemID, len(systems))
}

// statusErr is a Redfish error answer that also matches ErrUnauthorized when it is a refusal.
type statusErr struct{ err error }

func (e statusErr) Error() string { return authErr(e.err).Error() }
func (e statusErr) Unwrap() []error {
	if a := authErr(e.err); a != e.err {
		return []error{e.err, ErrUnauthorized}
	}
	return []error{e.err}
}

// wrapStatus keeps err's HTTP status readable (for the new login on 401) and marks a refusal
// with ErrUnauthorized.
func wrapStatus(err error) error { return statusErr{err} }

// Status reads the system's power state and health.
func (c *Client) Status(ctx context.Context) (Status, error) {
	c.mu.Lock()
	sys, err := c.system(ctx)
	c.mu.Unlock()
	if err != nil {
		return Status{}, err
	}
	if sys.PowerState == "" {
		return Status{}, fmt.Errorf("redfish: %s: %w: system %s has no PowerState", c.endpoint, ErrBadAnswer, sys.ID)
	}
	st := Status{Power: strings.ToLower(string(sys.PowerState)), Health: strings.ToLower(string(sys.Status.Health))}
	var msgs []string
	for _, cond := range sys.Status.Conditions {
		if cond.Message != "" {
			msgs = append(msgs, cond.Message)
		}
	}
	st.Reason = strings.Join(msgs, "; ")
	return st, nil
}

// ForceOff asks the BMC to cut the system's power (ComputerSystem.Reset ForceOff). It does not
// wait: verify with Status.
func (c *Client) ForceOff(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	sys, err := c.system(ctx)
	if err != nil {
		return err
	}
	if _, err := sys.Reset(schemas.ForceOffResetType); err != nil {
		return fmt.Errorf("redfish: %s: ForceOff: %w", c.endpoint, wrapStatus(err))
	}
	return nil
}

// Logout ends the session (DELETE), for a client used now and then (a fence method, a check)
// that should not hold one of the BMC's few sessions meanwhile; the next request logs in again.
func (c *Client) Logout(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logout(ctx)
}

// Close logs out of the BMC (DELETE of the session) and closes the kept-alive connection. The
// client cannot be used afterwards.
func (c *Client) Close(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.logout(ctx)
	c.closed = true
	c.http.CloseIdleConnections()
}
