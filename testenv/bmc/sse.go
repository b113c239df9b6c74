package bmc

import (
	"net/http"
	"strconv"
	"time"
)

// DefaultSSEHeartbeat is how often an idle SSE stream carries a comment line when
// Config.SSEHeartbeat is zero, so a client can tell an idle stream from a dead one.
const DefaultSSEHeartbeat = 30 * time.Second

// sseQueue is how many events a stream holds for a slow reader; a reader that falls further
// behind loses its stream (and reconnects), as on a BMC with bounded buffers.
const sseQueue = 32

// sseStream is one open Server-Sent Events connection.
type sseStream struct {
	session string // the id of the session it was opened with; "" for basic auth
	ch      chan event
	dropped chan struct{} // closed when the hub drops the stream
	once    bool          // dropped was closed (under the hub's lock)
}

// send queues ev without blocking; a full queue drops the stream. Caller holds the hub's lock.
func (st *sseStream) send(ev event) {
	select {
	case st.ch <- ev:
	default:
		st.drop()
	}
}

// drop ends the stream. Caller holds the hub's lock.
func (st *sseStream) drop() {
	if !st.once {
		st.once = true
		close(st.dropped)
	}
}

// DropEventStreams ends every open SSE stream at once, as a BMC whose event service restarts
// does; clients are expected to reconnect.
func (s *Server) DropEventStreams() {
	h := &s.events
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.streams {
		st.drop()
	}
}

// dropStreamsOf ends the streams opened with session id: a stream lives no longer than its
// session's login (DSP0266 closes them when the session is deleted).
func (s *Server) dropStreamsOf(id string) {
	h := &s.events
	h.mu.Lock()
	defer h.mu.Unlock()
	for st := range h.streams {
		if st.session == id {
			st.drop()
		}
	}
}

// getSSE answers GET /redfish/v1/EventService/SSE: a text/event-stream of Event resources,
// one per SSE message, the id field being the event's Id. The stream lasts until the client
// goes away, the server closes, DropEventStreams, or the session it was opened with is deleted; comment lines keep an idle stream visibly
// alive every Config.SSEHeartbeat.
func (s *Server) getSSE(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		writeError(w, apiError{status: http.StatusInternalServerError, messageID: msgInternalError,
			message: "The connection cannot stream events."})
		return
	}
	st := &sseStream{ch: make(chan event, sseQueue), dropped: make(chan struct{})}
	if token := r.Header.Get(authTokenHeader); token != "" {
		st.session = s.sessions.idOf(token)
	}
	h := &s.events
	h.mu.Lock()
	if h.streams == nil {
		h.streams = map[*sseStream]struct{}{}
	}
	h.streams[st] = struct{}{}
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.streams, st)
		h.mu.Unlock()
	}()

	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("OData-Version", "4.0")
	w.WriteHeader(http.StatusOK)
	fl.Flush()
	s.cfg.Logger.Debug("bmc event stream opened", "system", s.cfg.SystemID, "remote", r.RemoteAddr)
	beat := time.NewTicker(s.cfg.SSEHeartbeat)
	defer beat.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return
		case <-st.dropped:
			s.cfg.Logger.Debug("bmc event stream dropped", "system", s.cfg.SystemID, "remote", r.RemoteAddr)
			return
		case ev := <-st.ch:
			_, err = w.Write([]byte("id: " + strconv.FormatUint(ev.id, 10) + "\ndata: " + string(ev.payload("")) + "\n\n"))
		case <-beat.C:
			_, err = w.Write([]byte(":\n\n"))
		}
		if err != nil {
			return
		}
		fl.Flush()
	}
}
