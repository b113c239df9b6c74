// Package hypervisor is everything lifeboat says to libvirt (and, through libvirt, to QEMU's QMP
// monitor). Each watched host gets one long-lived connection for events and probes, with
// keepalive, a close callback and reconnection with backoff and jitter. Callers see the narrow
// Host interface and this package's types and errors; libvirt types do not leak out.
package hypervisor
