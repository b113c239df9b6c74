package config

import (
	"strings"
	"testing"
	"time"
)

const storeHost = "hosts: [{name: h1, uri: \"qemu+tcp://a/system\", role: active}]\n"

func TestStoreEtcdConfig(t *testing.T) {
	cfg, err := Parse([]byte(storeHost + `store:
  backend: etcd
  etcd: {endpoints: ["http://10.0.0.1:2379", "http://10.0.0.2:2379"], prefix: /lifeboat/prod/, session_ttl: 2s}
`))
	if err != nil {
		t.Fatal(err)
	}
	e := cfg.Store.Etcd
	if cfg.Store.Backend != StoreEtcd || len(e.Endpoints) != 2 || e.Prefix != "/lifeboat/prod/" ||
		e.SessionTTL.D() != 2*time.Second || e.DialTimeout.D() != 5*time.Second {
		t.Errorf("store %+v", cfg.Store)
	}
	def, err := Parse([]byte(storeHost))
	if err != nil {
		t.Fatal(err)
	}
	if def.Store.Backend != StoreBbolt || def.Store.JournalMaxEntries != 100000 {
		t.Errorf("default backend %q, journal bound %d; want bbolt, 100000", def.Store.Backend, def.Store.JournalMaxEntries)
	}
	if def.Timings.BMCHealthInterval.D() != 30*time.Second {
		t.Errorf("default timings.bmc_health_interval %s, want 30s", def.Timings.BMCHealthInterval)
	}
}

func TestStoreConfigNamesTheField(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{`store: {backend: zookeeper}`, `store.backend: "zookeeper": want bbolt or etcd`},
		{`store: {backend: bbolt, path: ""}`, "store.path: required"},
		{`store: {backend: etcd}`, "store.etcd.endpoints: at least one"},
		{`store: {backend: etcd, etcd: {endpoints: ["10.0.0.1:2379"]}}`, "store.etcd.endpoints[0]"},
		{`store: {backend: etcd, etcd: {endpoints: ["http://a:2379", "http://b"]}}`, "store.etcd.endpoints[1]: \"http://b\": the port is missing"},
		{`store: {backend: etcd, etcd: {endpoints: ["http://a:2379"], prefix: lifeboat}}`, "store.etcd.prefix"},
		{`store: {backend: etcd, etcd: {endpoints: ["http://a:2379"], session_ttl: 500ms}}`, "store.etcd.session_ttl: 500ms: want at least 1s"},
		{`store: {backend: etcd, etcd: {endpoints: ["http://a:2379"], session_ttl: 1500ms}}`, "store.etcd.session_ttl: 1.5s: want whole seconds"},
		{`store: {backend: etcd, etcd: {endpoints: ["http://a:2379"], dial_timeout: 0s}}`, "store.etcd.dial_timeout"},
		{`store: {backend: etcd, etcd: {endpoints: ["https://a:2379"], tls: {cert_file: /nonexistent/c.pem}}}`, "store.etcd.tls.key_file: required with tls.cert_file"},
		{`store: {backend: etcd, etcd: {endpoints: ["https://a:2379"], tls: {ca_file: /nonexistent/ca.pem}}}`, "store.etcd.tls.ca_file"},
		{`store: {backend: etcd, etcd: {endpoints: ["http://a:2379"], tls: {ca_file: /etc/hostname}}}`, "plain http while store.etcd.tls is set"},
		{`api: {advertise: "10.0.0.5:7400"}`, "api.advertise"},
		{`store: {journal_max_entries: 10}`, "store.journal_max_entries: 10: want at least 100"},
		{`store: {journal_max_entries: -1}`, "store.journal_max_entries: -1: want at least 100"},
		{`timings: {bmc_interval: 2s, bmc_health_interval: 1s}`, "timings.bmc_health_interval: 1s is out of range: want at least timings.bmc_interval (2s)"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(storeHost + c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error containing %q", c.yaml, err, c.want)
		}
	}
}
