package daemon

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/hypervisor"
	"github.com/lifeboat-ha/lifeboat/store"
)

// eventLoop journals the host's libvirt events and refreshes its inventory when domains change.
func (d *Daemon) eventLoop(ctx context.Context, w *hostWatch) {
	// A guest whose disk keeps failing (error_policy report) sends an event per request: the
	// journal gets one a minute per guest.
	lastIO := map[string]time.Time{}
	for ev := range w.conn.Events() {
		switch ev.Kind {
		case hypervisor.EventLifecycle, hypervisor.EventConnected:
			select {
			case w.invKick <- struct{}{}:
			default:
			}
		case hypervisor.EventIOError:
			d.recordIOError(ctx, ev)
		case hypervisor.EventJobCompleted, hypervisor.EventMigrationIt, hypervisor.EventDisconnected:
		}
		if ev.Kind == hypervisor.EventMigrationIt {
			continue // too many to journal one by one
		}
		if ev.Kind == hypervisor.EventIOError {
			if t, ok := lastIO[ev.UUID]; ok && ev.At.Sub(t) < time.Minute {
				continue
			}
			lastIO[ev.UUID] = ev.At
		}
		d.journal(ctx, store.Entry{At: ev.At, Kind: "event", Host: ev.Host, VM: ev.Domain, Reason: string(ev.Kind), Message: eventMessage(ev)})
	}
}

func eventMessage(ev hypervisor.Event) string {
	switch ev.Kind {
	case hypervisor.EventConnected:
		return "libvirt connection established"
	case hypervisor.EventDisconnected:
		return "libvirt connection lost"
	}
	return fmt.Sprintf("%s %s: %s", ev.Kind, ev.Domain, ev.Detail)
}

// inventoryLoop refreshes the host's domain list every inventory interval, and at once when an
// event says it changed.
func (d *Daemon) inventoryLoop(ctx context.Context, w *hostWatch) {
	t := time.NewTicker(d.conf().Timings.InventoryInterval.D())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-w.invKick:
		}
		if !w.conn.Connected() {
			continue
		}
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if w.info.MemoryKiB == 0 {
			if info, err := w.conn.Info(ictx); err == nil {
				d.mu.Lock()
				w.info = info
				d.mu.Unlock()
			}
		}
		doms, err := w.conn.Domains(ictx)
		if err != nil {
			cancel()
			d.log.Debug("inventory failed", "host", w.cfg.Name, "err", err)
			continue
		}
		d.updateInventory(ictx, w, doms)
		d.checkGuests(ictx, w, doms)
		d.learnAddresses(ictx, w, doms)
		d.sampleMemory(ictx, w)
		cancel()
	}
}

