package sim

import (
	"fmt"
	"slices"
	"strings"
)

// Verb is what a scripted event does.
type Verb string

// Events that change the simulated world (the truth the controller observes).
const (
	// PowerOff cuts the host's power: its guests die, libvirt times out, the BMC reads off.
	PowerOff Verb = "power-off"
	// PowerOn boots the host: libvirtd answers again, with no guest running (a cold boot).
	PowerOn Verb = "power-on"
	// Hang freezes every process of the host (libvirt times out, the BMC reads on, the guests
	// stop answering); Unhang thaws them.
	Hang   Verb = "hang"
	Unhang Verb = "unhang"
	// Partition cuts the host's management link only: libvirt times out, its BMC (on its own
	// network) and its guests (on theirs) still answer. PartitionAll cuts the guests' network
	// too. Heal ends either.
	Partition    Verb = "partition"
	PartitionAll Verb = "partition-all"
	Heal         Verb = "heal"
	// CrashLibvirtd stops libvirtd only (probes are refused, guests keep running);
	// StartLibvirtd starts it again.
	CrashLibvirtd Verb = "crash-libvirtd"
	StartLibvirtd Verb = "start-libvirtd"
	// BMCDown and BMCUp stop and restart the host's BMC (it stops answering).
	BMCDown Verb = "bmc-down"
	BMCUp   Verb = "bmc-up"
	// FenceFails makes the host's fence device answer errors; FenceHangs makes it hang (the
	// fence times out after recovery.fence_timeout); FenceWorks repairs it.
	FenceFails Verb = "fence-fails"
	FenceHangs Verb = "fence-hangs"
	FenceWorks Verb = "fence-works"
	// Fill uses up the host's free memory with an unprotected VM; Free removes it.
	Fill Verb = "fill"
	Free Verb = "free"
	// Isolate cuts the controller itself off: no host, BMC or guest answers it. Unisolate
	// ends it.
	Isolate   Verb = "isolate"
	Unisolate Verb = "unisolate"
	// ControllerRestart restarts the controller: its memory (detector tracks, signals, the
	// fences and restarts it runs, the holds it logged) is lost, mid-job outcomes with it; the
	// store (fence records, freeze, restart queue, plans, VM records, last verdicts) is kept.
	ControllerRestart Verb = "controller-restart"
	// PanicGuest makes a VM's guest kernel panic (pvpanic; the domain is kept crashed, as with
	// on_crash preserve): libvirt still answers, the guest does not.
	PanicGuest Verb = "panic"
)

// Operator events (taken after the controller's observations of the step).
const (
	// ConfirmOff is `lifeboat host confirm-off HOST`, refused like the daemon refuses it.
	ConfirmOff Verb = "confirm-off"
	// Approve and Reject decide the open recovery plan of the host.
	Approve Verb = "approve"
	Reject  Verb = "reject"
	// Disarm and Arm stop and resume every automatic action.
	Disarm Verb = "disarm"
	Arm    Verb = "arm"
)

var hostVerbs = []Verb{PowerOff, PowerOn, Hang, Unhang, Partition, PartitionAll, Heal, CrashLibvirtd, StartLibvirtd,
	BMCDown, BMCUp, FenceFails, FenceHangs, FenceWorks, Fill, Free, ConfirmOff, Approve, Reject}

var clusterVerbs = []Verb{Isolate, Unisolate, ControllerRestart, Disarm, Arm}

// vmVerbs take a VM instead of a host.
var vmVerbs = []Verb{PanicGuest}

// operator reports events a person does through the API (after the step's observations).
func (v Verb) operator() bool {
	switch v {
	case ConfirmOff, Approve, Reject, Disarm, Arm:
		return true
	}
	return false
}

// parseDo reads an event's "do" text: a verb, then a host (or a VM) for the verbs that take
// one.
func parseDo(do string) (Verb, string, error) {
	f := strings.Fields(do)
	if len(f) == 0 {
		return "", "", fmt.Errorf("missing: what happens, such as \"power-off h1\"")
	}
	v := Verb(f[0])
	switch {
	case slices.Contains(hostVerbs, v):
		if len(f) != 2 {
			return "", "", fmt.Errorf("%q: %s takes one host, such as \"%s h1\"", do, v, v)
		}
		return v, f[1], nil
	case slices.Contains(vmVerbs, v):
		if len(f) != 2 {
			return "", "", fmt.Errorf("%q: %s takes one VM, such as \"%s g1\"", do, v, v)
		}
		return v, f[1], nil
	case slices.Contains(clusterVerbs, v):
		if len(f) != 1 {
			return "", "", fmt.Errorf("%q: %s takes no host", do, v)
		}
		return v, "", nil
	}
	var all []string
	for _, x := range slices.Concat(hostVerbs, vmVerbs, clusterVerbs) {
		all = append(all, string(x))
	}
	return "", "", fmt.Errorf("unknown event %q: want one of %s", f[0], strings.Join(all, ", "))
}
