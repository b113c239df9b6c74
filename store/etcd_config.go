package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/lifeboat-ha/lifeboat/config"
)

// OpenConfig opens the store the configuration names: the bbolt file at store.path, or etcd at
// store.etcd.
func OpenConfig(ctx context.Context, c config.Store) (Store, error) {
	switch c.Backend {
	case config.StoreBbolt, "":
		return Open(c.Path, Options{Create: true, MaxJournal: c.JournalMaxEntries})
	case config.StoreEtcd:
		opts, err := EtcdOptionsFromConfig(c.Etcd)
		if err != nil {
			return nil, err
		}
		opts.MaxJournal = c.JournalMaxEntries
		return OpenEtcd(ctx, opts)
	}
	return nil, fmt.Errorf("store.backend %q: want bbolt or etcd", c.Backend)
}

// EtcdOptionsFromConfig reads store.etcd, including its TLS files.
func EtcdOptionsFromConfig(c config.Etcd) (EtcdOptions, error) {
	opts := EtcdOptions{Endpoints: c.Endpoints, Prefix: c.Prefix, DialTimeout: c.DialTimeout.D()}
	if !c.TLS.Enabled() {
		return opts, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if c.TLS.CAFile != "" {
		pem, err := os.ReadFile(c.TLS.CAFile)
		if err != nil {
			return opts, fmt.Errorf("store.etcd.tls.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return opts, fmt.Errorf("store.etcd.tls.ca_file: %s holds no PEM certificate", c.TLS.CAFile)
		}
	}
	if c.TLS.CertFile != "" || c.TLS.KeyFile != "" {
		if c.TLS.CertFile == "" || c.TLS.KeyFile == "" {
			return opts, errors.New("store.etcd.tls: cert_file and key_file go together")
		}
		cert, err := tls.LoadX509KeyPair(c.TLS.CertFile, c.TLS.KeyFile)
		if err != nil {
			return opts, fmt.Errorf("store.etcd.tls.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	opts.TLS = tc
	return opts, nil
}
