// Package migrate carries out live migrations: it queues them within concurrency budgets (out
// of each host, into each host, cluster-wide), runs each on its own libvirt connection through
// hypervisor.Migrate, watches convergence with the policy's escalation ladder, supports
// cancellation, and journals every migration's start and end with its figures and reason.
package migrate
