package sim

import (
	"fmt"
	"slices"
)

// hostTruth is what is really going on with a host, whatever the controller believes.
type hostTruth struct {
	on, hung, libvirtdDown bool
	// partition cuts the management link; partitionAll the guests' network too.
	partition, partitionAll bool
	bmcDown                 bool
	// fenceDevice is "" (works), "error" or "hang".
	fenceDevice string
}

// world is the simulated truth: hosts, and on which hosts each VM's process runs.
type world struct {
	hosts map[string]*hostTruth
	// copies lists, per VM, the hosts where a process of it exists.
	copies map[string][]string
	// isolated cuts the controller off from every host, BMC and guest.
	isolated bool
	// panicked are the VMs whose guest panicked (kept crashed where it runs).
	panicked map[string]bool
}

func newWorld(c Cluster) *world {
	w := &world{hosts: map[string]*hostTruth{}, copies: map[string][]string{}, panicked: map[string]bool{}}
	for _, h := range c.Hosts {
		w.hosts[h.Name] = &hostTruth{on: true}
	}
	for _, vm := range c.VMs {
		w.copies[vm.Name] = []string{vm.Host}
	}
	return w
}

// apply changes the world for a physical event; it returns an error for an event that makes
// no sense in the current state (the scenario is wrong).
func (w *world) apply(e Event) error {
	h := w.hosts[e.Host]
	switch e.Verb {
	case PowerOff:
		w.powerOff(e.Host)
	case PowerOn:
		if h.on {
			return fmt.Errorf("%s: power-on %s, but it is on", e.Field, e.Host)
		}
		*h = hostTruth{on: true, partition: h.partition, partitionAll: h.partitionAll, bmcDown: h.bmcDown, fenceDevice: h.fenceDevice}
	case Hang:
		h.hung = true
	case Unhang:
		h.hung = false
	case Partition:
		h.partition, h.partitionAll = true, false
	case PartitionAll:
		h.partition, h.partitionAll = true, true
	case Heal:
		h.partition, h.partitionAll = false, false
	case CrashLibvirtd:
		h.libvirtdDown = true
	case StartLibvirtd:
		h.libvirtdDown = false
	case BMCDown:
		h.bmcDown = true
	case BMCUp:
		h.bmcDown = false
	case FenceFails:
		h.fenceDevice = "error"
	case FenceHangs:
		h.fenceDevice = "hang"
	case FenceWorks:
		h.fenceDevice = ""
	case PanicGuest:
		if len(w.runningOn(e.VM)) == 0 {
			return fmt.Errorf("%s: panic %s, but it runs nowhere", e.Field, e.VM)
		}
		w.panicked[e.VM] = true
	case Isolate:
		w.isolated = true
	case Unisolate:
		w.isolated = false
	}
	return nil
}

// powerOff cuts a host's power: every guest process on it dies.
func (w *world) powerOff(host string) {
	w.hosts[host].on = false
	w.hosts[host].hung = false
	for vm, hs := range w.copies {
		w.copies[vm] = slices.DeleteFunc(hs, func(h string) bool { return h == host })
		if len(w.copies[vm]) == 0 {
			delete(w.panicked, vm) // its next start is a fresh boot
		}
	}
}

// runningOn lists the powered-on hosts where the VM has a process.
func (w *world) runningOn(vm string) []string {
	var out []string
	for _, h := range w.copies[vm] {
		if w.hosts[h].on {
			out = append(out, h)
		}
	}
	return out
}

// libvirtReachable reports whether the controller can talk to the host's libvirtd.
func (w *world) libvirtReachable(host string) bool {
	h := w.hosts[host]
	return !w.isolated && h.on && !h.hung && !h.partition && !h.libvirtdDown
}

// bmcReachable reports whether the controller can talk to the host's BMC.
func (w *world) bmcReachable(host string) bool {
	return !w.isolated && !w.hosts[host].bmcDown
}

// guestsAnswer reports whether the host's guests answer the controller on their own network.
func (w *world) guestsAnswer(host string) bool {
	h := w.hosts[host]
	return !w.isolated && h.on && !h.hung && !h.partitionAll
}
