package api

import (
	"fmt"
	"net/http"
	"strings"
)

// registerForecaster adds the what-if and capacity routes.
func (s *server) registerForecaster(fc Forecaster) {
	s.handle(RoleViewer, "POST /v1/whatif", func(w http.ResponseWriter, r *http.Request) {
		var req WhatIfRequest
		if !decodeBody(w, r, &req) {
			return
		}
		if msg := checkWhatIf(req); msg != "" {
			writeError(w, http.StatusBadRequest, CodeBadRequest, msg)
			return
		}
		res, err := fc.WhatIf(r.Context(), req.Fail)
		if err != nil {
			s.backendError(w, r, "whatif", err)
			return
		}
		s.writeJSON(w, r, res)
	})
	s.handle(RoleViewer, "GET /v1/capacity", func(w http.ResponseWriter, r *http.Request) {
		c, err := fc.Capacity(r.Context())
		if err != nil {
			s.backendError(w, r, "capacity", err)
			return
		}
		s.writeJSON(w, r, c)
	})
}

// checkWhatIf returns what is wrong with a what-if request, naming the field, or "".
func checkWhatIf(req WhatIfRequest) string {
	switch {
	case len(req.Fail) == 0:
		return `fail is required: name the hosts to fail, e.g. {"fail":["h1"]}`
	case len(req.Fail) > MaxWhatIfHosts:
		return fmt.Sprintf("fail names %d hosts: at most %d", len(req.Fail), MaxWhatIfHosts)
	}
	for i, h := range req.Fail {
		if strings.TrimSpace(h) == "" {
			return fmt.Sprintf("fail[%d] is empty: want a host name", i)
		}
	}
	return ""
}
