package daemon

import (
	"math"
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/lifeboat-ha/lifeboat/notify"
	"github.com/lifeboat-ha/lifeboat/policy"
)

// metrics are the daemon's Prometheus metrics, on a private registry.
type metrics struct {
	reg        *registry
	probes     *prometheus.CounterVec
	probeRTT   prometheus.Histogram
	bmcQueries *prometheus.CounterVec
	// bmcEvents counts events from BMCs (streamed or pushed); bmcStreamUp is 1 while a stream is
	// open or a push subscription held.
	bmcEvents   *prometheus.CounterVec
	bmcStreamUp *prometheus.GaugeVec
	verdicts    *prometheus.CounterVec
	decisions   prometheus.Counter
	journal     *prometheus.CounterVec
	hostState   *prometheus.GaugeVec
	migDur      prometheus.Histogram
	migDown     prometheus.Histogram
	migBytes    prometheus.Counter
	migrations  *prometheus.CounterVec

	detectSeconds  prometheus.Histogram
	fenceAttempts  *prometheus.CounterVec
	fenceSeconds   prometheus.Histogram
	restartSeconds prometheus.Histogram
	recoveries     *prometheus.CounterVec
	guestResets    *prometheus.CounterVec
	recoveryPasses *prometheus.CounterVec
	storeErrors    prometheus.Counter
	frozen         prometheus.Gauge
	// capacity is the failover capacity (NaN until the first figure).
	capacity prometheus.Gauge
	// webhook counts the webhook's failed deliveries (registered whether or not one is configured).
	webhook *notify.Metrics

	degradation
	guestMetrics
}

var allStates = []policy.HostState{policy.Healthy, policy.Suspect, policy.Unreachable, policy.Degraded,
	policy.Failed, policy.Fenced, policy.Recovering, policy.Maintenance, policy.Unknown, policy.Partitioned}

