// Package sim runs recovery scenarios through the same engine as the daemon: a simulated
// cluster (hosts, BMCs, guests), a script of timed events (power loss, hangs, partitions,
// libvirtd crashes, BMC and fence-device failures, controller restarts, operator commands),
// and a controller that observes the simulated truth the way the daemon's observers do, runs
// policy.Decide and policy.Reconcile, and carries out the actions the way daemon/execute.go
// does. The output is an action log, checked against the scenario's expectation, and an
// invariant checker's findings (a VM on two hosts, a restart before a fence, a lost VM).
//
// It is pure: no clock, no goroutines, no I/O except reading scenario files.
package sim
