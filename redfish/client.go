package redfish

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"
)

// ErrBadAnswer means the BMC answered, but not with what Redfish promises.
var ErrBadAnswer = errors.New("unexpected BMC answer")

// ErrUnauthorized means the BMC refused the credentials (HTTP 401 or 403).
var ErrUnauthorized = errors.New("the BMC refused the credentials")

// authErr marks a refusal of the credentials with ErrUnauthorized.
func authErr(err error) error {
	var re *schemas.Error
	if errors.As(err, &re) && (re.HTTPReturnedStatusCode == 401 || re.HTTPReturnedStatusCode == 403) {
		return fmt.Errorf("%w (HTTP %d)", ErrUnauthorized, re.HTTPReturnedStatusCode)
	}
	return err
}

// Client reaches one host's BMC.
type Client struct {
	endpoint string
	systemID string
	creds    Credentials
	http     *http.Client
}

// New makes a client. systemID picks the system (empty: the first in /redfish/v1/Systems).
// timeout bounds every request; a BMC that does not answer in time has failed.
func New(endpoint, systemID string, creds Credentials, insecure bool, timeout time.Duration) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("redfish: endpoint %q: want an http(s) URL", endpoint)
	}
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: insecure}, //nolint:gosec // operator's choice for self-signed BMCs
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 2}
	return &Client{endpoint: strings.TrimRight(endpoint, "/"), systemID: systemID, creds: creds,
		http: &http.Client{Transport: tr, Timeout: timeout}}, nil
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

// system connects and finds the configured system.
func (c *Client) system(ctx context.Context) (*gofish.APIClient, *schemas.ComputerSystem, error) {
	api, err := gofish.ConnectContext(ctx, gofish.ClientConfig{Endpoint: c.endpoint, Username: c.creds.Username,
		Password: c.creds.Password, BasicAuth: true, HTTPClient: c.http, NoModifyTransport: true})
	var syntax *json.SyntaxError
	if errors.As(err, &syntax) {
		return nil, nil, fmt.Errorf("redfish: %s: %w: the answer is not Redfish JSON (%w)", c.endpoint, ErrBadAnswer, err)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("redfish: %s: %w", c.endpoint, authErr(err))
	}
	systems, err := api.GetService().Systems()
	if err != nil {
		// The collection's error hides the HTTP status: ask once more, plainly, to tell a refusal
		// of the credentials from other failures.
		if resp, gerr := api.Get(api.GetService().ODataID + "/Systems"); gerr != nil {
			err = authErr(gerr)
		} else {
			resp.Body.Close()
		}
		api.Logout()
		return nil, nil, fmt.Errorf("redfish: %s: list systems: %w", c.endpoint, err)
	}
	for _, s := range systems {
		if c.systemID == "" || s.ID == c.systemID {
			return api, s, nil
		}
	}
	api.Logout()
	return nil, nil, fmt.Errorf("redfish: %s: %w: no system %q among %d", c.endpoint, ErrBadAnswer, c.systemID, len(systems))
}

// Status reads the system's power state and health.
func (c *Client) Status(ctx context.Context) (Status, error) {
	api, sys, err := c.system(ctx)
	if err != nil {
		return Status{}, err
	}
	defer api.Logout()
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
	api, sys, err := c.system(ctx)
	if err != nil {
		return err
	}
	defer api.Logout()
	if _, err := sys.Reset(schemas.ForceOffResetType); err != nil {
		return fmt.Errorf("redfish: %s: ForceOff: %w", c.endpoint, err)
	}
	return nil
}
