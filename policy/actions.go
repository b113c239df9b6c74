package policy

import "fmt"

// ActionKind is what an action does.
type ActionKind string

// Action kinds.
const (
	// ActFence powers the host off through its fence ladder (verified).
	ActFence ActionKind = "fence"
	// ActClearFence forgets a host's fence: the host answers again (it was powered back on).
	ActClearFence ActionKind = "clear_fence"
	// ActRestart starts a VM of a fenced host on another host, from its stored definition.
	ActRestart ActionKind = "restart"
	// ActMigrate live-migrates a VM (To) off a host (an evacuation or a drain).
	ActMigrate ActionKind = "migrate"
	// ActQueue records a protected VM's need to restart (its host is lost): the restart queue
	// is durable, so a VM whose host comes back without it is still restarted.
	ActQueue ActionKind = "queue"
	// ActForget drops a restart record that no longer matters (the VM runs, or is no longer
	// protected, or finished long ago).
	ActForget ActionKind = "forget"
	// ActStuck reports a VM that cannot restart now (it stays queued and is retried).
	ActStuck ActionKind = "stuck"
	// ActFreeze and ActThaw start and end a freeze of automatic recovery.
	ActFreeze ActionKind = "freeze"
	ActThaw   ActionKind = "thaw"
	// ActProposePlan asks a person to approve a recovery (approval mode).
	ActProposePlan ActionKind = "propose_plan"
	// ActResetGuest restarts a VM in place (destroy, then start on the same host): its guest
	// crashed while its host is fine.
	ActResetGuest ActionKind = "reset_guest"
	// ActForgetReset drops a VM's in-place restart record once its window has passed.
	ActForgetReset ActionKind = "forget_reset"
	// ActHold says why something that could happen does not: nothing is done, but the reason
	// is recorded when it changes.
	ActHold ActionKind = "hold"
)

// ActionReason is a machine-readable code for an action.
type ActionReason string

// Action reasons.
const (
	ReasonHostLost          ActionReason = "host_lost"
	ReasonFenceResumed      ActionReason = "fence_interrupted"
	ReasonHostBack          ActionReason = "host_back"
	ReasonRestartFenced     ActionReason = "restart_after_fence"
	ReasonRestartConfirmed  ActionReason = "restart_after_operator_confirmed_off"
	ReasonRestartNotRunning ActionReason = "restart_not_running"
	ReasonQueued            ActionReason = "host_lost_vm_queued"
	ReasonRunsAgain         ActionReason = "vm_runs"
	// ReasonRestartTookEffect forgets a restart that a controller started and stopped before
	// recording (killed, or deposed): the VM runs on the restart's target, so it did start.
	ReasonRestartTookEffect ActionReason = "restart_took_effect"
	ReasonFinished          ActionReason = "restart_finished"
	ReasonNotProtected      ActionReason = "not_protected"
	ReasonNotifyOnly        ActionReason = "notify_only"
	ReasonMassFailure       ActionReason = "mass_failure"
	ReasonControllerCut     ActionReason = "controller_isolated"
	ReasonRecovered         ActionReason = "hosts_back"
	ReasonFenceWindow       ActionReason = "fence_window"
	ReasonFenceFailedHold   ActionReason = "fence_failed"
	ReasonStartup           ActionReason = "startup_incomplete"
	ReasonFrozen            ActionReason = "frozen"
	ReasonManual            ActionReason = "recovery_manual"
	ReasonDisarmed          ActionReason = "disarmed"
	ReasonAwaitingApproval  ActionReason = "awaiting_approval"
	ReasonPlanRejected      ActionReason = "plan_declined"
	ReasonNeedsApproval     ActionReason = "needs_approval"
	ReasonConcurrency       ActionReason = "restart_concurrency"
	ReasonNothingToRecover  ActionReason = "no_protected_vms"
	ReasonPartitionedAlive  ActionReason = "guests_alive"
	ReasonOperatorConfirmed ActionReason = "operator_confirmed_off"
	ReasonDrain             ActionReason = "drain"
	ReasonEvacuate          ActionReason = "evacuate_degraded"
	ReasonNoPlacement       ActionReason = "no_placement"
	ReasonNotMigratable     ActionReason = "not_migratable"
	// ReasonGuestMonitoringOff holds a crashed guest: recovery.guest_monitoring is off.
	ReasonGuestMonitoringOff ActionReason = "guest_monitoring_off"
	// ReasonResetLimit holds a crashed guest restarted max_resets times within the window.
	ReasonResetLimit ActionReason = "guest_reset_limit"
	// ReasonResetWindowOver forgets an in-place restart record whose window has passed.
	ReasonResetWindowOver ActionReason = "guest_reset_window_over"
)

// Action is one thing the reconciler wants done (or held back), with its reason.
type Action struct {
	Kind ActionKind
	// Host is the host acted on: fenced, whose VM restarts (the source), or held.
	Host string
	// VM and UUID name the VM of a restart or a stuck report; To is a restart's target.
	VM, UUID, To string
	// Hosts are the hosts behind a freeze.
	Hosts []string
	// Moves preview a recovery plan's restarts (ActProposePlan).
	Moves []Move
	// Reason is the typed code; Message the sentence for people.
	Reason  ActionReason
	Message string
}

// Move is one VM's move: from where, to where (empty when no host can take it), and why. It
// is the one shape of a move in plans, drains, evacuations and failback.
type Move struct {
	VM   string `json:"vm"`
	UUID string `json:"uuid,omitempty"`
	From string `json:"from"`
	To   string `json:"to"`
	Why  string `json:"why"`
}

// String is the action as one line of an action log: kind, subject and reason.
func (a Action) String() string {
	switch a.Kind {
	case ActResetGuest, ActForgetReset:
		return fmt.Sprintf("%s %s on %s (%s)", a.Kind, a.VM, a.Host, a.Reason)
	case ActRestart, ActMigrate:
		return fmt.Sprintf("%s %s %s->%s (%s)", a.Kind, a.VM, a.Host, a.To, a.Reason)
	case ActQueue, ActForget:
		return fmt.Sprintf("%s %s of %s (%s)", a.Kind, a.VM, a.Host, a.Reason)
	case ActStuck:
		return fmt.Sprintf("stuck %s on %s (%s)", a.VM, a.Host, a.Reason)
	case ActFreeze, ActThaw:
		return fmt.Sprintf("%s %v (%s)", a.Kind, a.Hosts, a.Reason)
	case ActHold:
		if a.VM != "" {
			return fmt.Sprintf("hold %s %s (%s)", a.Host, a.VM, a.Reason)
		}
	}
	return fmt.Sprintf("%s %s (%s)", a.Kind, a.Host, a.Reason)
}
