package api

import (
	"context"
	"fmt"
)

// Role is what a caller of the API may do. Each role may do everything the roles before it
// may.
type Role int

// Roles, from least to most trusted.
const (
	// RoleNone may do nothing (no or bad credentials).
	RoleNone Role = iota
	// RoleViewer reads: status, hosts, VMs, events, plans, explanations, metrics.
	RoleViewer
	// RoleOperator also switches over, drains, degrades and repairs, cancels migrations, and
	// approves and rejects plans.
	RoleOperator
	// RoleAdmin also confirms a host off, and disarms and arms automatic action.
	RoleAdmin
)

// String returns the role's name as users files and messages spell it.
func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	case RoleNone:
		return "none"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// ParseRole parses viewer, operator or admin.
func ParseRole(s string) (Role, error) {
	for _, r := range []Role{RoleViewer, RoleOperator, RoleAdmin} {
		if s == r.String() {
			return r, nil
		}
	}
	return RoleNone, fmt.Errorf("role %q: want viewer, operator or admin", s)
}

// AuthMethod says how a caller proved who it is.
type AuthMethod string

// Authentication methods.
const (
	// AuthNone: the API has no authentication (loopback only); every caller is "anonymous".
	AuthNone AuthMethod = "none"
	// AuthToken: a bearer token (api.token_file or api.users_file).
	AuthToken AuthMethod = "token"
	// AuthCertificate: a TLS client certificate signed by api.tls.client_ca_file.
	AuthCertificate AuthMethod = "certificate"
)

// Identity is who made a request, as its credential proves: never what a request body claims.
type Identity struct {
	// Name is the users file entry's name, the client certificate's common name, "token" for
	// api.token_file, or "anonymous" without authentication.
	Name string `json:"name"`
	// Role is what the caller may do.
	Role Role `json:"-"`
	// Method is how the caller authenticated.
	Method AuthMethod `json:"method"`
	// Remote is the caller's address (host, no port).
	Remote string `json:"remote"`
}

// String is "alice (operator, token, from 10.0.0.5)", for records.
func (id Identity) String() string {
	return fmt.Sprintf("%s (%s, %s, from %s)", id.Name, id.Role, id.Method, id.Remote)
}

// identityKey is the context key of the request's Identity.
type identityKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFrom returns the Identity the server put in a request's context.
func IdentityFrom(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}
