package daemon

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// The metrics pass the same lint as `promtool check metrics`.
func TestMetricsLint(t *testing.T) {
	m := newMetrics()
	m.probes.WithLabelValues("ok").Inc()
	m.probeRTT.Observe(0.001)
	m.bmcQueries.WithLabelValues("ok").Inc()
	m.verdicts.WithLabelValues("healthy").Inc()
	m.journal.WithLabelValues("verdict").Inc()
	m.migDur.Observe(3)
	m.migDown.Observe(0.2)
	m.migBytes.Add(1 << 20)
	m.migrations.WithLabelValues("succeeded").Inc()
	m.setHostStates(map[string]policy.HostState{"h1": policy.Healthy, "h2": policy.Failed, "h3": policy.Healthy})
	problems, err := testutil.GatherAndLint(m.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("metric %s: %s", p.Metric, p.Text)
	}
	want := `
# HELP lifeboat_hosts Hosts in each verdict state.
# TYPE lifeboat_hosts gauge
lifeboat_hosts{state="degraded"} 0
lifeboat_hosts{state="failed"} 1
lifeboat_hosts{state="fenced"} 0
lifeboat_hosts{state="healthy"} 2
lifeboat_hosts{state="maintenance"} 0
lifeboat_hosts{state="partitioned"} 0
lifeboat_hosts{state="recovering"} 0
lifeboat_hosts{state="suspect"} 0
lifeboat_hosts{state="unknown"} 0
lifeboat_hosts{state="unreachable"} 0
`
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "lifeboat_hosts"); err != nil {
		t.Error(err)
	}
}

// MetricNames lists the families of a daemon's registry, vectors without series included.
func TestMetricNames(t *testing.T) {
	names := MetricNames()
	for _, want := range []string{"lifeboat_build_info", "lifeboat_recovery_frozen", "lifeboat_webhook_failures_total",
		"lifeboat_leader", "lifeboat_store_errors_total", "lifeboat_fence_attempts_total", "lifeboat_hosts",
		"lifeboat_failover_capacity_hosts", "lifeboat_plans_pending", "go_goroutines", "process_start_time_seconds"} {
		if !slices.Contains(names, want) {
			t.Errorf("MetricNames lacks %s: %v", want, names)
		}
	}
	// Every name is one a gather of the same registry would use once its vectors have series.
	m := newMetrics()
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if !slices.Contains(names, f.GetName()) {
			t.Errorf("gathered %s, not in MetricNames", f.GetName())
		}
	}
}

// lifeboat_build_info says which build runs.
func TestBuildInfoMetric(t *testing.T) {
	m := newMetrics()
	want := fmt.Sprintf(`
# HELP lifeboat_build_info Always 1; the labels say which lifeboat build runs, and with which Go.
# TYPE lifeboat_build_info gauge
lifeboat_build_info{goversion=%q,version=%q} 1
`, runtime.Version(), Version)
	if err := testutil.GatherAndCompare(m.reg, strings.NewReader(want), "lifeboat_build_info"); err != nil {
		t.Error(err)
	}
}

// MetricNames is what a real daemon's registry holds: the same families, the webhook's included.
func TestMetricNamesOfARealDaemon(t *testing.T) {
	cfg := fleetConfig(t.TempDir(), 2)
	cfg.Notify.WebhookURL = "http://127.0.0.1:1/hook"
	d := newTestDaemon(t, cfg, &fakeClock{now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)})
	defer d.db.Close()
	if got, want := d.m.reg.names(), MetricNames(); !slices.Equal(got, want) {
		t.Errorf("a daemon's registry: %v\nMetricNames: %v", got, want)
	}
	fams, err := d.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := MetricNames()
	for _, f := range fams {
		if !slices.Contains(names, f.GetName()) {
			t.Errorf("a daemon exports %s, not in MetricNames", f.GetName())
		}
	}
	if d.webhook.Metrics == nil {
		t.Error("the daemon's webhook counts no failures")
	}
}
