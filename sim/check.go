package sim

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lifeboat-ha/lifeboat/policy"
)

// check runs the invariant checker (restarts before a fence are checked as they start):
//   - no VM runs on two powered-on hosts;
//   - no protected VM is forgotten: its record says it runs nowhere, it runs nowhere, and no
//     restart is queued or running for it;
//   - at the end, no protected VM is lost: every one runs, or is queued, stuck or held back
//     with a reason the last reconcile gave;
//   - at the end, no protected VM stays crashed (its guest panicked) unless its restart in
//     place runs or the last reconcile says why not.
func (r *run) check(now time.Time, final bool) {
	for _, vm := range r.c.vms {
		if vm.filler {
			continue
		}
		on := r.w.runningOn(vm.name)
		if len(on) > 1 {
			r.violate(now, fmt.Sprintf("%s runs on %s at once", vm.name, strings.Join(on, " and ")))
		}
		if final && vm.protected && r.w.panicked[vm.name] && r.c.resetting[vm.uuid] == nil && !r.accounted(vm) {
			r.violate(now, fmt.Sprintf("%s stays crashed and nothing reports it", vm.name))
		}
		if !vm.protected || len(on) > 0 {
			continue
		}
		_, queued := r.c.guards.Restarts[vm.uuid]
		if vm.current == "" && !queued && r.c.restarting[vm.uuid] == nil {
			r.violate(now, fmt.Sprintf("%s is forgotten: it runs nowhere, its record says so, and no restart is queued", vm.name))
		}
		if final && !queued && !r.accounted(vm) {
			r.violate(now, fmt.Sprintf("%s is lost: it runs nowhere and nothing reports it", vm.name))
		}
	}
}

// accounted reports whether the last reconcile pass (or a job) speaks for a VM that is down.
func (r *run) accounted(vm *vmRecord) bool {
	if vm.current == "" {
		return false
	}
	if r.c.fencing[vm.current] != nil || r.c.restarting[vm.uuid] != nil {
		return true
	}
	if f := r.c.guards.Freeze; f.Frozen && slices.Contains(f.Hosts, vm.current) {
		return true
	}
	return slices.ContainsFunc(r.last, func(a policy.Action) bool {
		return a.VM == vm.name || (a.Host == vm.current && a.Kind != policy.ActClearFence)
	})
}
