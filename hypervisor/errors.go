package hypervisor

import (
	"errors"
	"fmt"
	"strings"

	"libvirt.org/go/libvirt"
)

// Errors callers can test for with errors.Is.
var (
	// ErrNotConnected means the host's libvirt connection is down (reconnection is under way).
	ErrNotConnected = errors.New("not connected to libvirt")
	// ErrTimeout means libvirt did not answer in time.
	ErrTimeout = errors.New("libvirt did not answer in time")
	// ErrNoDomain means the domain does not exist on that host.
	ErrNoDomain = errors.New("no such domain")
	// ErrClosed means the Conn was closed.
	ErrClosed = errors.New("connection closed")
)

// wrap turns a libvirt error into one of this package's, keeping the text.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var le libvirt.Error
	if errors.As(err, &le) {
		switch le.Code {
		case libvirt.ERR_NO_DOMAIN:
			return fmt.Errorf("%s: %w: %s", op, ErrNoDomain, le.Message)
		case libvirt.ERR_SYSTEM_ERROR, libvirt.ERR_RPC, libvirt.ERR_NO_CONNECT, libvirt.ERR_INVALID_CONN:
			return fmt.Errorf("%s: %w: %s", op, ErrNotConnected, le.Message)
		case libvirt.ERR_INTERNAL_ERROR:
			// libvirt reports a peer connection that closed under a call (e.g. the source's
			// connection to a migration's destination) as an internal error.
			if strings.Contains(le.Message, "client socket is closed") {
				return fmt.Errorf("%s: %w: %s", op, ErrNotConnected, le.Message)
			}
		}
		return fmt.Errorf("%s: %s", op, le.Message)
	}
	return fmt.Errorf("%s: %w", op, err)
}
