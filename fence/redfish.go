package fence

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lifeboat-ha/lifeboat/redfish"
)

// DefaultPoll is how often a method re-reads the power state while it waits for it to go off.
const DefaultPoll = 250 * time.Millisecond

// redfishRequestTimeout bounds each Redfish request; the method's context bounds the whole.
const redfishRequestTimeout = 10 * time.Second

// redfishMethod fences through a Redfish BMC: ComputerSystem.Reset ForceOff, then polls the
// PowerState until it reads Off.
type redfishMethod struct {
	endpoint string
	client   *redfish.Client
	poll     time.Duration
}

// NewRedfish returns a method that sends ForceOff to the BMC at endpoint (an https URL) and then
// polls the system's PowerState every poll (zero means DefaultPoll) until it reads Off.
// systemID picks the system (empty: the first); trust says how the BMC's certificate is checked.
func NewRedfish(endpoint, systemID string, creds redfish.Credentials, trust redfish.Trust, poll time.Duration) (Method, error) {
	if creds.Username == "" || creds.Password == "" {
		return nil, errors.New("fence: redfish: credentials need a username and a password")
	}
	c, err := redfish.New(endpoint, systemID, creds, trust, redfishRequestTimeout)
	if err != nil {
		return nil, fmt.Errorf("fence: %w", err)
	}
	if poll <= 0 {
		poll = DefaultPoll
	}
	return &redfishMethod{endpoint: endpoint, client: c, poll: poll}, nil
}

// Name implements Method.
func (m *redfishMethod) Name() string { return "redfish" }

// Status implements Method: true when the BMC reads the power Off. It logs out afterwards: a
// fence method is used now and then and should not hold one of the BMC's sessions meanwhile.
func (m *redfishMethod) Status(ctx context.Context) (bool, error) {
	defer m.logout(ctx)
	return m.status(ctx)
}

// logout ends the method's BMC session, within a few seconds even when ctx is done.
func (m *redfishMethod) logout(ctx context.Context) {
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	m.client.Logout(lctx)
}

// status reads whether the power is Off.
func (m *redfishMethod) status(ctx context.Context) (bool, error) {
	st, err := m.client.Status(ctx)
	if err != nil {
		return false, err
	}
	return st.Power == "off", nil
}

// Off implements Method. A ForceOff the BMC refuses still counts if the power reads Off (some
// BMCs refuse to turn off a system that is already off).
func (m *redfishMethod) Off(ctx context.Context) error {
	defer m.logout(ctx)
	offErr := m.client.ForceOff(ctx)
	if offErr != nil {
		if off, err := m.status(ctx); err == nil && off {
			return nil
		}
		return offErr
	}
	last := "unknown"
	var lastErr error
	t := time.NewTicker(m.poll)
	defer t.Stop()
	for {
		st, err := m.client.Status(ctx)
		switch {
		case err == nil && st.Power == "off":
			return nil
		case err == nil:
			last, lastErr = st.Power, nil
		case ctx.Err() == nil: // a read cut short by the deadline says nothing
			lastErr = err
		}
		select {
		case <-ctx.Done():
			if lastErr != nil {
				return fmt.Errorf("%w: %s: power %q after ForceOff: %w (last read: %w)", ErrNotVerified, m.endpoint, last, ctx.Err(), lastErr)
			}
			return fmt.Errorf("%w: %s: power still %q after ForceOff: %w", ErrNotVerified, m.endpoint, last, ctx.Err())
		case <-t.C:
		}
	}
}
