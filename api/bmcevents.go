package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/config"
	"github.com/lifeboat-ha/lifeboat/redfish"
)

// BMCEventPath is the route prefix of the receiver of events that BMCs push (Redfish event
// subscriptions): host H's BMC POSTs to BMCEventPath + H. BMCs cannot send the API's
// credentials, so the route takes none: each event must carry, as its Context, the secret the
// daemon subscribed with.
const BMCEventPath = config.BMCEventPath

// BMCEventReceiver is implemented by a backend that takes events pushed by BMCs. An event is
// only a hint that something changed: the backend reads the BMC to learn what, so a forged
// event can cost at most one extra read.
type BMCEventReceiver interface {
	// BMCEventContext returns the Context that host's subscription was created with (its
	// secret), and false when host takes no pushed events.
	BMCEventContext(host string) (string, bool)
	// ReceiveBMCEvents takes the records of one event pushed by host's BMC, once its Context
	// has been checked.
	ReceiveBMCEvents(ctx context.Context, host string, events []redfish.Event)
}

// registerBMCEvents adds the pushed-event receiver route.
func (s *server) registerBMCEvents(rc BMCEventReceiver) {
	s.bmcEvents = rc
	s.mux.HandleFunc("POST "+BMCEventPath+"{host}", s.handleBMCEvent)
}

// isBMCEventPath reports whether path is the pushed-event receiver's, which authenticates by
// the event's Context instead of the API's credentials.
func (s *server) isBMCEventPath(path string) bool {
	return s.bmcEvents != nil && strings.HasPrefix(path, BMCEventPath)
}

// handleBMCEvent serves POST /v1/bmc-events/{host}: the host must take pushed events (404),
// the body must be a Redfish Event of at most redfish.MaxPushedEvent bytes (413, 400), and its
// Context must be the host's subscription secret (401, compared in constant time).
func (s *server) handleBMCEvent(w http.ResponseWriter, r *http.Request) {
	host := r.PathValue("host")
	secret, ok := s.bmcEvents.BMCEventContext(host)
	if !ok {
		writeError(w, http.StatusNotFound, CodeNotFound,
			fmt.Sprintf("host %q takes no pushed BMC events: it is not configured, or its bmc.events is not push (or auto without an SSE stream)", host))
		return
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, redfish.MaxPushedEvent))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, CodeBadRequest,
				fmt.Sprintf("the pushed BMC event is larger than %d bytes", redfish.MaxPushedEvent))
			return
		}
		writeError(w, http.StatusBadRequest, CodeBadRequest, "request body: "+err.Error())
		return
	}
	ev, err := redfish.ParsePushedEvent(b)
	if err != nil {
		writeError(w, http.StatusBadRequest, CodeBadRequest, "pushed BMC event for host "+host+": "+err.Error())
		return
	}
	if secret == "" || subtle.ConstantTimeCompare([]byte(ev.Context), []byte(secret)) != 1 {
		if n, ok := s.refusedEvents.note(time.Now()); ok {
			s.log.Warn("api: pushed BMC event refused: wrong Context", "host", host, "remote", remoteHost(r), "refused_since_last_log", n)
		}
		writeError(w, http.StatusUnauthorized, CodeUnauthorized,
			fmt.Sprintf("the event's Context is not the secret of host %s's current subscription (a subscription of an earlier run, or a forged event)", host))
		return
	}
	s.bmcEvents.ReceiveBMCEvents(r.Context(), host, ev.Events)
	w.WriteHeader(http.StatusNoContent)
}

// refusedLogEvery is the least time between two log lines about refused pushed events: an
// unauthenticated caller must not be able to flood the log.
const refusedLogEvery = time.Minute

// logLimiter lets one log line through per refusedLogEvery, and counts those it held back.
type logLimiter struct {
	mu   sync.Mutex
	last time.Time
	held int
}

// note counts an occurrence at now and reports whether to log it, with how many occurrences
// it stands for (itself and those held back since the last line).
func (l *logLimiter) note(now time.Time) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.held++
	if !l.last.IsZero() && now.Sub(l.last) < refusedLogEvery {
		return 0, false
	}
	n := l.held
	l.last, l.held = now, 0
	return n, true
}