// updateInventory records a host's domain list and brings the VM records up to date: a VM seen
// for the first time gets a record with its definition and its home host; a VM that moved gets
// its current host changed. Each change is journaled.
func (d *Daemon) updateInventory(ctx context.Context, w *hostWatch, doms []hypervisor.Domain) {
	now := d.now()
	// Definitions of VMs not yet on record are fetched outside the lock.
	d.mu.Lock()
	var missing []hypervisor.Domain
	for _, dom := range doms {
		if r, ok := d.vms[dom.UUID]; !ok || r.Definition == "" {
			missing = append(missing, dom)
		}
	}
	d.mu.Unlock()
	defs := map[string]string{}
	for _, dom := range missing {
		xml, err := w.conn.DomainXML(ctx, dom.UUID)
		if err != nil {
			d.log.Warn("cannot read a domain definition", "host", w.cfg.Name, "vm", dom.Name, "err", err)
			continue
		}
		defs[dom.UUID] = xml
	}

	d.mu.Lock()
	if pausedKeys(w.domains) != pausedKeys(doms) {
		d.markDirty(w) // a guest paused on an I/O error, or resumed: the host's health changed
	}
	d.setDomains(w, doms)
	w.invAt = now
	var changed []store.VMRecord
	var entries []store.Entry
	for _, dom := range doms {
		r, ok := d.vms[dom.UUID]
		if !ok {
			if !dom.State.Active() && dom.Persistent {
				// A definition left behind (e.g. on a host whose VM restarted elsewhere) makes no record.
				if _, elsewhere := d.activeHost(dom.UUID, w); !elsewhere && !d.knownName(dom.Name) {
					r = d.newRecord(dom, w.cfg.Name, now)
				} else {
					continue
				}
			} else {
				r = d.newRecord(dom, w.cfg.Name, now)
			}
			d.addVM(r)
			if r.CurrentHost != "" {
				d.vmArrived(r, r.CurrentHost)
			}
			entries = append(entries, store.Entry{At: now, Kind: "vm", Host: w.cfg.Name, VM: dom.Name, Reason: "discovered",
				Message: fmt.Sprintf("%s discovered on %s (%s); home host %s", dom.Name, w.cfg.Name, dom.State, r.HomeHost)})
		}
		if def, ok := defs[dom.UUID]; ok && r.Definition == "" {
			r.Definition = def
			d.parseDisks(r)
		}
		old := *r
		if d.engine != nil && d.engine.Busy(dom.UUID) {
			// Mid-migration both hosts list the VM; where it runs is settled when it ends.
			continue
		}
		if dom.State.Active() {
			if r.CurrentHost != w.cfg.Name {
				d.vmArrived(r, w.cfg.Name)
			}
			r.CurrentHost, r.State = w.cfg.Name, string(dom.State)
		} else if r.CurrentHost == w.cfg.Name || r.CurrentHost == "" {
			if _, elsewhere := d.activeHost(dom.UUID, w); !elsewhere {
				r.CurrentHost, r.State = "", string(dom.State)
			}
		}
		if r.Name != dom.Name {
			d.vmOrderStale = true // renamed: the snapshot's order changes
		}
		r.Name, r.MemoryMiB, r.VCPUs = dom.Name, int(dom.MemoryKiB/1024), int(dom.VCPUs)
		if old.CurrentHost != r.CurrentHost && old.CurrentHost != "" && r.CurrentHost != "" {
			entries = append(entries, store.Entry{At: now, Kind: "vm", Host: r.CurrentHost, VM: r.Name, Reason: "moved",
				Message: fmt.Sprintf("%s now runs on %s (was %s)", r.Name, r.CurrentHost, old.CurrentHost)})
		}
		if old != *r {
			r.UpdatedAt = now
			changed = append(changed, *r)
		}
	}
	// VMs on record as running here that the host no longer lists.
	present := map[string]bool{}
	for _, dom := range doms {
		present[dom.UUID] = true
	}
	for _, r := range d.vmsOnHost(w.cfg.Name) {
		if r.CurrentHost == w.cfg.Name && !present[r.UUID] && (d.engine == nil || !d.engine.Busy(r.UUID)) {
			if _, elsewhere := d.activeHost(r.UUID, w); !elsewhere {
				r.CurrentHost, r.State, r.UpdatedAt = "", "missing", now
				changed = append(changed, *r)
			}
		}
	}
	// Records whose last write failed are written again with these.
	for uuid := range d.unsaved {
		if r, ok := d.vms[uuid]; ok && !slices.ContainsFunc(changed, func(c store.VMRecord) bool { return c.UUID == uuid }) {
			changed = append(changed, *r)
		}
	}
	d.mu.Unlock()
	sort.Slice(changed, func(i, j int) bool { return changed[i].Name < changed[j].Name })
	// One write for the host's changes: at start, a fleet's inventories are one transaction per
	// host, not one per VM. The write is not bound by the inventory's libvirt deadline: at the
	// start of a large fleet, thousands of them wait their turn at the store.
	var err error
	if len(changed) > 0 {
		err = d.db.PutVM(context.WithoutCancel(ctx), changed...)
	}
	d.mu.Lock()
	for _, r := range changed {
		if err != nil {
			d.unsaved[r.UUID] = true
		} else {
			delete(d.unsaved, r.UUID)
		}
	}
	d.mu.Unlock()
	if err != nil {
		d.log.Error("cannot store VM records, retried with the next inventory", "host", w.cfg.Name, "records", len(changed), "err", err)
	}
	if len(entries) > 0 {
		if _, err := d.db.Append(context.WithoutCancel(ctx), entries...); err != nil {
			d.log.Error("journal append failed", "err", err, "host", w.cfg.Name, "entries", len(entries))
		} else {
			d.m.journal.WithLabelValues("vm").Add(float64(len(entries)))
		}
	}
}

// sameActive reports whether two inventories of a host list the same domains, in the same
// order, each active in both or in neither.
func sameActive(a, b []hypervisor.Domain) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].UUID != b[i].UUID || a[i].State.Active() != b[i].State.Active() {
			return false
		}
	}
	return true
}

// vmIndexMaxAge is how old the index of VM records by current host (vmsOnHost) may be: a
// backstop that also drops the records that left a host.
const vmIndexMaxAge = 10 * time.Second

