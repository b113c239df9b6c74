package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// controlSocket is the UNIX socket, in the lab directory, through which `lifeboat lab` commands
// reach the process that runs the lab (and its BMC emulators).
const controlSocket = "control.sock"

// faultRequest is the body of POST /fault.
type faultRequest struct {
	Host   string `json:"host"`
	Kind   string `json:"kind"`
	Reason string `json:"reason,omitempty"`
	Health string `json:"health,omitempty"`
	All    bool   `json:"all,omitempty"`
}

type errorBody struct {
	Error string `json:"error"`
}

// Serve answers lab commands on the lab's control socket until ctx ends or a client asks the
// lab to stop; then it returns (the caller stops the lab).
func Serve(ctx context.Context, l *Lab) error {
	path := filepath.Join(l.Dir(), controlSocket)
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return fmt.Errorf("testenv: control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return fmt.Errorf("testenv: control socket: %w", err)
	}
	stop := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, r *http.Request) {
		st, err := l.Status()
		if err != nil {
			writeJSON(w, http.StatusInternalServerError, errorBody{err.Error()})
			return
		}
		writeJSON(w, http.StatusOK, st)
	})
	mux.HandleFunc("POST /fault", func(w http.ResponseWriter, r *http.Request) {
		var req faultRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{"bad fault request: " + err.Error()})
			return
		}
		kind, err := ParseFaultKind(req.Kind)
		if err != nil {
			writeJSON(w, http.StatusBadRequest, errorBody{err.Error()})
			return
		}
		err = l.Fault(r.Context(), req.Host, kind, FaultParams{Reason: req.Reason, Health: bmc.Health(req.Health), All: req.All})
		switch {
		case errors.Is(err, ErrUnknownHost):
			writeJSON(w, http.StatusNotFound, errorBody{err.Error()})
		case err != nil:
			writeJSON(w, http.StatusConflict, errorBody{err.Error()})
		default:
			writeJSON(w, http.StatusOK, struct{}{})
		}
	})
	mux.HandleFunc("POST /stop", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusAccepted, struct{}{})
		select {
		case <-stop:
		default:
			close(stop)
		}
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case <-ctx.Done():
	case <-stop:
	case err := <-errc:
		return fmt.Errorf("testenv: control socket: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}
