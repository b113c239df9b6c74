package bmc

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"
)

// Resource paths, without trailing slashes.
const (
	pathVersions   = "/redfish"
	pathRoot       = "/redfish/v1"
	pathSystems    = "/redfish/v1/Systems"
	resetActionSeg = "/Actions/ComputerSystem.Reset"
	redfishVersion = "1.15.0"
)

// Reset types the emulator accepts, in the order it advertises them.
const (
	resetOn           = "On"
	resetForceOff     = "ForceOff"
	resetForceRestart = "ForceRestart"
)

// allowedResetTypes is advertised as ResetType@Redfish.AllowableValues.
var allowedResetTypes = []string{resetOn, resetForceOff, resetForceRestart}

// odataID is a Redfish link: {"@odata.id": "..."}.
type odataID struct {
	ID string `json:"@odata.id"`
}

// systemPath is the ComputerSystem's resource path.
func (s *Server) systemPath() string { return pathSystems + "/" + s.cfg.SystemID }

// resetPath is the ComputerSystem.Reset action target.
func (s *Server) resetPath() string { return s.systemPath() + resetActionSeg }

// uuid is a stable, name-derived UUID for the system, so a client sees the
// same identity across restarts of the emulator.
func (s *Server) uuid() string {
	h := sha256.Sum256([]byte("lifeboat-bmc/" + s.cfg.SystemID))
	h[6] = h[6]&0x0f | 0x50 // version 5 layout (name based)
	h[8] = h[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// getVersions answers GET /redfish, the protocol version document.
func (s *Server) getVersions(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"v1": pathRoot + "/"})
}

// getServiceRoot answers GET /redfish/v1.
func (s *Server) getServiceRoot(w http.ResponseWriter, _ *http.Request) {
	root := map[string]any{
		"@odata.type":    "#ServiceRoot.v1_15_0.ServiceRoot",
		"@odata.id":      pathRoot,
		"Id":             "RootService",
		"Name":           "Lifeboat BMC Emulator",
		"RedfishVersion": redfishVersion,
		"UUID":           s.uuid(),
		"Product":        "lifeboat-bmc",
		"Vendor":         "lifeboat",
		"Systems":        odataID{pathSystems},
		"SessionService": odataID{pathSessionService},
		"EventService":   odataID{pathEventService},
		"Links":          map[string]any{"Sessions": odataID{pathSessions}},
	}
	if s.cfg.NoEventService {
		delete(root, "EventService")
	}
	if s.cfg.NoSessionService {
		delete(root, "SessionService")
		root["Links"] = map[string]any{}
	}
	writeJSON(w, http.StatusOK, root)
}

// getSystems answers GET /redfish/v1/Systems.
func (s *Server) getSystems(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.type":         "#ComputerSystemCollection.ComputerSystemCollection",
		"@odata.id":           pathSystems,
		"Name":                "Computer System Collection",
		"Members":             []odataID{{s.systemPath()}},
		"Members@odata.count": 1,
	})
}

// getSystem answers GET /redfish/v1/Systems/{id}.
func (s *Server) getSystem(w http.ResponseWriter, _ *http.Request) {
	power := s.cfg.Power.PowerState()
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.type":  "#ComputerSystem.v1_20_0.ComputerSystem",
		"@odata.id":    s.systemPath(),
		"Id":           s.cfg.SystemID,
		"Name":         s.cfg.SystemID,
		"SystemType":   "Physical",
		"Manufacturer": "lifeboat",
		"Model":        "lifeboat lab host",
		"HostName":     s.cfg.SystemID,
		"UUID":         s.uuid(),
		"PowerState":   power,
		"Status":       s.systemStatus(power),
		"Actions": map[string]any{
			"#ComputerSystem.Reset": map[string]any{
				"target":                            s.resetPath(),
				"ResetType@Redfish.AllowableValues": allowedResetTypes,
			},
		},
	})
}

// systemStatus renders the system's Status object for the given power state.
func (s *Server) systemStatus(power PowerState) map[string]any {
	health, reason, since := s.healthSnapshot()
	state := "Enabled"
	if power == PowerOff {
		state = "StandbyOffline"
	}
	status := map[string]any{
		"State":        state,
		"Health":       health,
		"HealthRollup": health,
	}
	if health != HealthOK {
		status["Conditions"] = []map[string]any{{
			"MessageId": "ResourceEvent.1.0.ResourceStatusChanged" + string(health),
			"Message":   reason,
			"Severity":  health,
			"Timestamp": since.UTC().Format(time.RFC3339),
		}}
	}
	return status
}
