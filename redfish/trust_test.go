package redfish

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTrustChecksTheBMC talks to the BMC emulator over real TLS: its self-signed certificate is
// refused by default, accepted through a CA file or a pinned fingerprint, and a wrong pin or
// another CA is refused; http needs AllowHTTP; insecure excludes the other two.
func TestTrustChecksTheBMC(t *testing.T) {
	s, _ := startBMC(t)
	cert := s.Certificate()
	dir := t.TempDir()
	caFile := filepath.Join(dir, "bmc.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(cert.Raw)
	pin := hex.EncodeToString(sum[:])
	var colons []string
	for i := 0; i < len(pin); i += 2 {
		colons = append(colons, strings.ToUpper(pin[i:i+2]))
	}
	other, _ := startBMC(t) // another self-signed certificate
	otherFile := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(otherFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	wrongPin := strings.Repeat("ab", 32)

	for _, c := range []struct {
		name  string
		trust Trust
		want  string // "" means the status is read
	}{
		{"system CAs", Trust{}, "certificate"},
		{"its own certificate as CA", Trust{CAFile: caFile}, ""},
		{"pinned", Trust{PinnedSHA256: pin}, ""},
		{"pinned, openssl style", Trust{PinnedSHA256: strings.Join(colons, ":")}, ""},
		{"wrong pin", Trust{PinnedSHA256: wrongPin}, "not the pinned one"},
		{"another CA", Trust{CAFile: otherFile}, "certificate"},
		{"insecure", Trust{Insecure: true}, ""},
	} {
		cl, err := New(s.URL(), "h1", Credentials{"admin", "pw"}, c.trust, 2*time.Second)
		if err != nil {
			t.Fatalf("%s: New: %v", c.name, err)
		}
		_, err = cl.Status(t.Context())
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		}
	}

	for _, c := range []struct {
		endpoint string
		trust    Trust
		want     string
	}{
		{"http://10.0.0.1", Trust{}, "plain http"},
		{"https://10.0.0.1", Trust{Insecure: true, PinnedSHA256: pin}, "cannot go with"},
		{"https://10.0.0.1", Trust{PinnedSHA256: "abc"}, "64 hex digits"},
		{"https://10.0.0.1", Trust{CAFile: filepath.Join(dir, "missing.pem")}, "ca_file"},
	} {
		if _, err := New(c.endpoint, "", Credentials{"a", "b"}, c.trust, time.Second); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: %v, want %q", c.endpoint, c.trust, err, c.want)
		}
	}
	if _, err := New("http://10.0.0.1", "", Credentials{"a", "b"}, Trust{AllowHTTP: true}, time.Second); err != nil {
		t.Errorf("http with AllowHTTP: %v", err)
	}
}
