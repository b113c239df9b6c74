package api

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"os"
)

// ServerTLS returns the TLS configuration of the daemon's API: its certificate and key, and,
// with clientCAFile, optional client certificates verified against that CA (a verified
// certificate is a credential: see Identity). TLS 1.2 is the minimum.
func ServerTLS(certFile, keyFile, clientCAFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("TLS needs both cert_file and key_file")
	}
	if _, err := ReadKeyFile(keyFile); err != nil {
		return nil, err
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert}}
	if clientCAFile != "" {
		pool, err := readCAFile(clientCAFile)
		if err != nil {
			return nil, err
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}

// readCAFile reads PEM CA certificates into a pool.
func readCAFile(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// ClientOption configures NewClient.
type ClientOption func(*clientTLS) error

// clientTLS collects the TLS options of a client.
type clientTLS struct {
	roots             *x509.CertPool
	certFile, keyFile string
}

// WithCAFile makes the client trust the daemon's certificate when it chains to a CA in path
// (PEM), instead of the system's roots.
func WithCAFile(path string) ClientOption {
	return func(c *clientTLS) error {
		if path == "" {
			return nil
		}
		pool, err := readCAFile(path)
		if err != nil {
			return err
		}
		c.roots = pool
		return nil
	}
}

// WithClientCert makes the client present a certificate (mTLS) from PEM files.
func WithClientCert(certFile, keyFile string) ClientOption {
	return func(c *clientTLS) error {
		if certFile == "" && keyFile == "" {
			return nil
		}
		if certFile == "" || keyFile == "" {
			return errors.New("a client certificate needs both the certificate and the key file")
		}
		c.certFile, c.keyFile = certFile, keyFile
		return nil
	}
}

// apply sets tr's TLS configuration from the options.
func (c *clientTLS) apply(tr *http.Transport) error {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: c.roots}
	if c.certFile != "" {
		if _, err := ReadKeyFile(c.keyFile); err != nil {
			return err
		}
		cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
		if err != nil {
			return fmt.Errorf("client certificate %s and key %s: %w", c.certFile, c.keyFile, err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	tr.TLSClientConfig = cfg
	return nil
}
