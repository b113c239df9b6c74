package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/testenv"
)

// newLabRunCmd is the process that runs a lab in the background: it starts the lab, serves its
// BMC emulators and control socket, and brings the lab down when asked or signalled.
// `lifeboat lab up` starts it; people do not run it by hand.
func newLabRunCmd() *cobra.Command {
	var opts testenv.Options
	var kind string
	cmd := &cobra.Command{
		Use:    "run",
		Short:  "Run a lab in the foreground until stopped (used by 'lab up')",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			slog.SetDefault(slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)))
			opts.GuestKind = testenv.GuestKind(kind)
			opts.SupervisorPID = os.Getpid()
			lab, err := testenv.Start(ctx, opts)
			if err != nil {
				return err
			}
			slog.Info("lab ready", "name", lab.Name(), "dir", lab.Dir(), "config", lab.ConfigPath())
			serr := testenv.Serve(ctx, lab)
			slog.Info("lab stopping", "name", lab.Name())
			if err := lab.Stop(); err != nil {
				return errors.Join(serr, fmt.Errorf("stop lab: %w", err))
			}
			slog.Info("lab removed", "name", lab.Name())
			return serr
		},
	}
	addLabShapeFlags(cmd, &opts, &kind)
	cmd.Flags().BoolVar(&opts.RemoveDir, "remove-dir", false, "remove --dir itself when the lab goes down")
	return cmd
}
