package testenv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/lifeboat-ha/lifeboat/witness"
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

// leaseFile is the file virtlockd locks for a disk, in the lab's shared lockspace.
func leaseFile(s *labState, diskPath string) string {
	return witness.LeaseFile(lockspaceDir(s), diskPath)
}
