package hypervisor

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// tcpEndpoint returns the HOST:PORT that a remote libvirt URI connects to, or "" for a local or
// non-TCP transport (which cannot be probed with a TCP connect).
func tcpEndpoint(uri string) (string, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", fmt.Errorf("hypervisor: libvirt URI %q: %w", uri, err)
	}
	if u.Host == "" {
		return "", nil
	}
	_, transport, _ := strings.Cut(u.Scheme, "+")
	port := ""
	switch transport {
	case "tcp":
		port = "16509"
	case "tls", "":
		port = "16514"
	case "ssh", "libssh", "libssh2":
		port = "22"
	default:
		return "", nil
	}
	if u.Port() != "" {
		port = u.Port()
	}
	return net.JoinHostPort(u.Hostname(), port), nil
}
