package daemon

import "github.com/prometheus/client_golang/prometheus"

// guestMetrics are the metrics of the guest-liveness witness. Partitioned hosts are
// lifeboat_hosts{state="partitioned"}.
type guestMetrics struct {
	guestProbes *prometheus.CounterVec
}

func newGuestMetrics(reg prometheus.Registerer) guestMetrics {
	m := guestMetrics{
		guestProbes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lifeboat_guest_probes_total",
			Help: "Probes of guests on their own network (while their host's libvirt does not answer), by outcome."}, []string{"outcome"}),
	}
	reg.MustRegister(m.guestProbes)
	return m
}
