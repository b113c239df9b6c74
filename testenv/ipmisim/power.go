package ipmisim

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
)

// powerActionTimeout bounds one power change asked for through IPMI (a lab host boots in a few
// seconds).
const powerActionTimeout = 2 * time.Minute

// powerHandler answers the chassis_control script on the Server's power socket:
//
//	GET  /power        → "power:1" or "power:0"
//	POST /power?on=0|1 → power off or on; empty answer
//	POST /reset        → power off, then on; empty answer
//
// Errors are a 4xx or 5xx status with a one-line message, which the script passes to ipmi_sim
// as its failure (ipmi_sim then answers the IPMI request with an error completion code).
type powerHandler struct {
	ctx   context.Context
	name  string
	power bmc.Power
	log   *slog.Logger
	// mu serialises power changes, as bmc.Power asks.
	mu sync.Mutex
}

func (h *powerHandler) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /power", func(w http.ResponseWriter, _ *http.Request) {
		v := 0
		if h.power.PowerState() == bmc.PowerOn {
			v = 1
		}
		fmt.Fprintf(w, "power:%d\n", v)
	})
	mux.HandleFunc("POST /power", func(w http.ResponseWriter, r *http.Request) {
		var on bool
		switch v := r.URL.Query().Get("on"); v {
		case "0":
		case "1":
			on = true
		default:
			http.Error(w, fmt.Sprintf("ipmisim %s: power value %q: want 0 or 1", h.name, v), http.StatusBadRequest)
			return
		}
		if err := h.set(r.Context(), on); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, r *http.Request) {
		err := h.set(r.Context(), false)
		if err == nil {
			err = h.set(r.Context(), true)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	return mux
}

// set powers off (on=false) or on, within powerActionTimeout and the Server's life.
func (h *powerHandler) set(reqCtx context.Context, on bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	ctx, cancel := context.WithTimeout(h.ctx, powerActionTimeout)
	defer cancel()
	stop := context.AfterFunc(reqCtx, cancel)
	defer stop()
	action, do := "off", h.power.ForceOff
	if on {
		action, do = "on", h.power.On
	}
	h.log.Info("ipmi chassis power", "bmc", h.name, "action", action)
	if err := do(ctx); err != nil {
		return fmt.Errorf("ipmisim %s: power %s: %w", h.name, action, err)
	}
	return nil
}
