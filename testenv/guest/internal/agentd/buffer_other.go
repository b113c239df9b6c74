//go:build !linux

package agentd

// allocBuffer allocates size bytes on the Go heap (the agent itself only runs on Linux).
func allocBuffer(size int) ([]byte, error) {
	return make([]byte, size), nil
}

// freeBuffer drops a buffer from allocBuffer; the garbage collector reclaims it.
func freeBuffer([]byte) {}
