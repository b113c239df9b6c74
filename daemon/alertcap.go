package daemon

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
	"github.com/lifeboat-ha/lifeboat/store"
)

// MaxAlertsPerHost bounds the distinct Alertmanager alerts latched per host. Beyond it, the
// oldest (by start time) are dropped, with a journal line, so that a flood of distinct alerts
// cannot grow the store, the health score or 'lifeboat explain' without bound. One critical
// alert is enough to degrade a host, so dropping old ones does not hide a degradation.
const MaxAlertsPerHost = 64

// alertKeyPrefix starts the key of every latched Alertmanager observation.
const alertKeyPrefix = "alert:"

// capAlerts drops a host's oldest latched alerts beyond MaxAlertsPerHost and returns the
// journal entry saying so (none when nothing was dropped). Caller holds d.mu.
func (h *healthState) capAlerts(host string, now time.Time) []store.Entry {
	var alerts []policy.Observation
	for k, o := range h.events {
		if strings.HasPrefix(k, alertKeyPrefix) {
			alerts = append(alerts, o)
		}
	}
	if len(alerts) <= MaxAlertsPerHost {
		return nil
	}
	// Oldest first; ties by key, so the choice does not depend on map order.
	slices.SortFunc(alerts, func(a, b policy.Observation) int {
		return cmp.Or(a.At.Compare(b.At), strings.Compare(a.Key, b.Key))
	})
	drop := alerts[:len(alerts)-MaxAlertsPerHost]
	for _, o := range drop {
		delete(h.events, o.Key)
	}
	return []store.Entry{{At: now, Kind: "observation", Host: host, Reason: "alerts_dropped",
		Message: fmt.Sprintf("%d alerts on %s dropped, the oldest first: a host keeps at most %d distinct alerts (the oldest dropped: %s)",
			len(drop), host, MaxAlertsPerHost, drop[0].Reason)}}
}
