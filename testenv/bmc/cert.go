package bmc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"time"
)

// certValidity is how long a generated certificate is valid.
const certValidity = 365 * 24 * time.Hour

// certBackdate moves NotBefore into the past so small clock differences
// between the lab's processes never make a fresh certificate "not yet valid".
const certBackdate = 5 * time.Minute

// NewCertificate generates, in memory, a self-signed certificate like the one Start makes for
// each Server, for Config.Certificate: emulators that share it skip a key generation each.
// name goes into the subject.
func NewCertificate(name string) (tls.Certificate, error) {
	return selfSignedCert(name, time.Now())
}

// selfSignedCert generates, in memory, a self-signed ECDSA P-256 server
// certificate for 127.0.0.1, ::1 and localhost, valid for one year from now.
// The subject names the system so the certificates of the lab's BMCs can be
// told apart.
func selfSignedCert(systemID string, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bmc: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bmc: generate serial: %w", err)
	}
	notBefore := now.Add(-certBackdate)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "lifeboat-bmc " + systemID, Organization: []string{"lifeboat test lab"}},
		NotBefore:             notBefore,
		NotAfter:              notBefore.Add(certValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bmc: create certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("bmc: parse certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}
