package daemon

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
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
