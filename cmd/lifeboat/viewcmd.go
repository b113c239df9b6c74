package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// viewCommand completes cmd (its Use, Short and Long set) into a command that fetches a view
// from the daemon and prints it: with print by default, as JSON or YAML with -o json|yaml (an empty list as
// [], never null). It adds the client flags and -o. fetch is a method expression of the
// client, such as (*api.Client).Hosts.
func viewCommand[T any](cmd *cobra.Command, fetch func(*api.Client, context.Context) (T, error), print func(io.Writer, *api.Client, T) error) *cobra.Command {
	var output string
	cf := addClientFlags(cmd)
	addOutputFlag(cmd, cmd.Flags(), &output)
	if cmd.Args == nil {
		cmd.Args = cobra.NoArgs
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		c, err := cf.client()
		if err != nil {
			return err
		}
		v, err := fetch(c, cmd.Context())
		if err != nil {
			return apiError(err)
		}
		if output != "table" {
			return printData(cmd.OutOrStdout(), output, v)
		}
		return print(cmd.OutOrStdout(), c, v)
	}
	return cmd
}
