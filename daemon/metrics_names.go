package daemon

import (
	"fmt"
	"regexp"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// registry is the daemon's Prometheus registry. It remembers every collector registered on it,
// so that MetricNames can list each family a daemon exports, even a vector with no series yet
// (which a Gather leaves out).
type registry struct {
	*prometheus.Registry
	mu         sync.Mutex
	collectors []prometheus.Collector
}

// Register registers c and remembers it.
func (r *registry) Register(c prometheus.Collector) error {
	if err := r.Registry.Register(c); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	r.mu.Lock()
	r.collectors = append(r.collectors, c)
	r.mu.Unlock()
	return nil
}

// MustRegister registers cs and remembers them; it panics on a duplicate or invalid collector.
func (r *registry) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			panic(err)
		}
	}
}

// fqNameRE takes a metric's name out of prometheus.Desc.String(), which has no accessor for it.
var fqNameRE = regexp.MustCompile(`fqName: "([^"]+)"`)

// names lists the names of the metric families of every registered collector, sorted.
func (r *registry) names() []string {
	r.mu.Lock()
	cs := slices.Clone(r.collectors)
	r.mu.Unlock()
	ch := make(chan *prometheus.Desc)
	go func() {
		for _, c := range cs {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		if m := fqNameRE.FindStringSubmatch(d.String()); m != nil {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// MetricNames returns the name of every metric family a daemon exports on /metrics (histograms
// by their base name), built from the same registry a daemon makes: its own metrics, controller
// HA, the disarm switch, the webhook's, and the Go and process collectors. Dashboards and alert rules are checked
// against it.
func MetricNames() []string {
	m := newMetrics()
	newHAMetrics(m.reg)
	newDisarmGauge(m.reg)
	return m.reg.names()
}
