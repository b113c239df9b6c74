package fence

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
)

// isNotVerified reports whether err is a ladder failure for an unverified power-off.
func isNotVerified(err error) bool {
	return errors.Is(err, ErrAllFailed) && errors.Is(err, ErrNotVerified)
}

func TestFromConfig(t *testing.T) {
	creds := writeCreds(t, testUser, testPass)
	for _, tc := range []struct {
		bmc      config.BMC
		wantName string
		wantErr  bool
	}{
		{config.BMC{Type: config.BMCNone}, "", false},
		{config.BMC{}, "", false},
		{config.BMC{Type: config.BMCRedfish, Endpoint: "https://10.0.0.1", CredentialsFile: creds, Insecure: true}, "redfish", false},
		{config.BMC{Type: config.BMCIPMI, Endpoint: "10.0.0.1", CredentialsFile: creds}, "ipmi", false},
		{config.BMC{Type: config.BMCExec, Endpoint: "/usr/sbin/fence_ipmilan", CredentialsFile: creds,
			Options: map[string]string{"ip": "10.0.0.1"}}, "exec:fence_ipmilan", false},
		{config.BMC{Type: config.BMCRedfish, Endpoint: "https://10.0.0.1", CredentialsFile: "/nonexistent"}, "", true},
		{config.BMC{Type: config.BMCRedfish, Endpoint: "not a url", CredentialsFile: creds}, "", true},
		{config.BMC{Type: "smoke-signals"}, "", true},
	} {
		l, err := FromConfig("h1", tc.bmc, 3*time.Second)
		if (err != nil) != tc.wantErr {
			t.Errorf("%+v: err %v", tc.bmc, err)
			continue
		}
		if err != nil {
			noSecret(t, err)
			continue
		}
		if l.Host != "h1" || l.Timeout != 3*time.Second {
			t.Errorf("%+v: ladder %+v", tc.bmc, l)
		}
		switch {
		case tc.wantName == "" && len(l.Methods) != 0:
			t.Errorf("%+v: methods %v", tc.bmc, l.Methods)
		case tc.wantName != "" && (len(l.Methods) != 1 || l.Methods[0].Name() != tc.wantName):
			t.Errorf("%+v: methods %v, want %s", tc.bmc, l.Methods, tc.wantName)
		}
	}
	l, _ := FromConfig("h1", config.BMC{Type: config.BMCNone}, 0)
	if _, err := l.Fence(t.Context()); !errors.Is(err, ErrAllFailed) || !strings.Contains(err.Error(), "no fence method configured") {
		t.Fatalf("none: %v", err)
	}
}

// TestFromHostBuildsTheLadderInOrder: hosts[].fence gives one method per rung, in order; without
// it the bmc entry is the only rung.
func TestFromHostBuildsTheLadderInOrder(t *testing.T) {
	creds := writeCreds(t, testUser, testPass)
	h := config.Host{Name: "h1", BMC: config.BMC{Type: config.BMCRedfish, Endpoint: "https://10.0.0.1", CredentialsFile: creds},
		Fence: []config.BMC{
			{Type: config.BMCIPMI, Endpoint: "10.0.0.2", CredentialsFile: creds},
			{Type: config.BMCExec, Agent: "fence_apc_snmp", CredentialsFile: creds, Options: map[string]string{"ip": "pdu1"}},
			{Type: config.BMCRedfish, Endpoint: "https://10.0.0.1", CredentialsFile: creds},
		}}
	l, err := FromHost(h, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range l.Methods {
		names = append(names, m.Name())
	}
	if got := strings.Join(names, " "); got != "ipmi exec:fence_apc_snmp redfish" {
		t.Errorf("ladder %s", got)
	}
	h.Fence = nil
	if l, err := FromHost(h, time.Second); err != nil || len(l.Methods) != 1 || l.Methods[0].Name() != "redfish" {
		t.Errorf("bmc as the one rung: %v %v", l.Methods, err)
	}
	h.Fence = []config.BMC{{Type: config.BMCIPMI, Endpoint: "10.0.0.2", CredentialsFile: "/nonexistent"}}
	if _, err := FromHost(h, time.Second); err == nil || !strings.Contains(err.Error(), "rung 0 (ipmi)") {
		t.Errorf("a rung that cannot be built: %v", err)
	}
}
