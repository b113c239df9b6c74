package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/lifeboat-ha/lifeboat/testenv"
)

// addLabShapeFlags declares the flags that shape a lab (shared by 'lab up' and 'lab run').
func addLabShapeFlags(cmd *cobra.Command, opts *testenv.Options, kind *string) {
	f := cmd.Flags()
	f.StringVar(&opts.Dir, "dir", defaultLabDir, "directory that holds the lab's files")
	f.StringVar(&opts.Name, "name", "", "lab name, the prefix of its namespaces and bridges (1-6 of a-z0-9; default random)")
	f.IntVar(&opts.Hosts, "hosts", 3, "number of active hosts (they get the guests)")
	f.IntVar(&opts.Standby, "standby", 0, "number of standby hosts (empty, for restarts)")
	f.IntVar(&opts.VMs, "vms", 4, "number of guests, spread over the active hosts")
	f.StringVar(kind, "guest", string(testenv.GuestLinux), "guest kind: linux (tiny Linux under TCG, answers ping) or bios (SeaBIOS under KVM)")
	f.IntVar(&opts.GuestMemoryMiB, "guest-memory", 0, "guest memory in MiB (default 128 for linux, 64 for bios)")
	f.IntVar(&opts.Etcd, "etcd", 0, "etcd members to start (1, 3 or 5), each in a namespace of its own; lifeboat.yaml then uses store.backend etcd (default 0: the embedded store)")
	f.StringVar(&opts.GuestDir, "guest-dir", "", "directory with vmlinuz and initrd.img (default $LIFEBOAT_GUEST_DIR or ./build/guest)")
}

// newLabUpCmd starts a lab in the background and prints how to reach it.
func newLabUpCmd() *cobra.Command {
	var opts testenv.Options
	var kind string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start a lab cluster in the background",
		Long: `Start a lab cluster in the background and print how to reach each host. It writes
DIR/lifeboat.yaml, a daemon configuration for this cluster, and DIR/lab.log, the lab process's log.
With --etcd N it also starts an N-member etcd cluster (Debian's etcd-server), each member in a
network namespace of its own on the management network (10.201.S.201, .202, ...; data in
DIR/etcd/etcdN), and lifeboat.yaml uses store.backend etcd on it: start several daemons on that
file (each with its own --name and --listen) and one of them leads. Faults reach the members as
'lifeboat lab fault etcdN kill|start|partition|heal'.
Bring it down with 'lifeboat lab down --dir DIR'.`,
		Example: "  lifeboat lab up --hosts 3 --standby 1 --vms 4 --dir /tmp/lab\n  lifeboat lab up --hosts 2 --standby 1 --vms 2 --etcd 3 --dir /tmp/halab",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch {
			case opts.Hosts < 1:
				return fmt.Errorf("--hosts %d: want at least 1", opts.Hosts)
			case opts.Standby < 0:
				return fmt.Errorf("--standby %d: must not be negative", opts.Standby)
			case opts.VMs < 0:
				return fmt.Errorf("--vms %d: must not be negative", opts.VMs)
			case opts.Etcd != 0 && opts.Etcd != 1 && opts.Etcd != 3 && opts.Etcd != 5:
				return fmt.Errorf("--etcd %d: want 1, 3 or 5 members (or 0 for the embedded store)", opts.Etcd)
			case kind != string(testenv.GuestLinux) && kind != string(testenv.GuestBIOS):
				return fmt.Errorf("--guest %q: want linux or bios", kind)
			}
			if os.Geteuid() != 0 {
				return errors.New("the lab needs root (namespaces, bridges, loop devices)")
			}
			dir, err := filepath.Abs(opts.Dir)
			if err != nil {
				return fmt.Errorf("--dir %q: %w", opts.Dir, err)
			}
			if _, err := os.Stat(filepath.Join(dir, "lab.json")); err == nil {
				return fmt.Errorf("--dir %s already holds a lab: bring it down first with 'lifeboat lab down --dir %s'", dir, dir)
			}
			if opts.GuestDir == "" && kind == string(testenv.GuestLinux) {
				opts.GuestDir = testenv.DefaultGuestDir()
			}
			if opts.GuestDir != "" {
				// libvirtd opens the kernel and initrd: a relative path would be its own.
				if opts.GuestDir, err = filepath.Abs(opts.GuestDir); err != nil {
					return fmt.Errorf("--guest-dir %q: %w", opts.GuestDir, err)
				}
			}
			return labUp(cmd.Context(), cmd.OutOrStdout(), dir, opts, kind, timeout)
		},
	}
	addLabShapeFlags(cmd, &opts, &kind)
	cmd.Flags().DurationVar(&timeout, "timeout", 5*time.Minute, "how long to wait for the lab to be ready")
	return cmd
}

