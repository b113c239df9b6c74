package policy

// Reason is a machine-readable code for a verdict.
type Reason string

// Verdict reasons.
const (
	ReasonNoObservation     Reason = "no_observation"
	ReasonLibvirtOK         Reason = "libvirt_ok"
	ReasonStabilising       Reason = "stabilising"
	ReasonLibvirtLost       Reason = "libvirt_lost"
	ReasonLibvirtdDown      Reason = "libvirtd_down_host_alive"
	ReasonUnreachable       Reason = "libvirt_timeout"
	ReasonUnreachableLeases Reason = "libvirt_timeout_leases_held"
	ReasonPowerOff          Reason = "bmc_power_off_libvirt_lost"
	ReasonFenceVerified     Reason = "fence_verified"
	ReasonConfirmedOff      Reason = "operator_confirmed_off"
	ReasonHealthWarning     Reason = "health_warning"
	ReasonHealthCritical    Reason = "health_critical"
	ReasonHealthClearing    Reason = "health_clearing"
	ReasonOperatorDegraded  Reason = "operator_degraded"
	ReasonMaintenance       Reason = "operator_maintenance"
	ReasonGuestsAlive       Reason = "guests_alive"
	ReasonAwaitingGuests    Reason = "libvirt_lost_awaiting_guest_probe"
)

// The rules behind verdicts, in words, for `lifeboat explain`.
const (
	RuleMaintenance   = "an operator's maintenance mode overrides every signal"
	RuleFenced        = "a verified fence and no libvirt answer: the host is off and its VMs may restart elsewhere"
	RuleConfirmedOff  = "no libvirt answer and an operator confirmed the host is off (lifeboat host confirm-off): its VMs may restart elsewhere; not a verified fence"
	RuleDegraded      = "libvirt answers but the health score (BMC health, libvirt I/O errors, paused guests, RPC latency, memory pressure, alerts, operator marks) reached health.degrade_score: quarantine and evacuate by live migration; healthy again only after the score stays below health.clear_score for health.clear_after"
	RuleRecovering    = "libvirt answers again after a bad spell: healthy only after a stable period (longer when the host flaps)"
	RuleHealthy       = "libvirt answers and hardware health is not degraded"
	RuleNoObservation = "nothing is known yet"
	RuleFailed        = "libvirt is lost and the BMC reports power off: proof of death (restart still needs a verified fence)"
	RuleSuspect       = "libvirt has failed for at least suspect_after but less than unreachable_after"
	RuleUnknown       = "libvirt is lost for unreachable_after but the host answers on the network: libvirtd is down, guests may run; never failed"
	RuleUnreachable   = "libvirt timed out for unreachable_after without proof of death (BMC not off), and no guest of the host is seen answering on its own network: wait and fence, never restart blindly"
	RulePartitioned   = "libvirt timed out for unreachable_after without proof of death (BMC not off), but guests of the host answer on their own network (recovery.partition_policy wait-for-guests): only the management link is cut, so nothing is fenced or restarted while they answer; unreachable (and fenced) as soon as none answers"
)

func ruleFor(s HostState) string {
	switch s {
	case Maintenance:
		return RuleMaintenance
	case Fenced:
		return RuleFenced
	case Degraded:
		return RuleDegraded
	case Recovering:
		return RuleRecovering
	case Healthy:
		return RuleHealthy
	case Failed:
		return RuleFailed
	case Suspect:
		return RuleSuspect
	case Unknown:
		return RuleUnknown
	case Unreachable:
		return RuleUnreachable
	case Partitioned:
		return RulePartitioned
	}
	return RuleNoObservation
}
