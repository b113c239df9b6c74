package bmc

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/stmcginnis/gofish"
)

// BaselineRead reads a system's power state the way lifeboat did before it kept sessions: a
// new TLS connection and basic auth for every read, the service root, the system
// collection and the system, then the connection closed. It is kept as the baseline the cost
// benchmarks compare the session client against; it returns the power state in lower case.
func BaselineRead(ctx context.Context, endpoint, systemID, user, password string, timeout time.Duration) (string, error) {
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the lab's self-signed BMCs
		TLSHandshakeTimeout: timeout, ResponseHeaderTimeout: timeout, MaxIdleConnsPerHost: 2}
	defer tr.CloseIdleConnections()
	api, err := gofish.ConnectContext(ctx, gofish.ClientConfig{Endpoint: endpoint, Username: user, Password: password,
		BasicAuth: true, HTTPClient: &http.Client{Transport: tr, Timeout: timeout}, NoModifyTransport: true})
	if err != nil {
		return "", fmt.Errorf("baseline: connect: %w", err)
	}
	defer api.Logout()
	systems, err := api.GetService().Systems()
	if err != nil {
		return "", fmt.Errorf("baseline: list systems: %w", err)
	}
	for _, s := range systems {
		if s.ID == systemID {
			return strings.ToLower(string(s.PowerState)), nil
		}
	}
	return "", fmt.Errorf("baseline: no system %q", systemID)
}
