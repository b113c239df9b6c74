package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// createLUN makes a guest's shared disk: a sparse image attached to a loop device that every
// host sees, as a SAN LUN would be.
func createLUN(ctx context.Context, g *guestState, sizeMiB int) (string, error) {
	if err := os.MkdirAll(filepath.Dir(g.LUNFile), 0o755); err != nil {
		return "", fmt.Errorf("testenv: LUN of %s: %w", g.Name, err)
	}
	f, err := os.OpenFile(g.LUNFile, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("testenv: LUN of %s: %w", g.Name, err)
	}
	err = f.Truncate(int64(sizeMiB) << 20)
	f.Close()
	if err != nil {
		return "", fmt.Errorf("testenv: LUN of %s: %w", g.Name, err)
	}
	dev, err := run(ctx, "losetup", "-f", "--show", g.LUNFile)
	if err != nil {
		return "", fmt.Errorf("testenv: LUN of %s: %w", g.Name, err)
	}
	return dev, nil
}

// detachLUNs detaches every loop device backed by the file (there is normally one).
func detachLUNs(ctx context.Context, file string) error {
	out, err := run(ctx, "losetup", "-j", file)
	if err != nil {
		return fmt.Errorf("testenv: find loop devices of %s: %w", file, err)
	}
	var errs []error
	for _, line := range strings.Split(out, "\n") {
		dev, _, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if _, err := run(ctx, "losetup", "-d", dev); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// leaseFile is the file virtlockd locks for a disk: the SHA-256 of its path, in the lockspace.
func leaseFile(s *labState, diskPath string) string {
	sum := sha256.Sum256([]byte(diskPath))
	return filepath.Join(lockspaceDir(s), hex.EncodeToString(sum[:]))
}

// leaseHolder returns the pid that holds a write lock on the lease file, or 0 when none does.
// It only asks (F_GETLK) and never takes the lock, so it cannot disturb a guest's start.
func leaseHolder(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("testenv: lease %s: %w", path, err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: 0, Len: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return 0, fmt.Errorf("testenv: lease %s: %w", path, err)
	}
	if lk.Type == syscall.F_UNLCK {
		return 0, nil
	}
	return int(lk.Pid), nil
}
