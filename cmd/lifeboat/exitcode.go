package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/api"
)

// Exit statuses of the lifeboat command, for scripts. They are listed in 'lifeboat --help' and
// the README.
const (
	// exitOK: the command did what was asked.
	exitOK = 0
	// exitError: any other error (the daemon unreachable, a failed migration, a bad config...).
	exitError = 1
	// exitUsage: the command line is wrong (unknown command or flag, wrong arguments, bad -o).
	exitUsage = 2
	// exitPending: the daemon made a plan that waits for approval (approval mode).
	exitPending = 3
	// exitRefused: the daemon refused the request in the cluster's current state (HTTP 409).
	exitRefused = 4
	// exitTimeout: --timeout passed before the operation finished (it goes on in the daemon).
	exitTimeout = 5
)

// exitCodesHelp documents the exit statuses in 'lifeboat --help'.
const exitCodesHelp = `Exit status:
  0  done
  1  error
  2  usage: unknown command or flag, wrong arguments, bad -o
  3  waiting for approval: the daemon made a plan (approval mode); 'lifeboat approve ID' runs it
  4  refused: the daemon refused the request in the cluster's current state (HTTP 409)
  5  timed out: --timeout passed first; the operation goes on in the daemon`

var (
	// errUsage marks a wrong command line (exit status 2).
	errUsage = errors.New("usage")
	// errPendingApproval marks a request that became a plan waiting for approval (exit status 3).
	errPendingApproval = errors.New("waiting for approval")
	// errTimedOut marks a wait that --timeout ended (exit status 5).
	errTimedOut = errors.New("timed out")
)

// usageErr is a command-line error: its text is err's, and it matches errUsage.
type usageErr struct{ err error }

// Error implements error.
func (e usageErr) Error() string { return e.err.Error() }

// Unwrap returns the error it marks.
func (e usageErr) Unwrap() error { return e.err }

// Is matches errUsage.
func (e usageErr) Is(target error) bool { return target == errUsage }

// usageError marks err as a command-line error (exit status 2).
func usageError(err error) error { return usageErr{err: err} }

// exitCode maps the error a command returned to the process's exit status.
func exitCode(err error) int {
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, errUsage):
		return exitUsage
	case errors.Is(err, errPendingApproval):
		return exitPending
	case errors.Is(err, api.ErrConflict):
		return exitRefused
	case errors.Is(err, errTimedOut):
		return exitTimeout
	default:
		return exitError
	}
}

// markUsageErrors makes every command-line error of the tree under root a usage error: flag
// errors, argument validation, and an unknown subcommand of a command group (which cobra would
// otherwise report as a plain error, or answer with the group's help and status 0).
func markUsageErrors(root *cobra.Command) {
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError(err) })
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
			c.Args = cobra.ArbitraryArgs
			c.RunE = func(cmd *cobra.Command, args []string) error {
				if len(args) == 0 {
					return cmd.Help()
				}
				msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
				if cmd.SuggestionsMinimumDistance <= 0 {
					cmd.SuggestionsMinimumDistance = 2
				}
				if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
					msg += "; did you mean " + strings.Join(s, " or ") + "?"
				}
				return usageError(fmt.Errorf("%s ('%s --help' lists the commands)", msg, cmd.CommandPath()))
			}
			return
		}
		if args := c.Args; args != nil {
			c.Args = func(cmd *cobra.Command, a []string) error {
				if err := args(cmd, a); err != nil {
					return usageError(err)
				}
				return nil
			}
		}
	}
	walk(root)
}