func newMetrics() *metrics {
	m := &metrics{
		reg: &registry{Registry: prometheus.NewRegistry()},
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_libvirt_probes_total",
			Help: "Probes of hosts' libvirt endpoints, by outcome."}, []string{"outcome"}),
		probeRTT: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lifeboat_libvirt_probe_rtt_seconds",
			Help:    "Round-trip time of successful libvirt probes.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9)}),
		bmcQueries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_bmc_queries_total",
			Help: "Queries of hosts' BMCs for power and health, by outcome."}, []string{"outcome"}),
		bmcEvents: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_bmc_events_total",
			Help: "Events received from hosts' BMCs, on their event streams (Redfish SSE) or pushed to the API (Redfish event subscriptions), by host."}, []string{"host"}),
		bmcStreamUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_bmc_event_stream_up",
			Help: "1 while the daemon holds an open event stream (Redfish SSE) to the host's BMC, or a push subscription the BMC has confirmed, else 0; only hosts whose BMC events are on have a series."}, []string{"host"}),
		verdicts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_host_verdict_changes_total",
			Help: "Changes of host verdicts, by the new state."}, []string{"state"}),
		decisions: prometheus.NewCounter(prometheus.CounterOpts{Name: "lifeboat_host_decisions_total",
			Help: "Runs of the failure detector over one host: each when one of the host's signals changed or a clock of its verdict ran out, never for the whole fleet at once."}),
		journal: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_journal_entries_total",
			Help: "Entries appended to the journal, by kind."}, []string{"kind"}),
		hostState: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_hosts",
			Help: "Hosts in each verdict state."}, []string{"state"}),
	}
	m.migDur = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lifeboat_migration_duration_seconds",
		Help: "Duration of finished live migrations.", Buckets: prometheus.ExponentialBuckets(0.5, 2, 10)})
	m.migDown = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lifeboat_migration_downtime_seconds",
		Help: "Guest downtime of successful live migrations, as libvirt reports it.", Buckets: prometheus.ExponentialBuckets(0.005, 2, 10)})
	m.migBytes = prometheus.NewCounter(prometheus.CounterOpts{Name: "lifeboat_migration_bytes_total",
		Help: "Bytes moved by live migrations."})
	m.migrations = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_migrations_total",
		Help: "Finished live migrations, by outcome."}, []string{"outcome"})
	m.reg.MustRegister(m.migDur, m.migDown, m.migBytes, m.migrations)
	m.detectSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lifeboat_detection_seconds",
		Help: "Time from a host's last good libvirt probe to a failed or unreachable verdict.", Buckets: prometheus.ExponentialBuckets(0.25, 2, 8)})
	m.fenceAttempts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_fence_attempts_total",
		Help: "Fence attempts, by method and result."}, []string{"method", "result"})
	m.fenceSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lifeboat_fence_seconds",
		Help: "Time to a verified fence.", Buckets: prometheus.ExponentialBuckets(0.1, 2, 10)})
	m.restartSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "lifeboat_restart_seconds",
		Help: "Time to restart one VM on its new host.", Buckets: prometheus.ExponentialBuckets(0.1, 2, 10)})
	m.recoveries = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_recoveries_total",
		Help: "Outcomes of VM restarts after a host failure: restarted, retry, stuck (no host can take the VM now)."}, []string{"outcome"})
	m.guestResets = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_guest_resets_total",
		Help: "In-place restarts of VMs whose guest crashed on a healthy host (VM-level monitoring), by fault and result (restarted, failed)."},
		[]string{"fault", "result"})
	m.recoveryPasses = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_recovery_passes_total",
		Help: "Passes of the recovery loop: run (snapshot and reconcile), skipped (a quiet cluster between backstop passes)."},
		[]string{"pass"})
	m.storeErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "lifeboat_store_errors_total",
		Help: "Store writes that failed; the action each one was to record did not run."})
	m.frozen = prometheus.NewGauge(prometheus.GaugeOpts{Name: "lifeboat_recovery_frozen",
		Help: "1 while automatic recovery is frozen (mass failure or controller isolation), else 0."})
	m.capacity = prometheus.NewGauge(prometheus.GaugeOpts{Name: "lifeboat_failover_capacity_hosts",
		Help: "Host failures the cluster absorbs with every protected VM restarted (lifeboat capacity); NaN until every host has been heard from."})
	m.capacity.Set(math.NaN())
	for _, o := range []string{"restarted", "retry", "stuck"} {
		m.recoveries.WithLabelValues(o) // at 0 from the start, for alerts on increase()
	}
	m.reg.MustRegister(m.detectSeconds, m.fenceAttempts, m.fenceSeconds, m.restartSeconds, m.recoveries, m.guestResets, m.recoveryPasses, m.storeErrors, m.frozen, m.capacity)
	buildInfo := prometheus.NewGauge(prometheus.GaugeOpts{Name: "lifeboat_build_info",
		Help:        "Always 1; the labels say which lifeboat build runs, and with which Go.",
		ConstLabels: prometheus.Labels{"version": Version, "goversion": runtime.Version()}})
	buildInfo.Set(1)
	m.reg.MustRegister(buildInfo)
	m.webhook = notify.NewMetrics(m.reg)
	m.degradation = newDegradationMetrics(m.reg)
	m.guestMetrics = newGuestMetrics(m.reg)
	m.reg.MustRegister(m.probes, m.probeRTT, m.bmcQueries, m.bmcEvents, m.bmcStreamUp, m.verdicts, m.decisions, m.journal, m.hostState,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// setHostStates publishes how many hosts are in each state.
func (m *metrics) setHostStates(states map[string]policy.HostState) {
	counts := map[policy.HostState]int{}
	for _, s := range states {
		counts[s]++
	}
	for _, s := range allStates {
		m.hostState.WithLabelValues(string(s)).Set(float64(counts[s]))
	}
}

// moveHostState moves one host from one state's count to another's (an empty state is not
// counted: the host has no verdict yet).
func (m *metrics) moveHostState(from, to policy.HostState) {
	if from == to {
		return
	}
	if from != "" {
		m.hostState.WithLabelValues(string(from)).Dec()
	}
	if to != "" {
		m.hostState.WithLabelValues(string(to)).Inc()
	}
}

// Registry is the daemon's metrics registry, for /metrics.
func (d *Daemon) Registry() *prometheus.Registry { return d.m.reg.Registry }
