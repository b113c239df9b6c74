package hypervisor

import (
	"testing"

	"libvirt.org/go/libvirt"
)

func TestStateReason(t *testing.T) {
	for _, c := range []struct {
		state  libvirt.DomainState
		reason int
		want   string
	}{
		{libvirt.DOMAIN_PAUSED, int(libvirt.DOMAIN_PAUSED_IOERROR), "ioerror"},
		{libvirt.DOMAIN_PAUSED, int(libvirt.DOMAIN_PAUSED_USER), "user"},
		{libvirt.DOMAIN_PAUSED, int(libvirt.DOMAIN_PAUSED_MIGRATION), "migration"},
		{libvirt.DOMAIN_PAUSED, int(libvirt.DOMAIN_PAUSED_WATCHDOG), "watchdog"},
		{libvirt.DOMAIN_PAUSED, int(libvirt.DOMAIN_PAUSED_CRASHED), "crashed"},
		{libvirt.DOMAIN_PAUSED, int(libvirt.DOMAIN_PAUSED_POSTCOPY_FAILED), "postcopy_failed"},
		{libvirt.DOMAIN_PAUSED, int(libvirt.DOMAIN_PAUSED_UNKNOWN), "unknown"},
		{libvirt.DOMAIN_PAUSED, 999, "reason-999"},
		// The same number means another reason in another state.
		{libvirt.DOMAIN_RUNNING, int(libvirt.DOMAIN_RUNNING_BOOTED), "booted"},
		{libvirt.DOMAIN_RUNNING, int(libvirt.DOMAIN_RUNNING_MIGRATED), "migrated"},
		{libvirt.DOMAIN_RUNNING, int(libvirt.DOMAIN_RUNNING_UNPAUSED), "unpaused"},
		{libvirt.DOMAIN_SHUTOFF, int(libvirt.DOMAIN_SHUTOFF_DESTROYED), "destroyed"},
		{libvirt.DOMAIN_SHUTOFF, int(libvirt.DOMAIN_SHUTOFF_FAILED), "failed"},
		{libvirt.DOMAIN_CRASHED, int(libvirt.DOMAIN_CRASHED_PANICKED), "panicked"},
		{libvirt.DOMAIN_SHUTDOWN, int(libvirt.DOMAIN_SHUTDOWN_USER), "user"},
		{libvirt.DOMAIN_BLOCKED, int(libvirt.DOMAIN_BLOCKED_UNKNOWN), ""},
		{libvirt.DOMAIN_PMSUSPENDED, 0, ""},
		{libvirt.DOMAIN_NOSTATE, 0, ""},
	} {
		if got := stateReason(c.state, c.reason); got != c.want {
			t.Errorf("stateReason(%s, %d) = %q, want %q", stateNames[c.state], c.reason, got, c.want)
		}
	}
}

func TestPausedOnError(t *testing.T) {
	for _, c := range []struct {
		d    Domain
		want bool
	}{
		{Domain{State: StatePaused, StateReason: "ioerror"}, true},
		{Domain{State: StatePaused, StateReason: "user"}, false},
		{Domain{State: StatePaused}, false},
		{Domain{State: StateRunning, StateReason: "ioerror"}, false},
	} {
		if got := c.d.PausedOnError(); got != c.want {
			t.Errorf("%+v.PausedOnError() = %v, want %v", c.d, got, c.want)
		}
	}
}

func TestAvailableShare(t *testing.T) {
	for _, c := range []struct {
		m    NodeMemory
		want float64
	}{
		{NodeMemory{}, 0},
		{NodeMemory{FreeKiB: 10}, 0}, // no total: unknown, not "all available"
		{NodeMemory{TotalKiB: 1000, FreeKiB: 100, BuffersKiB: 50, CachedKiB: 350}, 0.5},
		{NodeMemory{TotalKiB: 1000}, 0},
		{NodeMemory{TotalKiB: 1000, FreeKiB: 1000}, 1},
		{NodeMemory{TotalKiB: 1000, FreeKiB: 900, CachedKiB: 300}, 1}, // inconsistent reading: capped
	} {
		if got := c.m.AvailableShare(); got != c.want {
			t.Errorf("%+v.AvailableShare() = %v, want %v", c.m, got, c.want)
		}
	}
}

func TestIOErrorDetail(t *testing.T) {
	for _, c := range []struct {
		ev   libvirt.DomainEventIOErrorReason
		want string
	}{
		{libvirt.DomainEventIOErrorReason{DevAlias: "virtio-disk0", SrcPath: "/dev/loop3", Reason: "enospc", Action: libvirt.DOMAIN_EVENT_IO_ERROR_PAUSE},
			"virtio-disk0 (/dev/loop3): enospc, guest paused"},
		{libvirt.DomainEventIOErrorReason{DevAlias: "virtio-disk0", SrcPath: "/dev/mapper/x", Action: libvirt.DOMAIN_EVENT_IO_ERROR_REPORT},
			"virtio-disk0 (/dev/mapper/x): I/O error, reported to the guest"},
		{libvirt.DomainEventIOErrorReason{DevAlias: "vda", Reason: "enospc", Action: libvirt.DOMAIN_EVENT_IO_ERROR_NONE},
			"vda: enospc, ignored"},
		{libvirt.DomainEventIOErrorReason{}, "disk: I/O error, ignored"},
	} {
		if got := ioErrorDetail(&c.ev); got != c.want {
			t.Errorf("ioErrorDetail(%+v) = %q, want %q", c.ev, got, c.want)
		}
	}
}
