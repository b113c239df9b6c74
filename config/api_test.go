package config

import (
	"strings"
	"testing"
)

func TestAPISecuritySettings(t *testing.T) {
	base := "hosts: [{name: h1, uri: \"qemu+tcp://a/system\", role: active}]\n"
	for _, ok := range []string{
		`api: {listen: "127.0.0.1:7400"}`,
		`api: {listen: "[::1]:7400"}`,
		`api: {listen: "localhost:7400", metrics_auth: true, users_file: /etc/lifeboat/users}`,
		`api: {listen: "0.0.0.0:7400", token_file: /t, tls: {cert_file: /c, key_file: /k}}`,
		`api: {listen: "10.0.0.5:7400", tls: {cert_file: /c, key_file: /k, client_ca_file: /ca}}`,
	} {
		if _, err := Parse([]byte(base + ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for yaml, want := range map[string]string{
		`api: {listen: "0.0.0.0:7400"}`:                                               `api.listen: "0.0.0.0:7400" is reachable from other machines, so it needs TLS (api.tls.cert_file and api.tls.key_file) and authentication`,
		`api: {listen: ":7400", token_file: /t}`:                                      `api.listen: ":7400" is reachable from other machines, so it needs TLS`,
		`api: {listen: "10.0.0.5:7400", tls: {cert_file: /c, key_file: /k}}`:          `needs authentication (api.users_file`,
		`api: {listen: "127.0.0.1:7400", tls: {cert_file: /c}}`:                       "api.tls.key_file: required with api.tls.cert_file",
		`api: {listen: "127.0.0.1:7400", tls: {key_file: /k}}`:                        "api.tls.cert_file: required with api.tls.key_file",
		`api: {listen: "127.0.0.1:7400", tls: {client_ca_file: /ca}}`:                 "api.tls.client_ca_file: client certificates need TLS",
		`api: {listen: "127.0.0.1:7400", metrics_auth: true}`:                         "api.metrics_auth: needs a credential",
		`api: {listen: "127.0.0.1:7400", tls: {cert_file: /c, key_file: /k, ca: /x}}`: "field ca not found",
		`api: {listen: "lifeboat.example:7400", users_file: /u}`:                      `api.listen: "lifeboat.example:7400" is reachable from other machines`,
	} {
		if _, err := Parse([]byte(base + yaml)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", yaml, err, want)
		}
	}
}
