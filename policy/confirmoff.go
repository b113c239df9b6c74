package policy

import (
	"fmt"
	"time"
)

// ConfirmOffRefusal says why an operator's confirm-off of a host must be refused ("" when it
// may be accepted). A confirm-off lets a host's VMs restart elsewhere without a verified fence,
// so it is accepted only where nothing says the host is alive: its libvirt does not answer, it
// does not answer on the network (a refused connection is a live kernel), its BMC does not read
// power on, and its guests do not answer. Only a failed or unreachable host qualifies.
func ConfirmOffRefusal(cfg DetectorConfig, v Verdict, s Signals, now time.Time) string {
	lv := s.Libvirt
	switch {
	case lv.Result == ProbeOK:
		return fmt.Sprintf("%s answers on libvirt: it is running", s.Host)
	case lv.Result == ProbeRefused || lv.Result == ProbeError:
		return fmt.Sprintf("%s answers on the network (libvirt probe: %s): the host is up, only libvirtd is not", s.Host, lv.Result)
	case s.BMC.Configured && s.BMC.Reachable && now.Sub(s.BMC.At) <= cfg.BMCStaleAfter && s.BMC.Power == PowerOn:
		return fmt.Sprintf("the BMC of %s reads power on", s.Host)
	case s.Guests.Answering > 0:
		return fmt.Sprintf("%d guests of %s answer on their own network", s.Guests.Answering, s.Host)
	}
	if v.State != Failed && v.State != Unreachable {
		return fmt.Sprintf("%s is %s: only a failed or unreachable host can be confirmed off", s.Host, v.State)
	}
	return ""
}
