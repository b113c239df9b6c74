package config

import (
	"strings"
	"testing"
)

// TestBMCTrustSettings: a redfish BMC entry, in hosts[].bmc or in a hosts[].fence rung, is
// checked against the system's CAs, a CA file or a pinned fingerprint; insecure excludes both;
// http needs allow_http; errors name the field.
func TestBMCTrustSettings(t *testing.T) {
	host := func(bmc string) string {
		return "hosts: [{name: h1, uri: \"qemu+tcp://a/system\", role: active, bmc: " + bmc + "}]\n"
	}
	rung := func(bmc string) string {
		return "hosts: [{name: h1, uri: \"qemu+tcp://a/system\", role: active, fence: [{type: ipmi, endpoint: i, credentials_file: /c}, " + bmc + "]}]\n"
	}
	pin := strings.Repeat("AB:", 31) + "AB"
	for _, ok := range []string{
		`{type: redfish, endpoint: "https://b", credentials_file: /c}`,
		`{type: redfish, endpoint: "https://b", credentials_file: /c, ca_file: /ca.pem}`,
		`{type: redfish, endpoint: "https://b", credentials_file: /c, pinned_sha256: "` + pin + `"}`,
		`{type: redfish, endpoint: "https://b", credentials_file: /c, insecure: true}`,
		`{type: redfish, endpoint: "http://b", credentials_file: /c, allow_http: true}`,
	} {
		for _, doc := range []string{host(ok), rung(ok)} {
			if _, err := Parse([]byte(doc)); err != nil {
				t.Errorf("%s: %v", doc, err)
			}
		}
	}
	for bmc, want := range map[string]string{
		`{type: redfish, endpoint: "http://b", credentials_file: /c}`:                                             `.endpoint: "http://b" is plain http`,
		`{type: redfish, endpoint: "https://b", credentials_file: /c, insecure: true, ca_file: /x}`:               ".insecure: true accepts any certificate",
		`{type: redfish, endpoint: "https://b", credentials_file: /c, pinned_sha256: abc}`:                        ".pinned_sha256: want the certificate's SHA-256",
		`{type: redfish, endpoint: "https://b", credentials_file: /c, ca_file: /x, pinned_sha256: "` + pin + `"}`: ".pinned_sha256: set either ca_file or pinned_sha256",
		`{type: ipmi, endpoint: "10.0.0.1", credentials_file: /c, ca_file: /x}`:                                   ".type: ipmi: ca_file, pinned_sha256 and allow_http are for redfish BMCs",
	} {
		if _, err := Parse([]byte(host(bmc))); err == nil || !strings.Contains(err.Error(), "hosts[0].bmc"+want) {
			t.Errorf("bmc %s: got %v, want %q", bmc, err, "hosts[0].bmc"+want)
		}
		if _, err := Parse([]byte(rung(bmc))); err == nil || !strings.Contains(err.Error(), "hosts[0].fence[1]"+want) {
			t.Errorf("rung %s: got %v, want %q", bmc, err, "hosts[0].fence[1]"+want)
		}
	}
}

// TestBMCTrustWarnings: every insecure or plain-http redfish entry, in bmc and in each fence
// rung, is listed by its field path.
func TestBMCTrustWarnings(t *testing.T) {
	cfg, err := Parse([]byte(`hosts:
  - name: h1
    uri: qemu+tcp://a/system
    role: active
    bmc: {type: redfish, endpoint: "https://b1", credentials_file: /c, insecure: true}
    fence:
      - {type: redfish, endpoint: "https://b1", credentials_file: /c, pinned_sha256: "` + strings.Repeat("ab", 32) + `"}
      - {type: redfish, endpoint: "http://b1", credentials_file: /c, allow_http: true}
  - name: h2
    uri: qemu+tcp://b/system
    role: standby
    bmc: {type: redfish, endpoint: "https://b2", credentials_file: /c, ca_file: /ca.pem}
`))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.BMCTrustWarnings() {
		got = append(got, w.Field+" "+w.Host+" "+w.Endpoint)
	}
	want := []string{"hosts[0].bmc.insecure h1 https://b1", "hosts[0].fence[1].allow_http h1 http://b1"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("warnings %q, want %q", got, want)
	}
}
