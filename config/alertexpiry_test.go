package config

import (
	"strings"
	"testing"
	"time"
)

// TestAlertExpireAfter: alerts.alertmanager.expire_after defaults to 12h and must be at least
// MinAlertExpireAfter; the error names the field.
func TestAlertExpireAfter(t *testing.T) {
	const hosts = "hosts: [{name: h1, uri: \"qemu+tcp://a/system\", role: active}]\n"
	cfg, err := Parse([]byte(hosts))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Alerts.Alertmanager.ExpireAfter.D(); got != 12*time.Hour {
		t.Errorf("default expire_after %s, want 12h", got)
	}
	cfg, err = Parse([]byte(hosts + "alerts: {alertmanager: {expire_after: 24h}}\n"))
	if err != nil || cfg.Alerts.Alertmanager.ExpireAfter.D() != 24*time.Hour {
		t.Errorf("expire_after 24h: %v, %s", err, cfg.Alerts.Alertmanager.ExpireAfter)
	}
	for _, v := range []string{"0s", "-1h", "1m"} {
		_, err := Parse([]byte(hosts + "alerts: {alertmanager: {expire_after: " + v + "}}\n"))
		if err == nil || !strings.Contains(err.Error(), "alerts.alertmanager.expire_after: ") {
			t.Errorf("expire_after %s: %v", v, err)
		}
	}
}
