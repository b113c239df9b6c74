package redfish

import (
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Trust says how lifeboat checks that it talks to the real BMC. A BMC that answers "Off" makes
// its host failed and verifies its fence, so a spoofed one is dangerous: by default its
// certificate must verify against the system's CAs.
type Trust struct {
	// CAFile holds PEM CAs the BMC's certificate must chain to, instead of the system's.
	CAFile string
	// PinnedSHA256 is the SHA-256 of the BMC's own (leaf) certificate, in hex (colons allowed),
	// for a self-signed BMC: that certificate and no other is accepted, whatever its names.
	PinnedSHA256 string
	// Insecure accepts any certificate (labs only).
	Insecure bool
	// AllowHTTP accepts a plain http:// endpoint (labs only).
	AllowHTTP bool
}

// ParsePin parses a certificate fingerprint: 64 hex digits, in any case, with or without
// colons between the bytes.
func ParsePin(s string) ([]byte, error) {
	h := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	b, err := hex.DecodeString(h)
	if err != nil || len(b) != sha256.Size {
		return nil, errors.New("want the certificate's SHA-256 as 64 hex digits (openssl x509 -noout -fingerprint -sha256)")
	}
	return b, nil
}

// tlsConfig builds the client TLS configuration for t.
func (t Trust) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case t.Insecure && (t.CAFile != "" || t.PinnedSHA256 != ""):
		return nil, errors.New("insecure accepts any certificate, so it cannot go with a CA file or a pinned fingerprint")
	case t.CAFile != "" && t.PinnedSHA256 != "":
		return nil, errors.New("a CA file and a pinned fingerprint exclude each other: set one")
	case t.Insecure:
		cfg.InsecureSkipVerify = true //nolint:gosec // the operator's explicit choice, warned about at every start
	case t.PinnedSHA256 != "":
		pin, err := ParsePin(t.PinnedSHA256)
		if err != nil {
			return nil, fmt.Errorf("pinned_sha256: %w", err)
		}
		// The chain of a self-signed BMC cannot verify; the pin replaces it.
		cfg.InsecureSkipVerify = true //nolint:gosec // VerifyConnection checks the pin instead
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the BMC sent no certificate")
			}
			sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
			if subtle.ConstantTimeCompare(sum[:], pin) != 1 {
				return fmt.Errorf("the BMC's certificate has SHA-256 %s, not the pinned one: is this the real BMC?", hex.EncodeToString(sum[:]))
			}
			return nil
		}
	case t.CAFile != "":
		b, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("ca_file %s holds no PEM certificate", t.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}
