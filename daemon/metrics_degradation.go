package daemon

import "github.com/prometheus/client_golang/prometheus"

// degradation are the metrics of degradation, failback and the approval mode. Degraded hosts
// are lifeboat_hosts{state="degraded"}.
type degradation struct {
	healthScore  *prometheus.GaugeVec
	evacuations  prometheus.Counter
	failbacks    *prometheus.CounterVec
	plans        *prometheus.CounterVec
	plansPending prometheus.Gauge
	planDecision *prometheus.HistogramVec
}

func newDegradationMetrics(reg prometheus.Registerer) degradation {
	m := degradation{
		healthScore: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "lifeboat_host_health_score",
			Help: "Each host's health score: the sum of its active health observations (warning 50, critical 100)."}, []string{"host"}),
		evacuations: prometheus.NewCounter(prometheus.CounterOpts{Name: "lifeboat_evacuations_total",
			Help: "Evacuations of degraded hosts started."}),
		failbacks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_failbacks_total",
			Help: "Failback migrations of VMs to their home hosts, by outcome."}, []string{"outcome"}),
		plans: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_plans_total",
			Help: "Plans made under the approval mode, by kind and first state (pending or notified)."}, []string{"kind", "state"}),
		plansPending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lifeboat_plans_pending",
			Help: "Plans waiting for a decision."}),
		planDecision: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lifeboat_plan_decision_seconds",
			Help:    "Time from a plan to its decision (approved, rejected, or deadline), by decision.",
			Buckets: prometheus.ExponentialBuckets(1, 3, 9)}, []string{"decision"}),
	}
	reg.MustRegister(m.healthScore, m.evacuations, m.failbacks, m.plans, m.plansPending, m.planDecision)
	return m
}

func (m *degradation) setPending(n int) { m.plansPending.Set(float64(n)) }
