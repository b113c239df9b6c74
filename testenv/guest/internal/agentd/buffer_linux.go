//go:build linux

package agentd

import (
	"fmt"
	"syscall"
)

// allocBuffer maps size bytes of anonymous memory outside the Go heap: no page is touched
// until the dirtier writes it, and freeBuffer returns it to the kernel at once.
func allocBuffer(size int) ([]byte, error) {
	b, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		return nil, fmt.Errorf("allocate %d MiB: %w", size>>20, err)
	}
	return b, nil
}

// freeBuffer unmaps a buffer from allocBuffer.
func freeBuffer(b []byte) {
	if b != nil {
		_ = syscall.Munmap(b)
	}
}
