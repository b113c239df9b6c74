package config

import (
	"strings"
	"testing"
)

// TestIPMIPortAndCipherSuite: an ipmi rung takes a UDP port and a cipher suite; out-of-range
// values, and either one on another method, are named by field.
func TestIPMIPortAndCipherSuite(t *testing.T) {
	rung := func(r string) string {
		return "hosts: [{name: h1, uri: \"qemu+tcp://a/system\", role: active, fence: [{type: redfish, endpoint: \"https://b\", credentials_file: /c}, " + r + "]}]\n"
	}
	cfg, err := Parse([]byte(rung(`{type: ipmi, endpoint: 127.0.0.1, port: 16230, cipher_suite: 3, credentials_file: /c}`)))
	if err != nil {
		t.Fatal(err)
	}
	if f := cfg.Hosts[0].Fence[1]; f.Port != 16230 || f.CipherSuite != 3 {
		t.Fatalf("rung: %+v", f)
	}
	for r, want := range map[string]string{
		`{type: ipmi, endpoint: 127.0.0.1, port: 0x10000, credentials_file: /c}`:    "hosts[0].fence[1].port: 65536: want a UDP port from 1 to 65535",
		`{type: ipmi, endpoint: 127.0.0.1, port: -1, credentials_file: /c}`:         "hosts[0].fence[1].port: -1",
		`{type: ipmi, endpoint: 127.0.0.1, cipher_suite: 18, credentials_file: /c}`: "hosts[0].fence[1].cipher_suite: 18: want an RMCP+ cipher suite from 1 to 17",
		`{type: ipmi, endpoint: "-H", credentials_file: /c}`:                        `hosts[0].fence[1].endpoint: "-H": want a host name or IP address`,
		`{type: redfish, endpoint: "https://b", port: 623, credentials_file: /c}`:   "hosts[0].fence[1].type: redfish: port and cipher_suite are for ipmi methods",
		`{type: exec, agent: fence_ipmilan, cipher_suite: 3, credentials_file: /c}`: "hosts[0].fence[1].type: exec: port and cipher_suite are for ipmi methods",
	} {
		if _, err := Parse([]byte(rung(r))); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", r, err, want)
		}
	}
}
