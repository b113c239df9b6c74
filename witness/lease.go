// Package witness reads the disk-lease lockspace that every host shares (libvirt lockd's
// file_lockspace_dir) to tell, without asking a host, whether its guests still hold their disk
// leases: a held lease means a live QEMU process somewhere still owns that disk.
package witness

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// LeaseFile is the file lockd locks for a disk: the SHA-256 of the disk's path, in the lockspace.
func LeaseFile(lockspace, diskPath string) string {
	sum := sha256.Sum256([]byte(diskPath))
	return filepath.Join(lockspace, hex.EncodeToString(sum[:]))
}

// Holder returns the pid (as the lock's owner reports it) that holds the lease file locked, or 0
// when nobody does or the file does not exist. It only asks (F_GETLK) and never takes the lock,
// so it cannot disturb a guest's start.
func Holder(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("witness: lease %s: %w", path, err)
	}
	defer f.Close()
	lk := syscall.Flock_t{Type: syscall.F_WRLCK}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return 0, fmt.Errorf("witness: lease %s: %w", path, err)
	}
	if lk.Type == syscall.F_UNLCK {
		return 0, nil
	}
	return int(lk.Pid), nil
}

// Count reports, for the given disks, how many have a lease file in the lockspace (known) and
// how many of those are locked (held).
func Count(lockspace string, disks []string) (known, held int, err error) {
	for _, d := range disks {
		p := LeaseFile(lockspace, d)
		if _, serr := os.Stat(p); serr != nil {
			continue
		}
		known++
		pid, herr := Holder(p)
		if herr != nil {
			err = errors.Join(err, herr)
			continue
		}
		if pid != 0 {
			held++
		}
	}
	return known, held, err
}
