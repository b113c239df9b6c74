package hypervisor

import (
	"fmt"

	"libvirt.org/go/libvirt"
)

// Reasons per state, named as libvirt's constants are (VIR_DOMAIN_PAUSED_IOERROR → "ioerror").
var (
	pausedReasons = map[libvirt.DomainPausedReason]string{
		libvirt.DOMAIN_PAUSED_UNKNOWN: "unknown", libvirt.DOMAIN_PAUSED_USER: "user",
		libvirt.DOMAIN_PAUSED_MIGRATION: "migration", libvirt.DOMAIN_PAUSED_SAVE: "save",
		libvirt.DOMAIN_PAUSED_DUMP: "dump", libvirt.DOMAIN_PAUSED_IOERROR: ReasonIOError,
		libvirt.DOMAIN_PAUSED_WATCHDOG: "watchdog", libvirt.DOMAIN_PAUSED_FROM_SNAPSHOT: "from_snapshot",
		libvirt.DOMAIN_PAUSED_SHUTTING_DOWN: "shutting_down", libvirt.DOMAIN_PAUSED_SNAPSHOT: "snapshot",
		libvirt.DOMAIN_PAUSED_CRASHED: "crashed", libvirt.DOMAIN_PAUSED_STARTING_UP: "starting_up",
		libvirt.DOMAIN_PAUSED_POSTCOPY: "postcopy", libvirt.DOMAIN_PAUSED_POSTCOPY_FAILED: "postcopy_failed",
		libvirt.DOMAIN_PAUSED_API_ERROR: "api_error",
	}
	runningReasons = map[libvirt.DomainRunningReason]string{
		libvirt.DOMAIN_RUNNING_UNKNOWN: "unknown", libvirt.DOMAIN_RUNNING_BOOTED: "booted",
		libvirt.DOMAIN_RUNNING_MIGRATED: "migrated", libvirt.DOMAIN_RUNNING_RESTORED: "restored",
		libvirt.DOMAIN_RUNNING_FROM_SNAPSHOT: "from_snapshot", libvirt.DOMAIN_RUNNING_UNPAUSED: "unpaused",
		libvirt.DOMAIN_RUNNING_MIGRATION_CANCELED: "migration_canceled", libvirt.DOMAIN_RUNNING_SAVE_CANCELED: "save_canceled",
		libvirt.DOMAIN_RUNNING_WAKEUP: "wakeup", libvirt.DOMAIN_RUNNING_CRASHED: "crashed",
		libvirt.DOMAIN_RUNNING_POSTCOPY: "postcopy", libvirt.DOMAIN_RUNNING_POSTCOPY_FAILED: "postcopy_failed",
	}
	shutoffReasons = map[libvirt.DomainShutoffReason]string{
		libvirt.DOMAIN_SHUTOFF_UNKNOWN: "unknown", libvirt.DOMAIN_SHUTOFF_SHUTDOWN: "shutdown",
		libvirt.DOMAIN_SHUTOFF_DESTROYED: "destroyed", libvirt.DOMAIN_SHUTOFF_CRASHED: "crashed",
		libvirt.DOMAIN_SHUTOFF_MIGRATED: "migrated", libvirt.DOMAIN_SHUTOFF_SAVED: "saved",
		libvirt.DOMAIN_SHUTOFF_FAILED: "failed", libvirt.DOMAIN_SHUTOFF_FROM_SNAPSHOT: "from_snapshot",
		libvirt.DOMAIN_SHUTOFF_DAEMON: "daemon",
	}
	crashedReasons = map[libvirt.DomainCrashedReason]string{
		libvirt.DOMAIN_CRASHED_UNKNOWN: "unknown", libvirt.DOMAIN_CRASHED_PANICKED: "panicked",
	}
	shutdownReasons = map[libvirt.DomainShutdownReason]string{
		libvirt.DOMAIN_SHUTDOWN_UNKNOWN: "unknown", libvirt.DOMAIN_SHUTDOWN_USER: "user",
	}
)

// stateReason names the reason libvirt gives with a domain state. The reason's meaning depends
// on the state; a reason this binding does not know is rendered "reason-N".
func stateReason(state libvirt.DomainState, reason int) string {
	var name string
	var ok bool
	switch state {
	case libvirt.DOMAIN_PAUSED:
		name, ok = pausedReasons[libvirt.DomainPausedReason(reason)]
	case libvirt.DOMAIN_RUNNING:
		name, ok = runningReasons[libvirt.DomainRunningReason(reason)]
	case libvirt.DOMAIN_SHUTOFF:
		name, ok = shutoffReasons[libvirt.DomainShutoffReason(reason)]
	case libvirt.DOMAIN_CRASHED:
		name, ok = crashedReasons[libvirt.DomainCrashedReason(reason)]
	case libvirt.DOMAIN_SHUTDOWN:
		name, ok = shutdownReasons[libvirt.DomainShutdownReason(reason)]
	case libvirt.DOMAIN_BLOCKED, libvirt.DOMAIN_PMSUSPENDED, libvirt.DOMAIN_NOSTATE:
		// Their only reason is "unknown": say nothing.
		return ""
	}
	if !ok {
		return fmt.Sprintf("reason-%d", reason)
	}
	return name
}
