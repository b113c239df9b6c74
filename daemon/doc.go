// Package daemon is lifeboat's controller process: it observes every host (libvirt probes and
// events, BMC power and health, the disk-lease witness), decides each host's verdict with the
// pure policy package, records every change in the store's journal, and serves the API.
package daemon
