package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const good = `
cluster: prod
hosts:
  - name: h1
    uri: qemu+tcp://10.0.0.11/system
    role: active
    bmc: {type: redfish, endpoint: "https://10.1.0.11", credentials_file: /etc/lifeboat/h1.cred}
  - name: h2
    uri: qemu+tcp://10.0.0.12/system
    role: standby
    bmc: {type: none}
timings:
  probe_interval: 250ms
store: {path: /var/lib/lifeboat/x.db}
`

func TestParseGoodAndDefaults(t *testing.T) {
	cfg, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timings.ProbeInterval.D() != 250*time.Millisecond || cfg.Timings.UnreachableAfter.D() != 3*time.Second {
		t.Errorf("timings %+v", cfg.Timings)
	}
	if cfg.API.Listen != "127.0.0.1:7400" || cfg.Protection.Default != "all" {
		t.Errorf("defaults not applied: %+v %+v", cfg.API, cfg.Protection)
	}
	b, err := Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Parse(b)
	if err != nil {
		t.Fatalf("marshalled config does not parse again: %v\n%s", err, b)
	}
	if again.Timings != cfg.Timings || len(again.Hosts) != 2 {
		t.Errorf("round trip changed the config")
	}
}

func TestBadConfigNamesTheField(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{``, "hosts: at least one host"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: boss}]`, `hosts[0].role: "boss"`},
		{`hosts: [{name: h1, uri: "http://a", role: active}]`, "hosts[0].uri"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}, {name: h1, uri: "qemu+tcp://b/system", role: active}]`, `hosts[1].name: "h1" already used`},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: redfish, endpoint: "ftp://x"}}]`, "hosts[0].bmc.endpoint"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: redfish, endpoint: "https://x"}}]`, "hosts[0].bmc.credentials_file"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: smoke}}]`, "hosts[0].bmc.type"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: redfish, endpoint: "https://x", credentials_file: /c, events: pull}}]`, `hosts[0].bmc.events: "pull": want auto, sse, push or off`},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: redfish, endpoint: "https://x", credentials_file: /c, events: push}}]`, `hosts[0].bmc.events: push needs api.bmc_event_url`},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: ipmi, endpoint: x, credentials_file: /c, events: push}}]`, "hosts[0].bmc.events: push: only a redfish BMC"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
