package hypervisor

import (
	"fmt"

	"libvirt.org/go/libvirt"
)

// registerEvents subscribes to the domain events the controller needs on a new connection:
// lifecycle, I/O errors, completed jobs and migration iterations.
func (c *Conn) registerEvents(conn *libvirt.Connect) error {
	domainOf := func(d *libvirt.Domain) (uuid, name string) {
		uuid, _ = d.GetUUIDString()
		name, _ = d.GetName()
		return uuid, name
	}
	if _, err := conn.DomainEventLifecycleRegister(nil, func(_ *libvirt.Connect, d *libvirt.Domain, ev *libvirt.DomainEventLifecycle) {
		uuid, name := domainOf(d)
		c.emit(Event{Host: c.name, Kind: EventLifecycle, At: c.opts.Now(), UUID: uuid, Domain: name, Detail: lifecycleDetail(ev)})
	}); err != nil {
		return wrap("register lifecycle events", err)
	}
	if _, err := conn.DomainEventIOErrorReasonRegister(nil, func(_ *libvirt.Connect, d *libvirt.Domain, ev *libvirt.DomainEventIOErrorReason) {
		uuid, name := domainOf(d)
		c.emit(Event{Host: c.name, Kind: EventIOError, At: c.opts.Now(), UUID: uuid, Domain: name,
			Detail: ioErrorDetail(ev), Reason: ev.Reason})
	}); err != nil {
		return wrap("register I/O error events", err)
	}
	if _, err := conn.DomainEventJobCompletedRegister(nil, func(_ *libvirt.Connect, d *libvirt.Domain, ev *libvirt.DomainEventJobCompleted) {
		uuid, name := domainOf(d)
		detail := "job completed"
		if ev.Info.DowntimeSet {
			detail = fmt.Sprintf("job completed, downtime %d ms", ev.Info.Downtime)
		}
		c.emit(Event{Host: c.name, Kind: EventJobCompleted, At: c.opts.Now(), UUID: uuid, Domain: name, Detail: detail})
	}); err != nil {
		return wrap("register job events", err)
	}
	if _, err := conn.DomainEventMigrationIterationRegister(nil, func(_ *libvirt.Connect, d *libvirt.Domain, ev *libvirt.DomainEventMigrationIteration) {
		uuid, name := domainOf(d)
		c.emit(Event{Host: c.name, Kind: EventMigrationIt, At: c.opts.Now(), UUID: uuid, Domain: name, Detail: fmt.Sprintf("iteration %d", ev.Iteration)})
	}); err != nil {
		return wrap("register migration events", err)
	}
	return nil
}

// lifecycleDetail renders a lifecycle event as "event/detail", e.g. "stopped/destroyed".
func lifecycleDetail(ev *libvirt.DomainEventLifecycle) string {
	names := map[libvirt.DomainEventType]string{
		libvirt.DOMAIN_EVENT_DEFINED: "defined", libvirt.DOMAIN_EVENT_UNDEFINED: "undefined",
		libvirt.DOMAIN_EVENT_STARTED: "started", libvirt.DOMAIN_EVENT_SUSPENDED: "suspended",
		libvirt.DOMAIN_EVENT_RESUMED: "resumed", libvirt.DOMAIN_EVENT_STOPPED: "stopped",
		libvirt.DOMAIN_EVENT_SHUTDOWN: "shutdown", libvirt.DOMAIN_EVENT_PMSUSPENDED: "pmsuspended",
		libvirt.DOMAIN_EVENT_CRASHED: "crashed",
	}
	n, ok := names[ev.Event]
	if !ok {
		n = fmt.Sprintf("event-%d", ev.Event)
	}
	return fmt.Sprintf("%s/%d", n, ev.Detail)
}

// ioErrorDetail renders an I/O error event as "disk (source): cause, action", e.g.
// "vda (/dev/loop3): enospc, guest paused". libvirt names no cause but a full disk.
func ioErrorDetail(ev *libvirt.DomainEventIOErrorReason) string {
	disk := ev.DevAlias
	if disk == "" {
		disk = "disk"
	}
	if ev.SrcPath != "" {
		disk += " (" + ev.SrcPath + ")"
	}
	cause := ev.Reason
	if cause == "" {
		cause = "I/O error"
	}
	var action string
	switch ev.Action {
	case libvirt.DOMAIN_EVENT_IO_ERROR_PAUSE:
		action = ", guest paused"
	case libvirt.DOMAIN_EVENT_IO_ERROR_REPORT:
		action = ", reported to the guest"
	case libvirt.DOMAIN_EVENT_IO_ERROR_NONE:
		action = ", ignored"
	}
	return disk + ": " + cause + action
}
