package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// post sends a POST with an optional JSON body and decodes the JSON answer into out.
func (c *Client) post(ctx context.Context, path string, query url.Values, body, out any) error {
	var rd io.Reader = http.NoBody
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("POST %s: %w", path, err)
		}
		rd = bytes.NewReader(b)
	}
	u := c.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, rd)
	if err != nil {
		return fmt.Errorf("POST %s: %w", path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return c.transportError(ctx, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return responseError(resp, path)
	}
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxResponse)).Decode(out); err != nil {
		return fmt.Errorf("decode the answer to POST %s: %w", path, err)
	}
	return nil
}

// Switchover asks the daemon to live-migrate a VM (or, with DryRun, only to plan it).
func (c *Client) Switchover(ctx context.Context, req SwitchoverRequest) (SwitchoverResult, error) {
	var res SwitchoverResult
	err := c.post(ctx, "/v1/vms/"+url.PathEscape(req.VM)+"/switchover", nil, SwitchoverRequest{To: req.To, DryRun: req.DryRun}, &res)
	return res, err
}

// Drain asks the daemon to put a host in maintenance and move its VMs off (or only to plan it).
func (c *Client) Drain(ctx context.Context, host string, dryRun bool) (DrainResult, error) {
	var res DrainResult
	q := url.Values{}
	if dryRun {
		q.Set("dry_run", "true")
	}
	err := c.post(ctx, "/v1/hosts/"+url.PathEscape(host)+"/drain", q, nil, &res)
	return res, err
}

// Undrain ends a host's maintenance.
func (c *Client) Undrain(ctx context.Context, host string) error {
	return c.post(ctx, "/v1/hosts/"+url.PathEscape(host)+"/undrain", nil, nil, nil)
}

// Migrations lists running and recent migrations.
func (c *Client) Migrations(ctx context.Context) ([]MigrationView, error) {
	var ms []MigrationView
	err := c.getJSON(ctx, "/v1/migrations", nil, &ms)
	return ms, err
}

// Migration returns one migration.
func (c *Client) Migration(ctx context.Context, id string) (MigrationView, error) {
	var m MigrationView
	err := c.getJSON(ctx, "/v1/migrations/"+url.PathEscape(id), nil, &m)
	return m, err
}

// CancelMigration stops a migration; the VM stays on its source.
func (c *Client) CancelMigration(ctx context.Context, id string) error {
	return c.post(ctx, "/v1/migrations/"+url.PathEscape(id)+"/cancel", nil, nil, nil)
}

// ExplainVM shows where a VM runs and how every host scores as its target.
func (c *Client) ExplainVM(ctx context.Context, name string) (VMExplanation, error) {
	var ex VMExplanation
	err := c.getJSON(ctx, "/v1/vms/"+url.PathEscape(name)+"/explain", nil, &ex)
	return ex, err
}

// Recoveries lists the VMs (and hosts) being recovered.
func (c *Client) Recoveries(ctx context.Context) ([]RecoveryView, error) {
	var rs []RecoveryView
	err := c.getJSON(ctx, "/v1/recoveries", nil, &rs)
	return rs, err
}

// ConfirmOff tells the daemon an operator has checked that the host is off; confirm must repeat
// the host's name.
func (c *Client) ConfirmOff(ctx context.Context, host, confirm string) error {
	return c.post(ctx, "/v1/hosts/"+url.PathEscape(host)+"/confirm-off", nil, ConfirmOffRequest{Confirm: confirm}, nil)
}

// Degrade marks a host degraded by an operator, with a reason.
func (c *Client) Degrade(ctx context.Context, host, reason string) error {
	return c.post(ctx, "/v1/hosts/"+url.PathEscape(host)+"/degrade", nil, DegradeRequest{Reason: reason}, nil)
}

// Repair clears an operator's degraded mark.
func (c *Client) Repair(ctx context.Context, host string) error {
	return c.post(ctx, "/v1/hosts/"+url.PathEscape(host)+"/repair", nil, nil, nil)
}
