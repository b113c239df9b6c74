package fleet

import (
	"context"
	"fmt"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
)

// GuestStatus answers as QEMU would for the domain's simulated state: crashed (on_crash
// preserve) is guest-panicked, paused for an unknown reason internal-error, paused on an I/O
// error io-error.
func (h *Host) GuestStatus(_ context.Context, uuid string) (hypervisor.RunState, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, d := range h.domains {
		if d.UUID != uuid {
			continue
		}
		switch {
		case d.State == hypervisor.StateCrashed:
			return hypervisor.RunStateGuestPanicked, nil
		case d.State == hypervisor.StatePaused && d.StateReason == "unknown":
			return hypervisor.RunStateInternalError, nil
		case d.PausedOnError():
			return hypervisor.RunStateIOError, nil
		case d.State == hypervisor.StatePaused:
			return hypervisor.RunStatePaused, nil
		case d.State.Active():
			return hypervisor.RunStateRunning, nil
		}
		return "", fmt.Errorf("fleet: %s is not running: %w", uuid, hypervisor.ErrNoDomain)
	}
	return "", fmt.Errorf("fleet: %s: %w", uuid, hypervisor.ErrNoDomain)
}

// ResetDomain restarts the simulated domain in place: it runs again, freshly booted, and the
// host's reset count goes up.
func (h *Host) ResetDomain(_ context.Context, uuid string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.up() {
		return fmt.Errorf("fleet: %s: %w", h.name, hypervisor.ErrNotConnected)
	}
	for i := range h.domains {
		if h.domains[i].UUID == uuid {
			h.domains[i].State, h.domains[i].StateReason = hypervisor.StateRunning, "booted"
			h.resets++
			return nil
		}
	}
	return fmt.Errorf("fleet: %s: %w", uuid, hypervisor.ErrNoDomain)
}

// Resets counts the in-place restarts done on the host.
func (h *Host) Resets() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.resets
}
