package testenv

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFaultyDisk drives the NBD server with QEMU's own NBD client (qemu-io): reads and writes
// go through while healthy, fail with the chosen error once failed, and go through again after
// Heal.
func TestFaultyDisk(t *testing.T) {
	qemuIO, err := exec.LookPath("qemu-io")
	if err != nil {
		t.Skip("qemu-io not installed (Debian package qemu-utils)")
	}
	d, err := NewFaultyDisk(filepath.Join(t.TempDir(), "disk.sock"), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	}()
	io := func(cmds ...string) string {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		args := []string{"-f", "raw"}
		for _, c := range cmds {
			args = append(args, "-c", c)
		}
		args = append(args, "nbd+unix:///?socket="+d.Socket())
		out, _ := exec.CommandContext(ctx, qemuIO, args...).CombinedOutput()
		return string(out)
	}
	if out := io("write -P 0xab 4096 4096", "read -P 0xab 4096 4096", "read -P 0 0 4096"); strings.Contains(out, "fail") || strings.Count(out, "ops/sec") != 3 {
		t.Fatalf("healthy disk:\n%s", out)
	}
	if err := d.Fail(syscall.ENOSPC); err != nil {
		t.Fatal(err)
	}
	if out := io("write -P 0xcd 0 512"); !strings.Contains(out, "No space left on device") {
		t.Fatalf("write to a disk failed with ENOSPC:\n%s", out)
	}
	if err := d.Fail(syscall.EIO); err != nil {
		t.Fatal(err)
	}
	if out := io("read 0 512"); !strings.Contains(out, "Input/output error") {
		t.Fatalf("read from a disk failed with EIO:\n%s", out)
	}
	if n := d.FailedRequests(); n < 2 { // and the flushes qemu-io makes on exit
		t.Errorf("failed requests: %d, want at least 2", n)
	}
	d.Heal()
	if out := io("read -P 0xab 4096 4096"); strings.Contains(out, "fail") || !strings.Contains(out, "ops/sec") {
		t.Fatalf("healed disk:\n%s", out)
	}
	if err := d.Fail(syscall.EBUSY); err == nil {
		t.Error("Fail(EBUSY) accepted")
	}
}
