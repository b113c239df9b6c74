package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// TestFenceTestUsesBMCTrust: `lifeboat fence test` reaches each redfish rung (the BMC emulator,
// over real TLS) with that rung's trust: a right pin and the BMC's own certificate as ca_file
// are accepted, a wrong pin is refused and says so.
func TestFenceTestUsesBMCTrust(t *testing.T) {
	t.Setenv(envConfig, "")
	p := &steadyPower{}
	s, err := bmc.New(bmc.Config{SystemID: "h1", Username: "admin", Password: "pw", Power: p})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	dir := t.TempDir()
	cred, ca := filepath.Join(dir, "bmc.cred"), filepath.Join(dir, "bmc-ca.pem")
	writeTestFile(t, cred, "username=admin\npassword=pw\n")
	writeTestFile(t, ca, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})))
	sum := sha256.Sum256(s.Certificate().Raw)
	cfg := filepath.Join(dir, "lifeboat.yaml")
	writeTestFile(t, cfg, `hosts:
  - name: h1
    uri: qemu+tcp://127.0.0.1/system
    role: active
    fence:
      - {type: redfish, endpoint: "`+s.URL()+`", credentials_file: `+cred+`, pinned_sha256: "`+hex.EncodeToString(sum[:])+`"}
      - {type: redfish, endpoint: "`+s.URL()+`", credentials_file: `+cred+`, ca_file: `+ca+`}
      - {type: redfish, endpoint: "`+s.URL()+`", credentials_file: `+cred+`, pinned_sha256: "`+strings.Repeat("ab", 32)+`"}
`)
	out, err := runCLI(t.Context(), "fence", "test", "h1", "--config", cfg)
	if !errors.Is(err, errFenceTestFailed) || !strings.Contains(err.Error(), "1 of 3 rungs") {
		t.Fatalf("fence test: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 {
		t.Fatalf("want a header and 3 rungs:\n%s", out)
	}
	for i, want := range []string{"0 redfish on", "1 redfish on", "2 redfish ?"} {
		if !strings.HasPrefix(fields(lines[i+1]), want) {
			t.Errorf("rung %d: %q, want %q...", i, lines[i+1], want)
		}
	}
	if !strings.Contains(lines[3], "not the pinned one") {
		t.Errorf("the wrong pin does not say why: %q", lines[3])
	}
	if p.offs != 0 {
		t.Errorf("fence test powered the host off %d times", p.offs)
	}
}

// TestWarnBMCTrust: each insecure or plain-http BMC entry is logged as a warning, by field.
func TestWarnBMCTrust(t *testing.T) {
	cfg, err := config.Parse([]byte(`hosts:
  - name: h1
    uri: qemu+tcp://a/system
    role: active
    bmc: {type: redfish, endpoint: "https://b1", credentials_file: /c, insecure: true}
    fence:
      - {type: redfish, endpoint: "http://b1", credentials_file: /c, allow_http: true}
`))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	warnBMCTrust(cfg, slog.New(slog.NewTextHandler(&buf, nil)))
	out := buf.String()
	for _, want := range []string{"level=WARN msg=\"hosts[0].bmc.insecure: ", "level=WARN msg=\"hosts[0].fence[0].allow_http: "} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in\n%s", want, out)
		}
	}
}
