package config

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// validate checks the API's security settings: TLS files come in pairs, and an API reachable
// from other machines has both TLS and a credential.
func (a API) validate() error {
	var errs []error
	t := a.TLS
	switch {
	case t.CertFile != "" && t.KeyFile == "":
		errs = append(errs, fieldErr("api.tls.key_file", "required with api.tls.cert_file"))
	case t.KeyFile != "" && t.CertFile == "":
		errs = append(errs, fieldErr("api.tls.cert_file", "required with api.tls.key_file"))
	}
	if t.ClientCAFile != "" && !t.Enabled() {
		errs = append(errs, fieldErr("api.tls.client_ca_file", "client certificates need TLS: set api.tls.cert_file and api.tls.key_file"))
	}
	auth := a.TokenFile != "" || a.UsersFile != "" || t.ClientCAFile != ""
	if a.MetricsAuth && !auth {
		errs = append(errs, fieldErr("api.metrics_auth", "needs a credential: set api.users_file, api.token_file or api.tls.client_ca_file"))
	}
	if a.BMCEventURL != "" {
		errs = append(errs, a.validateBMCEventURL()...)
	}
	if host, _, err := net.SplitHostPort(a.Listen); err == nil && !loopback(host) {
		var missing []string
		if !t.Enabled() {
			missing = append(missing, "TLS (api.tls.cert_file and api.tls.key_file)")
		}
		if !auth {
			missing = append(missing, "authentication (api.users_file, api.token_file or api.tls.client_ca_file)")
		}
		if len(missing) > 0 {
			errs = append(errs, fieldErr("api.listen", "%q is reachable from other machines, so it needs %s; or listen on 127.0.0.1",
				a.Listen, strings.Join(missing, " and ")))
		}
	}
	return errors.Join(errs...)
}

// loopback reports whether a listen host only takes connections from this machine. An empty
// host and unspecified addresses (0.0.0.0, ::) listen on every interface.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateBMCEventURL checks api.bmc_event_url: an absolute URL of this API, with the API's
// scheme (https with api.tls, else http), and no query or fragment.
func (a API) validateBMCEventURL() []error {
	const f = "api.bmc_event_url"
	u, err := url.Parse(a.BMCEventURL)
	switch {
	case err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "":
		return []error{fieldErr(f, "%q: want the absolute http(s) URL at which the BMCs reach this daemon's API, e.g. https://10.0.0.5:8443", a.BMCEventURL)}
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil:
		return []error{fieldErr(f, "%q: want a URL without user, query or fragment", a.BMCEventURL)}
	case u.Scheme == "https" && !a.TLS.Enabled():
		return []error{fieldErr(f, "%q is https, but the API serves plain http: set api.tls.cert_file and api.tls.key_file, or use http", a.BMCEventURL)}
	case u.Scheme == "http" && a.TLS.Enabled():
		return []error{fieldErr(f, "%q is http, but the API serves https (api.tls): use https", a.BMCEventURL)}
	}
	return nil
}
