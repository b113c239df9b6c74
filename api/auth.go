package api

import (
	"crypto/x509"
	"net/http"
	"strings"
)

// anonymous is the identity of every caller when the API has no authentication (a loopback
// listen without api.token_file, api.users_file or a client CA): it may do everything.
const anonymous = "anonymous"

// authenticator proves who a request comes from: a bearer token (api.token_file or a users
// file entry) or a TLS client certificate.
type authenticator struct {
	// token is api.token_file's token, an admin named "token"; nil when unset.
	token *tokenAuth
	// users are api.users_file's named tokens; nil when unset.
	users *Users
	// certs: verified client certificates name their holder (api.tls.client_ca_file).
	certs bool
}

// enabled reports whether any credential is configured; without one every caller is anonymous.
func (a *authenticator) enabled() bool {
	return a.token != nil || a.users != nil || a.certs
}

// authenticate returns the caller's identity, or a message for a 401 that says what is missing
// without telling whether a token or a name came close. A bearer token wins over a client
// certificate.
func (a *authenticator) authenticate(r *http.Request) (Identity, string, bool) {
	id := Identity{Remote: remoteHost(r)}
	if !a.enabled() {
		id.Name, id.Role, id.Method = anonymous, RoleAdmin, AuthNone
		return id, "", true
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, tok, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return id, "the Authorization header is not a bearer token: want Authorization: Bearer TOKEN", false
		}
		tok = strings.TrimSpace(tok)
		id.Method = AuthToken
		if a.users != nil {
			if u, ok := a.users.match(tok); ok {
				id.Name, id.Role = u.Name, u.Role
				return id, "", true
			}
		}
		if a.token != nil && a.token.matches(tok) {
			id.Name, id.Role = "token", RoleAdmin
			return id, "", true
		}
		return id, "invalid bearer token", false
	}
	if a.certs && r.TLS != nil && len(r.TLS.VerifiedChains) > 0 && len(r.TLS.VerifiedChains[0]) > 0 {
		return a.certIdentity(id, r.TLS.VerifiedChains[0][0]), "", true
	}
	return id, "missing credentials: send Authorization: Bearer TOKEN (lifeboat --token-file, $LIFEBOAT_TOKEN)" + a.certHint(), false
}

// certHint mentions client certificates when the API takes them.
func (a *authenticator) certHint() string {
	if a.certs {
		return " or a client certificate (--cert-file, --key-file)"
	}
	return ""
}

// certIdentity names a verified client certificate's holder by its common name. The role is
// that of the users file entry of the same name, else the first organizational unit that names
// a role (viewer, operator, admin), else none (every call is then refused with 403).
func (a *authenticator) certIdentity(id Identity, cert *x509.Certificate) Identity {
	id.Name, id.Method, id.Role = Printable(cert.Subject.CommonName), AuthCertificate, RoleNone
	if a.users != nil {
		if role, ok := a.users.Role(cert.Subject.CommonName); ok {
			id.Role = role
			return id
		}
	}
	for _, ou := range cert.Subject.OrganizationalUnit {
		if role, err := ParseRole(ou); err == nil {
			id.Role = role
			return id
		}
	}
	return id
}
