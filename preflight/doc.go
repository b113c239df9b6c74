// Package preflight checks a configured cluster from the management node before it is trusted:
// libvirt connections and versions, migration paths between hosts, the shared lease directory,
// the BMCs and their credentials, secret file modes, and room to restart each host's VMs
// elsewhere. Each check is one line with a hint on how to fix it. The checks reach the world only
// through Env, so that they can be tested without a cluster; `lifeboat preflight` runs them with
// RealEnv.
package preflight