// labUp starts `lifeboat lab run` detached, waits until the lab is ready and prints it.
func labUp(ctx context.Context, out io.Writer, dir string, opts testenv.Options, kind string, timeout time.Duration) error {
	_, statErr := os.Stat(dir)
	created := errors.Is(statErr, os.ErrNotExist)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	logPath := filepath.Join(dir, "lab.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("lab log: %w", err)
	}
	defer logf.Close()
	// A lab that fails removes its directory, log included: read the log through a handle
	// opened now, which outlives the file's name.
	logr, err := os.Open(logPath)
	if err != nil {
		return fmt.Errorf("lab log: %w", err)
	}
	defer logr.Close()
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own binary: %w", err)
	}
	args := []string{"lab", "run", "--dir", dir, "--hosts", strconv.Itoa(opts.Hosts),
		"--standby", strconv.Itoa(opts.Standby), "--vms", strconv.Itoa(opts.VMs), "--guest", kind,
		"--guest-memory", strconv.Itoa(opts.GuestMemoryMiB), "--guest-dir", opts.GuestDir, "--etcd", strconv.Itoa(opts.Etcd)}
	if opts.Name != "" {
		args = append(args, "--name", opts.Name)
	}
	if created {
		args = append(args, "--remove-dir")
	}
	child := exec.Command(self, args...)
	child.Stdout, child.Stderr = logf, logf
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return fmt.Errorf("start lab process: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	start := time.Now()
	deadline := time.After(timeout)
	fmt.Fprintf(out, "starting lab in %s (log: %s) ...\n", dir, logPath)
	var logText []byte // the lab process removes its files when it fails: keep what it said
	readLog := func() {
		if b, err := io.ReadAll(logr); err == nil {
			logText = append(logText, b...)
		}
	}
	for {
		readLog()
		select {
		case err := <-exited:
			readLog()
			if created {
				_ = os.Remove(logPath)
				_ = os.Remove(dir)
			}
			return fmt.Errorf("lab process exited (%v) before the lab was ready:\n%s", err, tail(logText, 15))
		case <-deadline:
			_ = child.Process.Signal(syscall.SIGTERM)
			return fmt.Errorf("lab not ready after %s; stopping it (see %s)", timeout, logPath)
		case <-ctx.Done():
			_ = child.Process.Signal(syscall.SIGTERM)
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
		ctl, err := testenv.Dial(dir)
		if err != nil {
			continue
		}
		st, err := ctl.Status(ctx)
		if err != nil || !st.Ready {
			continue
		}
		_ = child.Process.Release()
		fmt.Fprintf(out, "lab %s is up in %s\n\n", st.Name, time.Since(start).Round(100*time.Millisecond))
		printLab(out, st)
		fmt.Fprintf(out, "\ndaemon config: %s\nstatus:        lifeboat lab status --dir %s\nfaults:        lifeboat lab fault --dir %s HOST KIND\ndown:          lifeboat lab down --dir %s\n",
			st.Config, dir, dir, dir)
		return nil
	}
}

// printLab prints the hosts and guests of a lab as tables.
func printLab(out io.Writer, st testenv.Status) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tROLE\tPOWER\tADDRESS\tLIBVIRT\tBMC\tFAULTS\tGUESTS")
	for _, h := range st.Hosts {
		var faults []string
		if h.Frozen {
			faults = append(faults, "frozen")
		}
		if h.Partitioned {
			faults = append(faults, "partitioned")
		}
		if h.GuestNetCut {
			faults = append(faults, "guest-net-cut")
		}
		if h.BMCDown {
			faults = append(faults, "bmc-down")
		}
		if h.Health != "" && h.Health != "OK" {
			faults = append(faults, "health="+h.Health)
		}
		if len(faults) == 0 {
			faults = []string{"-"}
		}
		guests := strings.Join(h.Guests, ",")
		if guests == "" {
			guests = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.Role, h.Power, h.Address, h.LibvirtURI, h.BMCURL, strings.Join(faults, ","), guests)
	}
	tw.Flush()
	if len(st.Etcd) > 0 {
		fmt.Fprintln(out)
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ETCD	CLIENT URL	PID	FAULTS")
		for _, e := range st.Etcd {
			var faults []string
			if !e.Running {
				faults = append(faults, "killed")
			}
			if e.Partitioned {
				faults = append(faults, "partitioned")
			}
			if len(faults) == 0 {
				faults = []string{"-"}
			}
			pid := "-"
			if e.PID > 0 {
				pid = strconv.Itoa(e.PID)
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, e.ClientURL, pid, strings.Join(faults, ","))
		}
		tw.Flush()
	}
	if len(st.Guests) == 0 {
		return
	}
	fmt.Fprintln(out)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "GUEST\tHOME\tIP\tDISK")
	for _, g := range st.Guests {
		ip := g.IP
		if ip == "" {
			ip = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Name, g.Home, ip, g.Disk)
	}
	tw.Flush()
}

// tail returns the last n lines of a text.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
