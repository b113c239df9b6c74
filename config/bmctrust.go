package config

import (
	"encoding/hex"
	"fmt"
	"strings"
)

// validateTrust checks how a redfish BMC's certificate is checked (p is the entry's field path):
// http needs allow_http, insecure excludes ca_file and pinned_sha256, and a pin is a SHA-256 in
// hex. It returns every problem found.
func (b BMC) validateTrust(p, scheme string) []error {
	var errs []error
	if scheme == "http" && !b.AllowHTTP {
		errs = append(errs, fieldErr(p+".endpoint", "%q is plain http: anyone on the path can answer for the BMC, and a forged \"Off\" fails the host and verifies its fence; use https, or set %s.allow_http: true (labs only)", b.Endpoint, p))
	}
	if b.Insecure && (b.CAFile != "" || b.PinnedSHA256 != "") {
		errs = append(errs, fieldErr(p+".insecure", "true accepts any certificate, which contradicts ca_file and pinned_sha256: drop insecure"))
	}
	if b.CAFile != "" && b.PinnedSHA256 != "" {
		errs = append(errs, fieldErr(p+".pinned_sha256", "set either ca_file or pinned_sha256, not both"))
	}
	if b.PinnedSHA256 != "" {
		h := strings.ReplaceAll(strings.TrimSpace(b.PinnedSHA256), ":", "")
		if raw, err := hex.DecodeString(h); err != nil || len(raw) != 32 {
			errs = append(errs, fieldErr(p+".pinned_sha256", "want the certificate's SHA-256 as 64 hex digits, colons allowed (openssl x509 -noout -fingerprint -sha256)"))
		}
	}
	return errs
}

// TrustWarning is one BMC entry whose answers lifeboat cannot trust: a spoofed BMC that says
// "Off" fails its host and verifies its fence.
type TrustWarning struct {
	// Field is the setting that weakens trust, e.g. hosts[0].fence[1].insecure.
	Field string
	// Host is the host's name.
	Host string
	// Endpoint is the BMC's URL.
	Endpoint string
	// Message says what the setting allows.
	Message string
}

// BMCTrustWarnings lists every redfish BMC entry, in hosts[].bmc and in each hosts[].fence rung,
// that accepts any certificate (insecure) or plain http (allow_http with an http:// endpoint).
func (c Config) BMCTrustWarnings() []TrustWarning {
	var out []TrustWarning
	check := func(p, host string, b BMC) {
		if b.Type != BMCRedfish {
			return
		}
		if b.Insecure {
			out = append(out, TrustWarning{Field: p + ".insecure", Host: host, Endpoint: b.Endpoint,
				Message: "the BMC's certificate is not checked: anyone who can answer for it can fail the host and fake its fence; set ca_file or pinned_sha256"})
		}
		if b.AllowHTTP && strings.HasPrefix(strings.ToLower(b.Endpoint), "http://") {
			out = append(out, TrustWarning{Field: p + ".allow_http", Host: host, Endpoint: b.Endpoint,
				Message: "the BMC is reached over plain http: anyone on the path can read its credentials and answer for it"})
		}
	}
	for i, h := range c.Hosts {
		p := fmt.Sprintf("hosts[%d]", i)
		check(p+".bmc", h.Name, h.BMC)
		for j, f := range h.Fence {
			check(fmt.Sprintf("%s.fence[%d]", p, j), h.Name, f)
		}
	}
	return out
}
