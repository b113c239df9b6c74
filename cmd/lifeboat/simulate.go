package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/sim"
)

// errSimulationFailed is returned when an invariant failed or the log differs from expect.
var errSimulationFailed = errors.New("simulation failed")

// simulateOutput is `lifeboat simulate -o json`.
type simulateOutput struct {
	Scenario string `json:"scenario"`
	sim.Result
	// ExpectMatches is null without an expect section.
	ExpectMatches *bool  `json:"expect_matches"`
	Diff          string `json:"diff,omitempty"`
}

// newSimulateCmd runs a scenario file through the recovery engine.
func newSimulateCmd() *cobra.Command {
	var cfgPath, output string
	cmd := &cobra.Command{
		Use:   "simulate FILE",
		Short: "Run a failure scenario through the recovery engine and print the action log",
		Long: `Run a scenario file through the same engine the daemon runs (policy.Decide and
policy.Reconcile), against a simulated cluster, and print the action log: every event, verdict
change, fence, restart, freeze, plan and hold (holds when they change), and where each VM runs
at the end. Nothing real is touched.

A scenario file has a description, a cluster (hosts: name, role, group, memory_mib, vcpus,
bmc; vms: name, host, protected, priority, memory_mib, vcpus), settings (recovery, timings,
approval, placement, named as in lifeboat.yaml), events (at: 3s, do: "power-off h1") and,
optionally, expect: the action log it should produce. Events: power-off, power-on, hang,
unhang, partition, partition-all, heal, crash-libvirtd, start-libvirtd, bmc-down, bmc-up,
fence-fails, fence-hangs, fence-works, fill, free, confirm-off, approve, reject (each with a
host), and isolate, unisolate, controller-restart, disarm, arm. policy/testdata/scenarios has
more than 40 examples.

With --config, the hosts' roles, groups and BMCs, the VMs' protection and priority, and the
recovery, timing, approval and placement settings come from your lifeboat configuration, so
that you can check it against the events; the scenario still gives the hosts' sizes and the
VMs.

The exit status is non-zero when an invariant fails (a VM on two hosts, a restart before a
fence, a lost VM), or when the file has an expect section and the log differs from it.`,
		Example: `  lifeboat simulate policy/testdata/scenarios/power-loss-2plus1.yaml
  lifeboat simulate my-scenario.yaml --config /etc/lifeboat/lifeboat.yaml
  lifeboat simulate my-scenario.yaml -o json`,
		Args: oneArg("scenario FILE", "; see policy/testdata/scenarios for examples"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			sc, err := sim.Load(args[0])
			if err != nil {
				return err
			}
			if cfgPath != "" {
				cfg, err := config.Load(cfgPath)
				if err != nil {
					return err
				}
				if sc, err = sim.WithConfig(sc, cfg); err != nil {
					return fmt.Errorf("scenario %s with config %s: %w", args[0], cfgPath, err)
				}
			}
			res := sim.Run(sc)
			out := simulateOutput{Scenario: args[0], Result: res}
			if sc.HasExpect {
				out.Diff = sim.Diff(sc.Expect, res.Log())
				ok := out.Diff == ""
				out.ExpectMatches = &ok
			}
			if output != "table" {
				if out.Violations == nil {
					out.Violations = []string{}
				}
				if err := printData(cmd.OutOrStdout(), output, out); err != nil {
					return err
				}
			} else {
				printSimulation(cmd.OutOrStdout(), out)
			}
			var why []string
			if n := len(res.Violations); n > 0 {
				why = append(why, fmt.Sprintf("%d invariant violations", n))
			}
			if out.ExpectMatches != nil && !*out.ExpectMatches {
				why = append(why, "the action log differs from expect")
			}
			if len(why) > 0 {
				return fmt.Errorf("%w: %s", errSimulationFailed, strings.Join(why, "; "))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", "", "take hosts, VM protection and settings from this lifeboat configuration")
	addOutputFlag(cmd, cmd.Flags(), &output)
	return cmd
}

func printSimulation(w io.Writer, out simulateOutput) {
	for _, l := range out.Log() {
		fmt.Fprintln(w, l)
	}
	if len(out.Violations) > 0 {
		fmt.Fprintf(w, "\n%d invariant violations:\n", len(out.Violations))
		for _, v := range out.Violations {
			fmt.Fprintln(w, "  "+v)
		}
	}
	if out.ExpectMatches != nil {
		if *out.ExpectMatches {
			fmt.Fprintln(w, "\nthe log matches expect")
		} else {
			fmt.Fprintf(w, "\nthe log differs from expect (- expected, + got):\n%s", out.Diff)
		}
	}
}
