package bmc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestNewValidates(t *testing.T) {
	ok := Config{SystemID: "h1", Username: "u", Password: "p", Power: newFakePower(PowerOn)}
	cases := []struct {
		field string
		edit  func(*Config)
	}{
		{"SystemID", func(c *Config) { c.SystemID = "" }},
		{"SystemID", func(c *Config) { c.SystemID = "h1/x" }},
		{"SystemID", func(c *Config) { c.SystemID = ".." }},
		{"Username", func(c *Config) { c.Username = "" }},
		{"Password", func(c *Config) { c.Password = "" }},
		{"Power", func(c *Config) { c.Power = nil }},
		{"Addr", func(c *Config) { c.Addr = "127.0.0.1" }},
	}
	for _, c := range cases {
		cfg := ok
		c.edit(&cfg)
		_, err := New(cfg)
		if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), c.field) {
			t.Errorf("%s: err = %v, want ErrInvalidConfig naming the field", c.field, err)
		}
	}
	if _, err := New(ok); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestLifecycle(t *testing.T) {
	s, err := New(Config{SystemID: "h2", Username: "u", Password: "p", Power: newFakePower(PowerOn)})
	if err != nil {
		t.Fatal(err)
	}
	if s.URL() != "" || s.Addr() != "" || s.Certificate() != nil {
		t.Errorf("before Start: URL %q, Addr %q", s.URL(), s.Addr())
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	host, port, err := net.SplitHostPort(s.Addr())
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Addr %q", s.Addr())
	}
	if s.URL() != "https://127.0.0.1:"+port {
		t.Errorf("URL %q", s.URL())
	}
	if err := s.Start(ctx); err == nil {
		t.Error("second Start succeeded")
	}

	// Cancelling the Start context closes the server.
	cancel()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("server still listening 5s after its context was cancelled")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after cancel: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Start(t.Context()); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Start after Close: %v", err)
	}
}

func TestCloseBeforeStart(t *testing.T) {
	s, err := New(Config{SystemID: "h3", Username: "u", Password: "p", Power: newFakePower(PowerOff)})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err == nil {
		t.Fatal("Start after Close succeeded")
	}
}

func TestCertificate(t *testing.T) {
	s, _ := startServer(t)
	cert := s.Certificate()
	key, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() {
		t.Errorf("public key %T, want ECDSA P-256", cert.PublicKey)
	}
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	if strings.Join(ips, ",") != "127.0.0.1,::1" || strings.Join(cert.DNSNames, ",") != "localhost" {
		t.Errorf("SANs: IPs %v, DNS %v", ips, cert.DNSNames)
	}
	if v := cert.NotAfter.Sub(cert.NotBefore); v != 365*24*time.Hour {
		t.Errorf("validity %v, want one year", v)
	}
	if time.Now().Before(cert.NotBefore) || time.Now().After(cert.NotAfter) {
		t.Errorf("not valid now: %v..%v", cert.NotBefore, cert.NotAfter)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	for _, name := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := cert.Verify(x509.VerifyOptions{DNSName: name, Roots: pool}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
}

// TestSharedCertificate: emulators given one Config.Certificate serve that certificate, each on
// its own socket, and a Certificate without a key is refused naming the field.
func TestSharedCertificate(t *testing.T) {
	shared, err := NewCertificate("fleet")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"h1", "h2"} {
		s, err := New(Config{SystemID: id, Username: testUser, Password: testPass, Power: newFakePower(PowerOn), Certificate: &shared})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if !s.Certificate().Equal(shared.Leaf) {
			t.Errorf("%s: Certificate() is not the shared certificate", id)
		}
		conn, err := tls.Dial("tcp", s.Addr(), &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // the test compares the certificate itself
		if err != nil {
			t.Fatal(err)
		}
		served := conn.ConnectionState().PeerCertificates[0]
		conn.Close()
		if !served.Equal(shared.Leaf) {
			t.Errorf("%s serves %q, not the shared certificate", id, served.Subject.CommonName)
		}
	}
	_, err = New(Config{SystemID: "h3", Username: testUser, Password: testPass, Power: newFakePower(PowerOn), Certificate: &tls.Certificate{}})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "Certificate") {
		t.Errorf("empty Certificate: %v, want ErrInvalidConfig naming Certificate", err)
	}
}
