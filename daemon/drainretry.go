package daemon

import (
	"fmt"
	"time"

	"github.com/lifeboat-ha/lifeboat/api"
	"github.com/lifeboat-ha/lifeboat/migrate"
	"github.com/lifeboat-ha/lifeboat/policy"
)

// Drain retry backoff: a VM whose live migration off a draining or evacuating host failed is tried
// again after drainBackoffBase, doubling with each further failure up to drainBackoffMax, instead
// of every tick of the drain loop.
const (
	drainBackoffBase = 5 * time.Second
	drainBackoffMax  = 5 * time.Minute
	// drainHopeless is the number of failures in a row after which a VM counts as one that cannot
	// leave (the CLI stops waiting for it); the daemon still retries it with the backoff.
	drainHopeless = 3
)

// drainBackoff is how long to wait after the n-th failure in a row (n >= 1).
func drainBackoff(n int) time.Duration {
	d := drainBackoffBase
	for i := 1; i < n && d < drainBackoffMax; i++ {
		d *= 2
	}
	return min(d, drainBackoffMax)
}

// drainRetry is one VM's record of failed migrations.
type drainRetry struct {
	failures int
	until    time.Time
	to       string
	reason   string
}

// drainRetries remembers, per VM UUID, the migrations that failed, from the engine's list. It is
// owned by the drain loop's goroutine.
type drainRetries struct {
	counted map[string]bool
	byVM    map[string]*drainRetry
}

func newDrainRetries() *drainRetries {
	return &drainRetries{counted: map[string]bool{}, byVM: map[string]*drainRetry{}}
}

// observe counts the migrations that have ended since the last call: a success clears the VM's
// record, a failure, abort or cancel adds one failure and a backoff from its end.
func (r *drainRetries) observe(ms []migrate.Migration) {
	listed := make(map[string]bool, len(ms))
	for _, m := range ms {
		listed[m.ID] = true
		if !m.State.Done() || r.counted[m.ID] {
			continue
		}
		r.counted[m.ID] = true
		if m.State == migrate.StateSucceeded {
			delete(r.byVM, m.UUID)
			continue
		}
		e := r.byVM[m.UUID]
		if e == nil {
			e = &drainRetry{}
			r.byVM[m.UUID] = e
		}
		e.failures++
		e.until = m.Ended.Add(drainBackoff(e.failures))
		e.to = m.To
		e.reason = fmt.Sprintf("%s: %s", m.State, orNone(m.Error))
	}
	for id := range r.counted {
		if !listed[id] { // the engine has forgotten it; so can we
			delete(r.counted, id)
		}
	}
}

// blocked returns the VM's record when it is still backing off at now.
func (r *drainRetries) blocked(uuid string, now time.Time) (drainRetry, bool) {
	e := r.byVM[uuid]
	if e == nil || !now.Before(e.until) {
		return drainRetry{}, false
	}
	return *e, true
}

// stuck says why a VM is not leaving, for the host view, or false when it is free to go.
func (r *drainRetries) stuck(vm, uuid string) (api.StuckVM, bool) {
	e := r.byVM[uuid]
	if e == nil {
		return api.StuckVM{}, false
	}
	return api.StuckVM{VM: vm, Reason: fmt.Sprintf("its live migration to %s failed %d time(s) in a row (last: %s)", e.to, e.failures, e.reason),
		Failures: e.failures, RetryAt: e.until, Hopeless: e.failures >= drainHopeless}, true
}

// stuckVMs lists the VMs of an evacuation that cannot leave their host: those that stay (no
// room, not running: hopeless) and those whose migrations have failed, with why.
func stuckVMs(snap policy.Snapshot, ev policy.Evacuation, retries *drainRetries) []api.StuckVM {
	var out []api.StuckVM
	stays := map[string]bool{}
	for _, st := range ev.Stays {
		stays[st.VM] = true
		out = append(out, api.StuckVM{VM: st.VM, Reason: st.Message, Hopeless: true})
	}
	for _, vm := range snap.VMs {
		if vm.Current != ev.Host || stays[vm.Name] {
			continue
		}
		if sv, ok := retries.stuck(vm.Name, vm.UUID); ok {
			out = append(out, sv)
		}
	}
	return out
}
