package config

import (
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// StoreBackend is where the daemon keeps its state.
type StoreBackend string

// Store backends.
const (
	// StoreBbolt is the embedded store: one file, one daemon (role single).
	StoreBbolt StoreBackend = "bbolt"
	// StoreEtcd is an etcd cluster shared by several daemons, of which the elected leader acts.
	StoreEtcd StoreBackend = "etcd"
)

// Etcd is the etcd cluster of the etcd backend.
type Etcd struct {
	// Endpoints are the client URLs of the etcd members, e.g. https://10.0.0.1:2379.
	Endpoints []string `yaml:"endpoints"`
	// Prefix is put before every key lifeboat writes, so that one etcd serves several clusters.
	Prefix string `yaml:"prefix"`
	// TLS authenticates the client and the members (all three files, or none for plain http).
	TLS EtcdTLS `yaml:"tls,omitempty"`
	// DialTimeout bounds connecting to etcd.
	DialTimeout Duration `yaml:"dial_timeout"`
	// SessionTTL is the lease of each daemon's session: a leader that cannot renew it for this
	// long loses leadership, and another daemon takes over. Keep it below the time the
	// detector takes to call a host failed (timings.unreachable_after).
	SessionTTL Duration `yaml:"session_ttl"`
}

// EtcdTLS are the files of the etcd client's TLS.
type EtcdTLS struct {
	// CAFile is the CA that signed the members' certificates (PEM).
	CAFile string `yaml:"ca_file,omitempty"`
	// CertFile and KeyFile are the client's certificate and key (PEM).
	CertFile string `yaml:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty"`
}

// Enabled tells whether any TLS file is set.
func (t EtcdTLS) Enabled() bool { return t.CAFile != "" || t.CertFile != "" || t.KeyFile != "" }

// MinJournalMaxEntries is the least store.journal_max_entries accepted.
const MinJournalMaxEntries = 100

func (s Store) validate() []error {
	var errs []error
	switch s.Backend {
	case StoreBbolt, "":
		if s.Path == "" {
			errs = append(errs, fieldErr("store.path", "required with store.backend bbolt"))
		}
	case StoreEtcd:
		errs = append(errs, s.Etcd.validate("store.etcd")...)
	default:
		errs = append(errs, fieldErr("store.backend", "%q: want bbolt or etcd", s.Backend))
	}
	if s.JournalMaxEntries != 0 && s.JournalMaxEntries < MinJournalMaxEntries {
		errs = append(errs, fieldErr("store.journal_max_entries", "%d: want at least %d (the journal is what the events command and the API show)", s.JournalMaxEntries, MinJournalMaxEntries))
	}
	return errs
}

func (e Etcd) validate(p string) []error {
	var errs []error
	if len(e.Endpoints) == 0 {
		errs = append(errs, fieldErr(p+".endpoints", "at least one etcd client URL is required (such as https://10.0.0.1:2379)"))
	}
	for i, ep := range e.Endpoints {
		f := fmt.Sprintf("%s.endpoints[%d]", p, i)
		u, err := url.Parse(ep)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
			errs = append(errs, fieldErr(f, "%q: want an http(s) URL such as https://10.0.0.1:2379", ep))
		case u.Port() == "":
			errs = append(errs, fieldErr(f, "%q: the port is missing (etcd clients use 2379)", ep))
		case u.Scheme == "http" && e.TLS.Enabled():
			errs = append(errs, fieldErr(f, "%q: plain http while store.etcd.tls is set; want https", ep))
		}
	}
	if e.Prefix == "" || !strings.HasPrefix(e.Prefix, "/") || !strings.HasSuffix(e.Prefix, "/") {
		errs = append(errs, fieldErr(p+".prefix", "%q: want a key prefix that starts and ends with /, such as /lifeboat/prod/", e.Prefix))
	}
	if e.TLS.CertFile != "" && e.TLS.KeyFile == "" {
		errs = append(errs, fieldErr(p+".tls.key_file", "required with tls.cert_file"))
	}
	if e.TLS.KeyFile != "" && e.TLS.CertFile == "" {
		errs = append(errs, fieldErr(p+".tls.cert_file", "required with tls.key_file"))
	}
	for _, f := range []struct{ field, path string }{{"ca_file", e.TLS.CAFile}, {"cert_file", e.TLS.CertFile}, {"key_file", e.TLS.KeyFile}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			errs = append(errs, fieldErr(p+".tls."+f.field, "%v", err))
		}
	}
	if e.DialTimeout <= 0 {
		errs = append(errs, fieldErr(p+".dial_timeout", "%s: must be positive", e.DialTimeout))
	}
	if e.SessionTTL < Duration(time.Second) {
		errs = append(errs, fieldErr(p+".session_ttl", "%s: want at least 1s (etcd leases count whole seconds)", e.SessionTTL))
	} else if e.SessionTTL.D()%time.Second != 0 {
		errs = append(errs, fieldErr(p+".session_ttl", "%s: want whole seconds (etcd leases count whole seconds)", e.SessionTTL))
	}
	return errs
}
