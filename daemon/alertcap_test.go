package daemon

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// TestAlertFloodIsBounded sends 2,000 distinct firing alerts for one host, 100 a payload: the
// host keeps MaxAlertsPerHost of them (the newest), in memory, in its store record and in
// 'explain', and the journal says how many were dropped.
func TestAlertFloodIsBounded(t *testing.T) {
	ctx := context.Background()
	cfg := fleetConfig(t.TempDir(), 1)
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	d := newTestDaemon(t, cfg, clk)
	defer d.db.Close()
	host := d.hosts[0].cfg.Name
	start := clk.Now()
	for p := range 20 {
		obs := make([]api.AlertObservation, 100)
		for i := range obs {
			n := p*100 + i
			obs[i] = api.AlertObservation{Host: host, Fingerprint: fmt.Sprintf("fp%04d", n), Name: fmt.Sprintf("Flood%04d", n),
				Firing: true, Severity: "warning", Summary: "flood", StartsAt: start.Add(time.Duration(n) * time.Second)}
		}
		if err := d.ReceiveAlerts(ctx, obs); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := d.db.ListHosts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var rec store.HostRecord
	for _, r := range recs {
		if r.Name == host {
			rec = r
		}
	}
	alerts := 0
	for _, o := range rec.Observations {
		if strings.HasPrefix(o.Key, alertKeyPrefix) {
			alerts++
			if o.Key < "alert:fp1936" {
				t.Errorf("kept the old alert %s; want the newest %d only", o.Key, MaxAlertsPerHost)
			}
		}
	}
	if alerts != MaxAlertsPerHost {
		t.Fatalf("the store keeps %d alerts for %s; want %d", alerts, host, MaxAlertsPerHost)
	}
	ex, err := d.ExplainHost(ctx, host)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(fmt.Sprint(ex)); n > 64<<10 {
		t.Errorf("explain is %d bytes long after the flood", n)
	}
	evs, err := d.db.Journal(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	dropped := 0
	for _, e := range evs {
		if e.Reason == "alerts_dropped" {
			dropped++
		}
	}
	if dropped == 0 {
		t.Fatal("no journal line says alerts were dropped")
	}
}

// TestAlertsExpireWithoutRepeat: a firing alert counts while Alertmanager repeats it; once no
// notification of it arrived for alerts.alertmanager.expire_after, it stops counting, the host
// record drops it and the journal says why. An alert stored without an expiry gets one on load.
func TestAlertsExpireWithoutRepeat(t *testing.T) {
	ctx := context.Background()
	cfg := fleetConfig(t.TempDir(), 1)
	ttl := cfg.Alerts.Alertmanager.ExpireAfter.D()
	if ttl != config.DefaultAlertExpireAfter {
		t.Fatalf("default expire_after %s, want %s", ttl, config.DefaultAlertExpireAfter)
	}
	clk := &fakeClock{now: time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)}
	d := newTestDaemon(t, cfg, clk)
	defer d.db.Close()
	w := d.hosts[0]
	host := w.cfg.Name
	alert := api.AlertObservation{Host: host, Fingerprint: "fp1", Name: "NodeDiskErrors", Firing: true, Severity: "critical",
		Summary: "sdb errors", StartsAt: clk.Now()}
	counted := func() bool {
		d.decideAll(ctx)
		d.mu.Lock()
		defer d.mu.Unlock()
		for _, o := range d.observations(w, clk.Now()) {
			if o.Key == alertKeyPrefix+"fp1" {
				return true
			}
		}
		return false
	}
	stored := func() bool {
		recs, err := d.db.ListHosts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			for _, o := range r.Observations {
				if r.Name == host && o.Key == alertKeyPrefix+"fp1" {
					return true
				}
			}
		}
		return false
	}
	if err := d.ReceiveAlerts(ctx, []api.AlertObservation{alert}); err != nil {
		t.Fatal(err)
	}
	// Alertmanager repeats it just before it would lapse, twice: it keeps counting.
	for range 2 {
		clk.Add(ttl - time.Minute)
		if !counted() {
			t.Fatalf("the alert stopped counting %s after its latest notification; expire_after is %s", ttl-time.Minute, ttl)
		}
		if err := d.ReceiveAlerts(ctx, []api.AlertObservation{alert}); err != nil {
			t.Fatal(err)
		}
	}
	clk.Add(ttl - time.Second)
	if !counted() || !stored() {
		t.Fatal("the repeated alert lapsed before expire_after")
	}
	// No repeat: at expire_after it stops counting, in memory and in the store.
	clk.Add(time.Second)
	if counted() {
		t.Fatal("the alert still counts expire_after after its latest notification")
	}
	if stored() {
		t.Error("the host record still holds the lapsed alert")
	}
	evs, err := d.db.Journal(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var expired []string
	for _, e := range evs {
		if e.Reason == "alert_expired" {
			expired = append(expired, e.Message)
		}
	}
	if len(expired) != 1 || !strings.Contains(expired[0], "alert NodeDiskErrors") || !strings.Contains(expired[0], "expire_after") {
		t.Errorf("journal lines for the lapsed alert: %q", expired)
	}

	// An alert stored by an older version, without an expiry, lapses expire_after after load.
	var h healthState
	at := clk.Now()
	h.restore([]store.Observation{
		{Source: policy.SourceAlertmanager, Key: alertKeyPrefix + "old", Severity: "critical", At: at.Add(-48 * time.Hour)},
		{Source: policy.SourceLibvirt, Key: "io:u1", Severity: "critical", At: at, Expires: at.Add(time.Minute)},
	}, at.Add(ttl))
	if got := h.events[alertKeyPrefix+"old"].Expires; !got.Equal(at.Add(ttl)) {
		t.Errorf("a stored alert without expiry expires at %s, want %s", got, at.Add(ttl))
	}
	if got := h.events["io:u1"].Expires; !got.Equal(at.Add(time.Minute)) {
		t.Errorf("a stored I/O error's expiry changed to %s", got)
	}
}
