package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/testenv"
	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// newLabFaultCmd injects a fault into one lab host.
func newLabFaultCmd() *cobra.Command {
	var dir, reason, health string
	var all bool
	kinds := make([]string, 0, len(testenv.FaultKinds()))
	for _, k := range testenv.FaultKinds() {
		kinds = append(kinds, string(k))
	}
	cmd := &cobra.Command{
		Use:   "fault HOST|etcdN KIND",
		Short: "Inject a fault into a lab host or etcd member",
		Long: `Inject a fault into a lab host, or into a member of the lab's etcd cluster (lab up --etcd).
For a host, KIND is one of:
  power-off       hard power loss: every process of the host is killed, its NIC goes dark
  power-on        boot the host again: a fresh libvirtd, its guests off
  freeze, thaw    hang the host in the cgroup freezer, and let it run again
  partition, heal cut the host's management link (storage and guests live on, and its guests
                  still answer on their own network), and restore it; partition --all cuts the
                  host's guest network too (its guests no longer answer from outside), and heal
                  restores both
  crash-libvirtd  kill libvirtd only (guests keep running); start-libvirtd starts it again
  bmc-down, bmc-up  the BMC stops answering, Redfish (connections hang) and IPMI alike, and
                  answers again
  degrade, repair the BMC reports health Warning (or --health critical) with --reason, and OK again
                  (alone, a Warning scores 50, below the default health.degrade_score of 100;
                  Critical degrades the host)
For an etcd member (etcd1, etcd2, ...), KIND is one of:
  kill, start     SIGKILL the member (its data stays), and start it again on its data
  partition, heal cut the member's management link (neither peers nor daemons reach it), and
                  restore it`,
		Example: "  lifeboat lab fault --dir /tmp/lab h2 power-off\n  lifeboat lab fault --dir /tmp/lab h1 partition --all\n  lifeboat lab fault --dir /tmp/lab h1 degrade --health critical --reason 'PSU 2 lost input'\n  lifeboat lab fault --dir /tmp/halab etcd2 kill",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("want HOST and KIND, got %d argument(s); KIND is one of %s", len(args), strings.Join(kinds, ", "))
			}
			return nil
		},
		ValidArgsFunction: func(_ *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
			if len(args) == 0 {
				names, _ := testenv.HostNames(dir)
				members, _ := testenv.EtcdNames(dir)
				return append(names, members...), cobra.ShellCompDirectiveNoFileComp
			}
			return kinds, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			host := args[0]
			kind, err := testenv.ParseFaultKind(args[1])
			if err != nil {
				return err
			}
			p := testenv.FaultParams{Reason: reason, All: all}
			if all && kind != testenv.FaultPartition {
				return fmt.Errorf("--all applies to partition only, not %s", kind)
			}
			switch strings.ToLower(health) {
			case "":
			case "warning":
				p.Health = bmc.HealthWarning
			case "critical":
				p.Health = bmc.HealthCritical
			default:
				return fmt.Errorf("--health %q: want warning or critical", health)
			}
			if kind != testenv.FaultDegrade && (reason != "" || health != "") {
				return fmt.Errorf("--reason and --health apply to degrade only, not %s", kind)
			}
			names, err := testenv.HostNames(dir)
			if err != nil {
				return err
			}
			members, err := testenv.EtcdNames(dir)
			if err != nil {
				return err
			}
			isEtcd := slices.Contains(members, host)
			if !isEtcd && !slices.Contains(names, host) {
				return fmt.Errorf("unknown host %q: the lab in %s has %s", host, dir, strings.Join(append(names, members...), ", "))
			}
			etcdKinds := []testenv.FaultKind{testenv.FaultKill, testenv.FaultStart, testenv.FaultPartition, testenv.FaultHeal}
			if isEtcd && (!slices.Contains(etcdKinds, kind) || all) {
				return fmt.Errorf("%s is an etcd member: KIND is kill, start, partition or heal (without --all), not %s", host, kind)
			}
			if !isEtcd && (kind == testenv.FaultKill || kind == testenv.FaultStart) {
				return fmt.Errorf("%s applies to etcd members (etcd1, etcd2, ...), not host %s", kind, host)
			}
			ctl, err := testenv.Dial(dir)
			if err != nil {
				return err
			}
			if err := ctl.Fault(cmd.Context(), host, kind, p); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s done\n", host, kind)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultLabDir, "directory that holds the lab")
	cmd.Flags().StringVar(&reason, "reason", "", "degrade: the health message the BMC reports")
	cmd.Flags().StringVar(&health, "health", "", "degrade: warning (default) or critical")
	cmd.Flags().BoolVar(&all, "all", false, "partition: cut the host's guest network too (a full partition)")
	return cmd
}
