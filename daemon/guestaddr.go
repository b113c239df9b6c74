package daemon

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/store"
	"github.com/lifeboat-ha/lifeboat/witness"
)

// How often libvirt is asked again for a VM's address: soon while none is known, rarely once one
// is (an address that changed is learnt again within this while).
const (
	learnRetryUnknown = time.Minute
	learnRetryKnown   = 10 * time.Minute
)

// learnAddresses asks libvirt, while the host is reachable, for the address of each protected VM
// running there that has no probe address in the configuration, and keeps it on the VM's record
// (durably, so that a restarted daemon can still probe the VM when its host is cut off).
func (d *Daemon) learnAddresses(ctx context.Context, w *hostWatch, doms []hypervisor.Domain) {
	if !w.sig.Guests.Configured {
		return
	}
	now := d.now()
	type vm struct{ uuid, name string }
	var ask []vm
	d.mu.Lock()
	for _, dom := range doms {
		r := d.vms[dom.UUID]
		if !dom.State.Active() || r == nil || !r.Protected || r.CurrentHost != w.cfg.Name || d.configuredProbe(r.Name) != "" {
			continue
		}
		wait := learnRetryUnknown
		if r.ProbeAddress != "" {
			wait = learnRetryKnown
		}
		if last, ok := d.learnt[dom.UUID]; ok && now.Sub(last) < wait {
			continue
		}
		d.learnt[dom.UUID] = now
		ask = append(ask, vm{dom.UUID, r.Name})
	}
	d.mu.Unlock()
	for _, v := range ask {
		addrs, err := w.conn.GuestAddresses(ctx, v.uuid)
		if err != nil {
			d.log.Debug("cannot learn a guest's address", "host", w.cfg.Name, "vm", v.name, "err", err)
			continue
		}
		addr := ""
		for _, a := range addrs {
			if _, err := witness.ParseTarget(a); err == nil {
				addr = a
				break
			}
		}
		if addr == "" {
			continue
		}
		d.mu.Lock()
		r := d.vms[v.uuid]
		if r == nil || r.ProbeAddress == addr {
			d.mu.Unlock()
			continue
		}
		old := r.ProbeAddress
		r.ProbeAddress, r.UpdatedAt = addr, now
		rec := *r
		d.mu.Unlock()
		if err := d.db.PutVM(ctx, rec); err != nil {
			d.log.Error("cannot store a VM record", "vm", rec.Name, "err", err)
			continue
		}
		msg := fmt.Sprintf("%s answers at %s on its own network (learnt from libvirt on %s); it is probed there while %s is cut off", rec.Name, addr, w.cfg.Name, w.cfg.Name)
		if old != "" {
			msg += fmt.Sprintf(" (was %s)", old)
		}
		d.journal(ctx, store.Entry{At: now, Kind: "vm", Host: w.cfg.Name, VM: rec.Name, Reason: "probe_address_learnt", Message: msg})
	}
}