api: {bmc_event_url: "10.0.0.5:8443"}`, `api.bmc_event_url: "10.0.0.5:8443": want the absolute http(s) URL`},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
api: {bmc_event_url: "https://10.0.0.5:8443"}`, `api.bmc_event_url: "https://10.0.0.5:8443" is https, but the API serves plain http`},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
api: {bmc_event_url: "http://10.0.0.5:8443/?x=1"}`, `api.bmc_event_url: "http://10.0.0.5:8443/?x=1": want a URL without user, query or fragment`},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: ipmi, endpoint: x, credentials_file: /c, events: sse}}]`, "hosts[0].bmc.events: sse: only a redfish BMC"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, fence: [{type: redfish, endpoint: "https://x", credentials_file: /c, events: sse}]}]`, "hosts[0].fence[0].events"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: exec, endpoint: /usr/sbin/fence_apc_snmp}}]`, "hosts[0].bmc.credentials_file: required for exec"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: exec, endpoint: fence_apc_snmp, credentials_file: /c}}]`, "hosts[0].bmc.endpoint"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: exec, endpoint: /f, credentials_file: /c, options: {password: x}}}]`, "hosts[0].bmc.options.password: set by lifeboat"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
timings: {probe_interval: fast}`, `"fast" is not a duration`},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
timings: {suspect_after: 5s, unreachable_after: 1s}`, "timings.unreachable_after"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
api: {listen: nowhere}`, "api.listen"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
protection: {default: some}`, "protection.default"},
		{`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
colour: blue`, "field colour not found"},
		{`hosts: [{name: h1`, "parse"},
	}
	for _, c := range cases {
		_, err := Parse([]byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want an error containing %q", c.yaml, err, c.want)
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(good)
	f.Add("hosts: [{name: a}]")
	f.Fuzz(func(t *testing.T, s string) {
		cfg, err := Parse([]byte(s))
		if err == nil {
			if verr := cfg.Validate(); verr != nil {
				t.Fatalf("Parse accepted a config that does not validate: %v", verr)
			}
		}
	})
}

func TestMigrationAndPlacementSettings(t *testing.T) {
	base := `hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active}]
`
	cfg, err := Parse([]byte(base + `migration: {per_host_out: 4, overrides: [{vms: [db1], downtimes: [1s, 2s], post_copy: true}]}
placement: {memory_overcommit: 1.5, rules: [{name: web-spread, vms: [web1, web2], anti: true}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Migration.PerHostOut != 4 || cfg.Migration.PerHostIn != 2 || len(cfg.Migration.Overrides) != 1 || !*cfg.Migration.Overrides[0].PostCopy {
		t.Errorf("migration %+v", cfg.Migration)
	}
	if cfg.Placement.MemoryOvercommit != 1.5 || cfg.Placement.CPUOvercommit != 4 || !cfg.Placement.Rules[0].Anti {
		t.Errorf("placement %+v", cfg.Placement)
	}
	for yaml, want := range map[string]string{
		`migration: {per_host_out: 0}`:                                         "migration.per_host_out",
		`migration: {downtimes: [1s, 500ms]}`:                                  "migration.downtimes[1]",
		`migration: {overrides: [{downtimes: [1s]}]}`:                          "migration.overrides[0]: needs vms or group",
		`placement: {cpu_overcommit: 0}`:                                       "placement.cpu_overcommit",
		`placement: {rules: [{name: a, vms: [x]}]}`:                            "placement.rules[0].vms",
		`placement: {rules: [{name: a, vms: [x, y]}, {name: a, vms: [x, y]}]}`: "placement.rules[1].name",
		`recovery: {guest_monitoring: {max_resets: 0}}`:                        "recovery.guest_monitoring.max_resets",
		`recovery: {guest_monitoring: {reset_window: 0s}}`:                     "recovery.guest_monitoring.reset_window",
	} {
		if _, err := Parse([]byte(base + yaml)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: got %v, want %q", yaml, err, want)
		}
	}
}

// TestValidateNamesEveryBadField: validation collects every problem, not just the first, so that
// `lifeboat config check` can list them all.
func TestValidateNamesEveryBadField(t *testing.T) {
	_, err := Parse([]byte(`hosts:
  - {name: h1, uri: "http://a", role: boss, bmc: {type: exec, endpoint: fence_x}}
  - {name: h1, uri: "qemu+tcp://b/system", role: active}
migration: {per_host_out: 0}
api: {listen: nowhere}
`))
	var fields []string
	for _, e := range FieldErrors(err) {
		fields = append(fields, e.Field)
	}
	want := []string{"hosts[0].uri", "hosts[0].role", "hosts[0].bmc.endpoint", "hosts[0].bmc.credentials_file", "hosts[1].name", "migration.per_host_out", "api.listen"}
	if strings.Join(fields, " ") != strings.Join(want, " ") {
		t.Errorf("fields at fault: got %v, want %v (error: %v)", fields, want, err)
	}
}

// TestFenceLadder: hosts[].fence is the ladder, tried in order; without it the bmc entry is the
// one rung; each rung is validated by its own field path.
func TestFenceLadder(t *testing.T) {
	cfg, err := Parse([]byte(`hosts:
  - name: h1
    uri: qemu+tcp://a/system
    role: active
    bmc: {type: redfish, endpoint: "https://b1", credentials_file: /c/b1}
    fence:
      - {type: redfish, endpoint: "https://b1", credentials_file: /c/b1}
      - {type: ipmi, endpoint: b1-ipmi, credentials_file: /c/ipmi}
      - {type: exec, agent: fence_apc_snmp, credentials_file: /c/pdu, options: {ip: pdu1, plug: "4"}}
  - {name: h2, uri: "qemu+tcp://b/system", role: active, bmc: {type: exec, endpoint: /opt/fence_x, credentials_file: /c/x}}
  - {name: h3, uri: "qemu+tcp://c/system", role: standby}
`))
	if err != nil {
		t.Fatal(err)
	}
	l := cfg.Hosts[0].FenceLadder()
	if len(l) != 3 || l[0].Type != BMCRedfish || l[1].Type != BMCIPMI || l[2].AgentPath() != "/usr/sbin/fence_apc_snmp" {
		t.Errorf("h1's ladder: %+v", l)
	}
	if l := cfg.Hosts[1].FenceLadder(); len(l) != 1 || l[0].AgentPath() != "/opt/fence_x" {
		t.Errorf("h2's ladder (its bmc): %+v", l)
	}
	if l := cfg.Hosts[2].FenceLadder(); len(l) != 0 {
		t.Errorf("h3 has no fence method: %+v", l)
	}
	_, err = Parse([]byte(`hosts:
  - name: h1
    uri: qemu+tcp://a/system
    role: active
    fence:
      - {type: redfish, endpoint: "ftp://b1", credentials_file: /c/b1}
      - {type: exec, agent: "bin/fence_x"}
      - {type: ipmi, agent: fence_ipmilan, endpoint: b1, credentials_file: /c}
      - {endpoint: b1}
`))
	var fields []string
	for _, fe := range FieldErrors(err) {
		fields = append(fields, fe.Field)
	}
	want := "hosts[0].fence[0].endpoint hosts[0].fence[1].agent hosts[0].fence[1].credentials_file hosts[0].fence[2].agent hosts[0].fence[3].type"
	if strings.Join(fields, " ") != want {
		t.Errorf("fields: %v\nwant %s\n(%v)", fields, want, err)
	}
}

// TestGuestMonitoringDefaultsAndOff: guest monitoring is on by default (3 restarts in 1h); when
// it is off, its other fields are not checked.
func TestGuestMonitoringDefaultsAndOff(t *testing.T) {
	base := "hosts: [{name: h1, uri: \"qemu+tcp://a/system\", role: active}]\n"
	cfg, err := Parse([]byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if gm := cfg.Recovery.GuestMonitoring; !gm.Enabled || gm.MaxResets != 3 || gm.ResetWindow.D() != time.Hour {
		t.Errorf("defaults %+v", gm)
	}
	if _, err := Parse([]byte(base + "recovery: {guest_monitoring: {enabled: false, max_resets: 0}}\n")); err != nil {
		t.Errorf("monitoring off: %v", err)
	}
}

func TestBMCEventMode(t *testing.T) {
	for _, tc := range []struct {
		b    BMC
		want BMCEvents
	}{
		{BMC{Type: BMCRedfish}, EventsAuto},
		{BMC{Type: BMCRedfish, Events: EventsOff}, EventsOff},
		{BMC{Type: BMCRedfish, Events: EventsSSE}, EventsSSE},
		{BMC{Type: BMCIPMI}, EventsOff},
		{BMC{Type: BMCIPMI, Events: EventsAuto}, EventsOff},
		{BMC{}, EventsOff},
	} {
		if got := tc.b.EventMode(); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.b, got, tc.want)
		}
	}
	c, err := Parse([]byte(`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: redfish, endpoint: "https://x", credentials_file: /c, events: off}}]`))
	if err != nil || c.Hosts[0].BMC.EventMode() != EventsOff {
		t.Fatalf("parse events: off: %v", err)
	}
}

// TestBMCEventPush: bmc.events push with api.bmc_event_url validates, and each host's
// destination is the URL with the receiver's route.
func TestBMCEventPush(t *testing.T) {
	c, err := Parse([]byte(`hosts: [{name: h1, uri: "qemu+tcp://a/system", role: active, bmc: {type: redfish, endpoint: "https://x", credentials_file: /c, events: push}}]
api: {listen: "127.0.0.1:7400", bmc_event_url: "http://127.0.0.1:7400/"}`))
	if err != nil {
		t.Fatal(err)
	}
	if m := c.Hosts[0].BMC.EventMode(); m != EventsPush {
		t.Errorf("EventMode = %q", m)
	}
	if got := c.API.BMCEventDestination("h1"); got != "http://127.0.0.1:7400/v1/bmc-events/h1" {
		t.Errorf("BMCEventDestination = %q", got)
	}
	if got := (API{}).BMCEventDestination("h1"); got != "" {
		t.Errorf("BMCEventDestination without a URL = %q", got)
	}
}
