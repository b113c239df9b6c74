package testenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// stateFile is the name, inside the lab directory, of the lab's durable description. It is
// written before each resource is made, so that Cleanup can remove everything even after a crash.
const stateFile = "lab.json"

// labState is everything needed to reach, show and remove a lab.
type labState struct {
	Name        string       `json:"name"`
	Dir         string       `json:"dir"`
	CreatedDir  bool         `json:"created_dir"`
	Subnet      int          `json:"subnet"`
	MgmtBridge  string       `json:"mgmt_bridge"`
	GuestBridge string       `json:"guest_bridge"`
	GuestKind   GuestKind    `json:"guest_kind"`
	Hosts       []hostState  `json:"hosts"`
	Guests      []guestState `json:"guests"`
	Etcd        []etcdState  `json:"etcd,omitempty"`
	Config      string       `json:"config,omitempty"`
	// SupervisorPID is the pid of the `lifeboat lab run` process that serves the BMCs, if any.
	SupervisorPID int  `json:"supervisor_pid,omitempty"`
	Ready         bool `json:"ready"`
}

// hostState is one lab host.
type hostState struct {
	Name        string `json:"name"`
	Role        string `json:"role"`
	NetNS       string `json:"netns"`
	Address     string `json:"address"`
	MgmtVeth    string `json:"mgmt_veth"`
	GuestVeth   string `json:"guest_veth"`
	HostUUID    string `json:"host_uuid"`
	BMCURL      string `json:"bmc_url,omitempty"`
	BMCCredFile string `json:"bmc_credentials_file,omitempty"`
	// BMCSHA256 is the SHA-256 of the BMC emulator's self-signed certificate, which the lab's
	// daemon configuration pins.
	BMCSHA256 string `json:"bmc_sha256,omitempty"`
	// IPMIDir holds the host's IPMI BMC (ipmi_sim) files; IPMIPort is its UDP port on
	// 127.0.0.1, IPMIPID its ipmi_sim process and IPMICredFile its credentials.
	IPMIDir      string `json:"ipmi_dir,omitempty"`
	IPMIPort     int    `json:"ipmi_port,omitempty"`
	IPMIPID      int    `json:"ipmi_pid,omitempty"`
	IPMICredFile string `json:"ipmi_credentials_file,omitempty"`
	Freezer      string `json:"freezer,omitempty"`
	Powered      bool   `json:"powered"`
	Partitioned  bool   `json:"partitioned"`
	Frozen       bool   `json:"frozen"`
	BMCDown      bool   `json:"bmc_down"`
	Health       string `json:"health,omitempty"`
	Reason       string `json:"health_reason,omitempty"`
	// GuestCut: the host's guest network is cut too (partition --all).
	GuestCut bool `json:"guest_cut,omitempty"`
}

// guestState is one lab guest.
type guestState struct {
	Name    string `json:"name"`
	UUID    string `json:"uuid"`
	Home    string `json:"home"`
	IP      string `json:"ip,omitempty"`
	MAC     string `json:"mac"`
	LUNFile string `json:"lun_file"`
	LUNDev  string `json:"lun_dev,omitempty"`
}

// save writes the state atomically.
func (s *labState) save() error {
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("testenv: encode lab state: %w", err)
	}
	p := filepath.Join(s.Dir, stateFile)
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return fmt.Errorf("testenv: write lab state: %w", err)
	}
	if err := os.Rename(tmp, p); err != nil {
		return fmt.Errorf("testenv: write lab state: %w", err)
	}
	return nil
}

// ErrNoLab means the directory holds no lab.
var ErrNoLab = errors.New("no lab in this directory")

// loadState reads the state of the lab in dir.
func loadState(dir string) (*labState, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("testenv: lab dir %q: %w", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(abs, stateFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("testenv: %s: %w (no %s)", abs, ErrNoLab, stateFile)
	}
	if err != nil {
		return nil, fmt.Errorf("testenv: read lab state: %w", err)
	}
	var s labState
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("testenv: %s is corrupt: %w", filepath.Join(abs, stateFile), err)
	}
	if s.Dir != abs {
		return nil, fmt.Errorf("testenv: %s describes a lab in %q, not %q", stateFile, s.Dir, abs)
	}
	return &s, nil
}

// host returns the named host's state.
func (s *labState) host(name string) (*hostState, error) {
	for i := range s.Hosts {
		if s.Hosts[i].Name == name {
			return &s.Hosts[i], nil
		}
	}
	names := make([]string, 0, len(s.Hosts))
	for _, h := range s.Hosts {
		names = append(names, h.Name)
	}
	return nil, fmt.Errorf("%w: %q (lab %s has %v)", ErrUnknownHost, name, s.Name, names)
}

// ErrUnknownHost means a host name that the lab does not have.
var ErrUnknownHost = errors.New("unknown host")
