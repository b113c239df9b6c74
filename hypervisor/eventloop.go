package hypervisor

import (
	"fmt"
	"sync"

	"libvirt.org/go/libvirt"
)

var (
	loopOnce sync.Once
	loopErr  error
)

// startEventLoop registers libvirt's default event implementation (before the first connection,
// as libvirt requires) and runs it on one goroutine for the life of the process. Callbacks run
// on that goroutine: they copy their data out and return.
func startEventLoop() error {
	loopOnce.Do(func() {
		if err := libvirt.EventRegisterDefaultImpl(); err != nil {
			loopErr = fmt.Errorf("hypervisor: register libvirt event loop: %w", err)
			return
		}
		go func() {
			for {
				if err := libvirt.EventRunDefaultImpl(); err != nil {
					// Nothing to return to: the loop must keep running.
					continue
				}
			}
		}()
	})
	return loopErr
}
