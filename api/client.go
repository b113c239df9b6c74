package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultServer is where the daemon listens unless configured otherwise (api.listen).
const DefaultServer = "http://127.0.0.1:7400"

// maxResponse bounds the JSON answers the client reads.
const maxResponse = 64 << 20

// unreachableHint ends the error for a daemon the client cannot connect to.
const unreachableHint = "(is 'lifeboat daemon' running? set --server or LIFEBOAT_SERVER)"

// Client talks to a lifeboat daemon over its HTTP API. It is safe for concurrent use.
type Client struct {
	base  string // scheme://host[:port][/prefix], no trailing slash
	token string
	hc    *http.Client
}

// NewClient returns a client for the daemon at server, a URL such as http://127.0.0.1:7400,
// https://lifeboat.example:7400 or just HOST:PORT (http is assumed). A non-empty token is sent
// as a bearer token. Options add a CA to trust and a client certificate.
func NewClient(server string, token string, opts ...ClientOption) (*Client, error) {
	base, err := parseServer(server)
	if err != nil {
		return nil, err
	}
	token = strings.TrimSpace(token)
	if err := checkToken(token); err != nil {
		return nil, fmt.Errorf("api: token: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = 30 * time.Second
	var ct clientTLS
	for _, o := range opts {
		if err := o(&ct); err != nil {
			return nil, fmt.Errorf("api: %w", err)
		}
	}
	if err := ct.apply(tr); err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	return &Client{base: base, token: token, hc: &http.Client{Transport: tr, CheckRedirect: followLeader}}, nil
}

// followLeader follows a follower's redirect to the leader (307, see Follower) with the same
// credentials: net/http drops the Authorization header on a redirect to another host, and the
// leader needs it. It refuses a redirect from https to http, which would send the token in clear
// text, and more than 5 redirects.
func followLeader(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return fmt.Errorf("api: %d redirects in a row: stopped", len(via))
	}
	first := via[0]
	if first.URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("api: the daemon redirected to %s, which is not https: not followed", req.URL.Redacted())
	}
	if auth := first.Header.Get("Authorization"); auth != "" {
		req.Header.Set("Authorization", auth)
	}
	return nil
}

// parseServer checks a server address and returns its normalized base URL.
func parseServer(server string) (string, error) {
	s := strings.TrimSpace(server)
	if s == "" {
		return "", fmt.Errorf("server address is empty: want a URL such as %s", DefaultServer)
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("server %q is not a URL such as %s: %w", server, DefaultServer, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return "", fmt.Errorf("server %q: scheme %q: want http or https", server, u.Scheme)
	case u.Hostname() == "":
		return "", fmt.Errorf("server %q has no host: want a URL such as %s", server, DefaultServer)
	case u.User != nil:
		return "", fmt.Errorf("server %q holds credentials: give a token instead", server)
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return "", fmt.Errorf("server %q: want no query or fragment", server)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("server %q: port %q: want 1 to 65535", server, p)
		}
	}
	return u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/"), nil
}

// Server returns the daemon's base URL.
func (c *Client) Server() string { return c.base }

// Status returns the daemon and cluster at a glance.
func (c *Client) Status(ctx context.Context) (StatusView, error) {
	var st StatusView
	err := c.getJSON(ctx, "/v1/status", nil, &st)
	return st, err
}

// Hosts returns every host with its verdict.
func (c *Client) Hosts(ctx context.Context) ([]HostView, error) {
	var hosts []HostView
	err := c.getJSON(ctx, "/v1/hosts", nil, &hosts)
	return hosts, err
}

// HostsPage returns at most limit hosts whose names sort after after ("": from the first), in
// name order; a page shorter than limit is the last.
func (c *Client) HostsPage(ctx context.Context, after string, limit int) ([]HostView, error) {
	var hosts []HostView
	err := c.getJSON(ctx, "/v1/hosts", pageValues(after, limit), &hosts)
	return hosts, err
}

// VMsPage returns at most limit VMs whose UUIDs sort after after ("": from the first), in UUID
// order; a page shorter than limit is the last.
func (c *Client) VMsPage(ctx context.Context, after string, limit int) ([]VMView, error) {
	var vms []VMView
	err := c.getJSON(ctx, "/v1/vms", pageValues(after, limit), &vms)
	return vms, err
}

// pageValues is the query of a page.
func pageValues(after string, limit int) url.Values {
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if after != "" {
		q.Set("after", after)
	}
	return q
}

// VMs returns every VM.
func (c *Client) VMs(ctx context.Context) ([]VMView, error) {
	var vms []VMView
	err := c.getJSON(ctx, "/v1/vms", nil, &vms)
	return vms, err
}

// ExplainHost says why a host has its verdict; an unknown host is an *Error matching
// ErrNotFound.
func (c *Client) ExplainHost(ctx context.Context, name string) (Explanation, error) {
	var ex Explanation
	if name == "" || name == "." || name == ".." {
		return ex, fmt.Errorf("host name %q: %w", name, ErrBadRequest)
	}
	err := c.getJSON(ctx, "/v1/hosts/"+url.PathEscape(name)+"/explain", nil, &ex)
	return ex, err
}

// getJSON GETs path and decodes the JSON answer into out.
func (c *Client) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	resp, err := c.get(ctx, path, query)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("GET %s: %w", path, ctx.Err())
		}
		return fmt.Errorf("decode the answer to GET %s from %s (is it a lifeboat daemon?): %w", path, c.base, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // let the connection be reused
	return nil
}

// get sends a GET and returns the response if its status is 2xx; other statuses become *Error.
func (c *Client) get(ctx context.Context, path string, query url.Values) (*http.Response, error) {
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, path, err)
	}
	if resp.StatusCode/100 == 2 {
		return resp, nil
	}
	defer resp.Body.Close()
	return nil, responseError(resp, path)
}

// transportError explains a request that got no response.
func (c *Client) transportError(ctx context.Context, path string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("GET %s: %w", path, ctx.Err())
	}
	var uerr *url.Error
	if errors.As(err, &uerr) {
		err = uerr.Err // its text repeats the URL
	}
	var op *net.OpError
	var dns *net.DNSError
	if errors.As(err, &dns) || (errors.As(err, &op) && op.Op == "dial") {
		return fmt.Errorf("%w at %s: %w %s", ErrUnreachable, c.base, err, unreachableHint)
	}
	return fmt.Errorf("lifeboat daemon at %s: GET %s: %w", c.base, path, err)
}

// responseError turns a non-2xx response into an *Error.
func responseError(resp *http.Response, path string) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb errorBody
	if json.Unmarshal(body, &eb) == nil && eb.Error != "" {
		code := eb.Code
		if code == "" {
			code = codeForStatus(resp.StatusCode)
		}
		return &Error{Status: resp.StatusCode, Code: code, Message: eb.Error}
	}
	// Not a lifeboat error body: perhaps a proxy or another server.
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 || strings.ContainsAny(msg, "\n<") || msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	return &Error{
		Status:  resp.StatusCode,
		Code:    codeForStatus(resp.StatusCode),
		Message: fmt.Sprintf("GET %s: HTTP %d: %s", path, resp.StatusCode, msg),
	}
}
