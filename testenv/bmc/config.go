// Package bmc is a Redfish BMC emulator for the lifeboat test lab.
//
// A Server exposes one Redfish ComputerSystem over HTTPS, with basic
// authentication and Redfish sessions (SessionService: login by POST,
// X-Auth-Token, logout by DELETE, expiry when unused, a session limit), close
// enough to a real BMC that the ClusterLabs fence_redfish agent and the gofish
// library can read and change its power state. Its EventService sends a Redfish
// Event when the system's power state or health changes, over a Server-Sent
// Events stream (ServerSentEventUri) and to push subscriptions (POST to
// EventService/Subscriptions). Stats counts what clients cost it: requests,
// TLS handshakes and sessions. The power itself is whatever the lab plugs in
// through the Power interface; the lab calls PowerChanged when it changes the
// power behind the emulator's back. The emulator can also report a degraded health and "die"
// (SetDown), so the lab can test what the cluster does when a host's BMC
// misbehaves.
package bmc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"regexp"
	"time"
)

// PowerState is a Redfish power state: "On" or "Off".
type PowerState string

// The power states a Power reports.
const (
	// PowerOn means the host is running.
	PowerOn PowerState = "On"
	// PowerOff means the host is stopped.
	PowerOff PowerState = "Off"
)

// Health is a Redfish Status.Health value.
type Health string

// The health values a Server can report.
const (
	// HealthOK is normal health; it carries no condition.
	HealthOK Health = "OK"
	// HealthWarning is a condition that needs attention.
	HealthWarning Health = "Warning"
	// HealthCritical is a condition that needs immediate attention.
	HealthCritical Health = "Critical"
)

// Power is what the emulator controls. The lab implements it: ForceOff kills
// a host's processes, On boots it.
//
// The Server serialises ForceOff and On calls, so an implementation never sees
// two of them at once. Both must return when ctx is done; Close waits for them.
type Power interface {
	// PowerState reports the host's current power state.
	PowerState() PowerState
	// ForceOff stops the host at once, like pulling the plug.
	ForceOff(ctx context.Context) error
	// On boots the host.
	On(ctx context.Context) error
}

// DefaultAddr is the listen address used when Config.Addr is empty.
const DefaultAddr = "127.0.0.1:0"

// Config configures a Server.
type Config struct {
	// SystemID names the one ComputerSystem, served at
	// /redfish/v1/Systems/{SystemID}, e.g. "h1". Letters, digits, '.', '_'
	// and '-' only.
	SystemID string
	// Username is the basic-auth user name clients must present.
	Username string
	// Password is the basic-auth password clients must present.
	Password string
	// Addr is the TCP listen address; empty means DefaultAddr.
	Addr string
	// Power is what the reset action drives.
	Power Power
	// Logger receives request and power-action logs; nil discards them.
	Logger *slog.Logger
	// SessionTimeout is how long a Redfish session may stay unused before it
	// expires; zero means DefaultSessionTimeout.
	SessionTimeout time.Duration
	// MaxSessions bounds the open sessions; a login beyond it is refused
	// (503 SessionLimitExceeded). Zero means DefaultMaxSessions.
	MaxSessions int
	// Now is the clock sessions expire by; nil means time.Now.
	Now func() time.Time
	// NoSessionService makes the emulator an older BMC without a SessionService: no Sessions
	// link in the service root, no login, basic auth only.
	NoSessionService bool
	// NoEventService makes the emulator a BMC without a Redfish EventService: no EventService
	// link in the service root, no SSE stream, no subscriptions.
	NoEventService bool
	// NoSSE makes the emulator a push-only BMC (as HPE iLO): an EventService with
	// subscriptions, but no ServerSentEventUri and no SSE stream.
	NoSSE bool
	// NoPush makes the emulator an SSE-only BMC: an EventService with a ServerSentEventUri, but
	// no Subscriptions collection (no push subscriptions).
	NoPush bool
	// SSEHeartbeat is how often an idle SSE stream carries a comment line; zero means
	// DefaultSSEHeartbeat.
	SSEHeartbeat time.Duration
	// Certificate is the TLS certificate to serve (see NewCertificate); nil makes Start
	// generate a fresh self-signed one. Many emulators in one process (a simulated fleet) can
	// share one certificate instead of generating a key each.
	Certificate *tls.Certificate
}

// systemIDPattern keeps SystemID a single, unescaped URL path segment.
var systemIDPattern = regexp.MustCompile(`^[A-Za-z0-9._-]+$`)

// ErrInvalidConfig is wrapped by every configuration error New returns.
var ErrInvalidConfig = errors.New("invalid config")

// validate checks c and returns a copy with defaults filled in. Each error
// names the offending field.
func (c Config) validate() (Config, error) {
	switch {
	case c.SystemID == "":
		return c, fmt.Errorf("bmc: %w: SystemID is empty", ErrInvalidConfig)
	case !systemIDPattern.MatchString(c.SystemID) || c.SystemID == "." || c.SystemID == "..":
		return c, fmt.Errorf("bmc: %w: SystemID %q must be letters, digits, '.', '_' or '-'", ErrInvalidConfig, c.SystemID)
	case c.Username == "":
		return c, fmt.Errorf("bmc: %w: Username is empty", ErrInvalidConfig)
	case c.Password == "":
		return c, fmt.Errorf("bmc: %w: Password is empty", ErrInvalidConfig)
	case c.Power == nil:
		return c, fmt.Errorf("bmc: %w: Power is nil", ErrInvalidConfig)
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return c, fmt.Errorf("bmc: %w: Addr %q: %w", ErrInvalidConfig, c.Addr, err)
	}
	if c.SessionTimeout < 0 {
		return c, fmt.Errorf("bmc: %w: SessionTimeout %s is negative", ErrInvalidConfig, c.SessionTimeout)
	}
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.MaxSessions < 0 {
		return c, fmt.Errorf("bmc: %w: MaxSessions %d is negative", ErrInvalidConfig, c.MaxSessions)
	}
	if c.MaxSessions == 0 {
		c.MaxSessions = DefaultMaxSessions
	}
	if c.SSEHeartbeat < 0 {
		return c, fmt.Errorf("bmc: %w: SSEHeartbeat %s is negative", ErrInvalidConfig, c.SSEHeartbeat)
	}
	if c.SSEHeartbeat == 0 {
		c.SSEHeartbeat = DefaultSSEHeartbeat
	}
	if c.Certificate != nil && (len(c.Certificate.Certificate) == 0 || c.Certificate.PrivateKey == nil) {
		return c, fmt.Errorf("bmc: %w: Certificate has no certificate or no private key", ErrInvalidConfig)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}