// vmIndex is the VM records by the host they were on record as running on, when it was built.
type vmIndex struct {
	at     time.Time
	byHost map[string][]*store.VMRecord
}

// vmsOnHost returns the records that were on record as running on the host when the index was
// last built. Without it, every inventory walked every VM record: with 5,000 hosts and 100,000
// VMs, 1,000 inventories a second each walked 100,000 records. The index is built again from
// d.vms after vmsMoved, or when older than vmIndexMaxAge by the wall clock (a backstop).
// Inventories change CurrentHost only to their own host (vmArrived adds the record there) or to
// none, which needs no change: callers check CurrentHost again. So the index holds every record
// on record as running on the host, and perhaps some that left. Caller holds d.mu.
func (d *Daemon) vmsOnHost(host string) []*store.VMRecord {
	now := time.Now()
	if d.vmIdx.byHost == nil || now.Sub(d.vmIdx.at) > vmIndexMaxAge || now.Before(d.vmIdx.at) {
		idx := make(map[string][]*store.VMRecord, len(d.hosts))
		for _, r := range d.vms {
			if r.CurrentHost != "" {
				idx[r.CurrentHost] = append(idx[r.CurrentHost], r)
			}
		}
		d.vmIdx = vmIndex{at: now, byHost: idx}
	}
	return d.vmIdx.byHost[host]
}

// vmArrived adds a record to the index of vmsOnHost under the host it is about to be on record
// as running on, so that the index stays a superset of the truth without a rebuild (callers
// check CurrentHost). Caller holds d.mu.
func (d *Daemon) vmArrived(r *store.VMRecord, host string) {
	if d.vmIdx.byHost != nil && !slices.Contains(d.vmIdx.byHost[host], r) {
		d.vmIdx.byHost[host] = append(d.vmIdx.byHost[host], r)
	}
}

// vmsMoved drops the index of vmsOnHost after VM records were added outside an inventory
// (records adopted from the store). A record put on another host (an inventory, a restart, a
// migration) goes through vmArrived instead. Caller holds d.mu.
func (d *Daemon) vmsMoved() { d.vmIdx.byHost = nil }

// activeHost finds another host whose latest inventory runs the VM: a lookup in d.activeAt,
// not a walk of every host's domains (after a fenced host came back, each of its leftover
// definitions asked, and at 5,000 hosts each walk was 100,000 domains). Caller holds d.mu.
func (d *Daemon) activeHost(uuid string, except *hostWatch) (string, bool) {
	for _, o := range d.activeAt[uuid] {
		if o != except {
			return o.cfg.Name, true
		}
	}
	return "", false
}

// setDomains makes doms the host's latest inventory, and keeps d.activeAt in step with it.
// Caller holds d.mu.
func (d *Daemon) setDomains(w *hostWatch, doms []hypervisor.Domain) {
	if sameActive(w.domains, doms) { // a steady host: nothing to move in d.activeAt
		w.domains = doms
		return
	}
	for _, dom := range w.domains {
		if !dom.State.Active() {
			continue
		}
		at := slices.DeleteFunc(d.activeAt[dom.UUID], func(o *hostWatch) bool { return o == w })
		if len(at) == 0 {
			delete(d.activeAt, dom.UUID)
		} else {
			d.activeAt[dom.UUID] = at
		}
	}
	w.domains = doms
	for _, dom := range doms {
		if dom.State.Active() && !slices.Contains(d.activeAt[dom.UUID], w) {
			d.activeAt[dom.UUID] = append(d.activeAt[dom.UUID], w)
		}
	}
}

// knownName reports whether a VM of that name is on record. Caller holds d.mu.
func (d *Daemon) knownName(name string) bool {
	for _, r := range d.vms {
		if r.Name == name {
			return true
		}
	}
	return false
}

// newRecord makes the record of a newly seen VM, with its protection and priority from the
// configuration. Caller holds d.mu.
func (d *Daemon) newRecord(dom hypervisor.Domain, host string, now time.Time) *store.VMRecord {
	protected, priority := protection(d.conf().Protection, dom.Name)
	r := &store.VMRecord{UUID: dom.UUID, Name: dom.Name, HomeHost: host, State: string(dom.State),
		Protected: protected, Priority: priority, UpdatedAt: now}
	if dom.State.Active() {
		r.CurrentHost = host
	}
	return r
}

// protection decides whether a VM is protected, and its priority, from the configuration.
func protection(p config.Protection, name string) (bool, int) { return p.For(name) }
