package api

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/lifeboat-ha/lifeboat/secret"
)

// ReadTokenFile reads a bearer token from a secret file (see secret.ReadFile: owner-only, not
// empty), trimming surrounding white space (a trailing newline, say). A token with inner white
// space is an error.
func ReadTokenFile(path string) (string, error) {
	tok, err := secret.ReadString(path)
	if err != nil {
		return "", fmt.Errorf("token file: %w", err)
	}
	if err := checkToken(tok); err != nil {
		return "", fmt.Errorf("token file %s: %w", path, err)
	}
	return tok, nil
}

// checkToken rejects tokens that cannot travel in an Authorization header as they are.
func checkToken(tok string) error {
	for _, c := range tok {
		if c <= ' ' || c == 0x7f {
			return errors.New("the token holds white space or control characters")
		}
	}
	return nil
}

// tokenAuth checks bearer tokens in constant time (comparing digests, so the length of the
// token does not leak either).
type tokenAuth struct {
	sum [sha256.Size]byte
}

// newTokenAuth returns a checker for tok.
func newTokenAuth(tok string) *tokenAuth {
	return &tokenAuth{sum: sha256.Sum256([]byte(tok))}
}

// matches reports whether tok is the token.
func (a *tokenAuth) matches(tok string) bool {
	sum := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(sum[:], a.sum[:]) == 1
}

// check returns whether r carries the token, and if not, a message saying what is wrong.
func (a *tokenAuth) check(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "missing bearer token", false
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "the Authorization header is not a bearer token: want Authorization: Bearer TOKEN", false
	}
	if !a.matches(strings.TrimSpace(tok)) {
		return "invalid bearer token", false
	}
	return "", true
}

// ReadKeyFile checks that a TLS private key file is a secret file (owner-only, not empty: see
// secret.ReadFile) and returns its contents.
func ReadKeyFile(path string) ([]byte, error) {
	b, err := secret.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("TLS key: %w", err)
	}
	return b, nil
}
