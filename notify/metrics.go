package notify

import "github.com/prometheus/client_golang/prometheus"

// FailureStage says where a delivery failed, the label of lifeboat_webhook_failures_total.
type FailureStage string

// The stages of a failed delivery.
const (
	// StageRetry is a try that failed and will be retried.
	StageRetry FailureStage = "retry"
	// StageFinal is a notification given up on after its last try.
	StageFinal FailureStage = "final"
	// StageQueueFull is a notification dropped unsent because the queue was full.
	StageQueueFull FailureStage = "queue_full"
)

// Metrics count the webhook's failed deliveries.
type Metrics struct {
	failures *prometheus.CounterVec
}

// NewMetrics registers the webhook's metrics on reg, every stage at 0.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_webhook_failures_total",
		Help: "Failed webhook deliveries, by stage: retry (a try failed, another follows), final (given up after the last try), queue_full (dropped unsent)."},
		[]string{"stage"})}
	for _, s := range []FailureStage{StageRetry, StageFinal, StageQueueFull} {
		m.failures.WithLabelValues(string(s))
	}
	reg.MustRegister(m.failures)
	return m
}

// failed counts one failure at stage s; a nil m counts nothing.
func (m *Metrics) failed(s FailureStage) {
	if m != nil {
		m.failures.WithLabelValues(string(s)).Inc()
	}
}
