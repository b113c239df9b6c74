package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/testenv"
)

// newLabDownCmd removes a lab and everything it made.
func newLabDownCmd() *cobra.Command {
	var dir string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Remove a lab and everything it made",
		Long: `Remove a lab and everything it made: its processes, mounts, loop devices, network
namespaces, bridges and files. It returns only once every host's processes (libvirtd, virtlockd,
QEMU) have exited, and names any that outlive SIGKILL by 30 s. It works even when the lab process
has died.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			abs, err := filepath.Abs(dir)
			if err != nil {
				return fmt.Errorf("--dir %q: %w", dir, err)
			}
			ctl, err := testenv.Dial(abs)
			if err != nil {
				return err
			}
			pid := testenv.SupervisorPID(abs)
			if err := ctl.Stop(ctx); err == nil && pid > 0 {
				deadline := time.Now().Add(2 * time.Minute)
				for processExists(pid) && time.Now().Before(deadline) {
					time.Sleep(100 * time.Millisecond)
				}
				if processExists(pid) {
					fmt.Fprintf(cmd.ErrOrStderr(), "lab process (pid %d) did not exit within 2m; removing the lab without it\n", pid)
				}
			}
			// Whatever the lab process left (or all of it, if it had died) goes now.
			if _, err := os.Stat(filepath.Join(abs, "lab.json")); err == nil {
				if err := testenv.Cleanup(ctx, abs); err != nil && !errors.Is(err, testenv.ErrNoLab) {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "lab in %s removed\n", abs)
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", defaultLabDir, "directory that holds the lab")
	return cmd
}

// processExists reports whether pid is a live (non-zombie) process.
func processExists(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	for i := len(b) - 1; i > 0; i-- {
		if b[i] == ')' && i+2 < len(b) {
			return b[i+2] != 'Z'
		}
	}
	return true
}
