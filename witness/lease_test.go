package witness

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestHolderSeesAnotherProcessLock(t *testing.T) {
	dir := t.TempDir()
	disk := "/dev/loop42"
	lf := LeaseFile(dir, disk)
	if err := os.WriteFile(lf, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	known, held, err := Count(dir, []string{disk, "/dev/none"})
	if err != nil || known != 1 || held != 0 {
		t.Fatalf("unlocked: known %d held %d err %v", known, held, err)
	}
	// lockd uses fcntl locks (flock(1) takes a different kind), so a child process takes one
	// through perl, which every Debian system has. The struct is x86-64's struct flock.
	cmd := exec.Command("perl", "-MFcntl", "-e", `open(F, "+<", $ARGV[0]) or die; my $l = pack("s s x4 q q l x4", F_WRLCK, 0, 0, 0, 0); fcntl(F, F_SETLKW, $l) or die "lock: $!"; print "locked\n"; $| = 1; sleep 30;`, lf)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Skipf("perl not available: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil {
		t.Fatal(err)
	}
	pid, err := Holder(lf)
	if err != nil || pid != cmd.Process.Pid {
		t.Fatalf("holder = %d (%v), want %d", pid, err, cmd.Process.Pid)
	}
	known, held, _ = Count(dir, []string{disk})
	if known != 1 || held != 1 {
		t.Fatalf("locked: known %d held %d", known, held)
	}
	if filepath.Dir(lf) != dir {
		t.Fatalf("lease file %s outside lockspace", lf)
	}
}
