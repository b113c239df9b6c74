// Package testenv runs a real KVM cluster on one machine: several libvirt hosts, each a libvirtd
// and virtlockd in its own mount, UTS and network namespaces, with shared LUNs (loop devices),
// a shared disk-lease lockspace, a guest network that spans every host, a Redfish BMC emulator
// per host, and faults to inject on demand. Tests and `lifeboat lab` use it; nothing here is a
// mock: guests are real QEMU processes that migrate and hold real leases.
package testenv

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/lifeboat-ha/lifeboat/testenv/bmc"
	"github.com/lifeboat-ha/lifeboat/testenv/etcdtest"
	"github.com/lifeboat-ha/lifeboat/testenv/ipmisim"
)

// Lab is a running lab. Its methods are safe for concurrent use.
type Lab struct {
	mu     sync.Mutex
	st     *labState
	opts   Options
	bmcs   map[string]*bmc.Server
	ipmis  map[string]*ipmisim.Server
	etcd   map[string]*etcdtest.Member
	log    *slog.Logger
	done   bool
	guest  string // guest image directory
	ctx    context.Context
	cancel context.CancelFunc
}

// Host describes how to reach one lab host.
type Host struct {
	Name string `json:"name"`
	// Role is "active" (has guests) or "standby" (empty, for restarts).
	Role    string `json:"role"`
	Address string `json:"address"`
	// LibvirtURI reaches the host's libvirtd over the management network.
	LibvirtURI string `json:"libvirt_uri"`
	// BMCURL is the host's Redfish BMC (HTTPS, self-signed, basic auth).
	BMCURL string `json:"bmc_url"`
	// BMCCredentialsFile holds the BMC's username= and password= lines.
	BMCCredentialsFile string `json:"bmc_credentials_file"`
	// IPMIPort is the UDP port, on 127.0.0.1, of the host's IPMI-over-LAN BMC (ipmi_sim; RMCP+,
	// cipher suite 3); zero when ipmi_sim is not installed.
	IPMIPort int `json:"ipmi_port,omitempty"`
	// IPMICredentialsFile holds the IPMI BMC's username= and password= lines.
	IPMICredentialsFile string `json:"ipmi_credentials_file,omitempty"`
	// NetNS is the host's network namespace.
	NetNS string `json:"netns"`
}

// Guest describes one lab guest.
type Guest struct {
	Name string `json:"name"`
	UUID string `json:"uuid"`
	// Home is the host the guest was first started on.
	Home string `json:"home"`
	// IP is the guest's address on the guest network (Linux guests only).
	IP string `json:"ip,omitempty"`
	// Disk is the shared LUN (a loop device) the guest's disk lease covers.
	Disk string `json:"disk"`
}

// GuestProcess is a guest's QEMU process found by scanning a host's processes.
type GuestProcess struct {
	Host  string `json:"host"`
	Guest string `json:"guest"`
	PID   int    `json:"pid"`
	// Incoming is set when the process was started as a migration destination (-incoming). While
	// a live migration runs, the guest has two processes: the source and an incoming one.
	Incoming bool `json:"incoming,omitempty"`
	// Started is when the process started.
	Started time.Time `json:"started"`
}

// Start builds and starts a lab. On error, everything made so far is removed again.
func Start(ctx context.Context, opts Options) (*Lab, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("testenv: the lab needs root (namespaces, bridges, loop devices)")
	}
	if _, err := os.Stat("/dev/kvm"); err != nil && opts.GuestKind == GuestBIOS {
		return nil, fmt.Errorf("testenv: BIOS guests need /dev/kvm: %w", err)
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, stateFile)); err == nil {
		return nil, fmt.Errorf("testenv: %s already holds a lab (%s); bring it down first", opts.Dir, stateFile)
	}
	st := &labState{Name: opts.Name, Dir: opts.Dir, GuestKind: opts.GuestKind, SupervisorPID: opts.SupervisorPID}
	if _, err := os.Stat(opts.Dir); errors.Is(err, os.ErrNotExist) || opts.RemoveDir {
		st.CreatedDir = true
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("testenv: lab dir: %w", err)
	}
	l := &Lab{st: st, opts: opts, bmcs: map[string]*bmc.Server{}, ipmis: map[string]*ipmisim.Server{}, etcd: map[string]*etcdtest.Member{}, log: slog.Default(), guest: opts.GuestDir}
	// The lab outlives Start's context (its BMCs serve until Stop), but keeps its values.
	l.ctx, l.cancel = context.WithCancel(context.WithoutCancel(ctx))
	if err := l.build(ctx); err != nil {
		if cerr := l.Stop(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("testenv: cleanup after failed start: %w", cerr))
		}
		return nil, err
	}
	return l, nil
}

// build makes every part of the lab, saving the state before each step.
func (l *Lab) build(ctx context.Context) error {
	st, opts := l.st, l.opts
	unlock, err := lockAlloc()
	if err != nil {
		return err
	}
	st.Subnet, err = freeSubnet()
	if err == nil {
		st.MgmtBridge, st.GuestBridge = st.Name+"-m", st.Name+"-g"
		if linkExists(st.MgmtBridge) || linkExists(st.GuestBridge) {
			err = fmt.Errorf("testenv: a lab named %q already runs on this machine (bridge %s exists)", st.Name, st.MgmtBridge)
			st.MgmtBridge, st.GuestBridge = "", ""
		}
	}
	if err == nil {
		if err = st.save(); err == nil {
			err = setupBridges(ctx, st)
		}
	}
	unlock()
	if err != nil {
		return err
	}
	for i := 0; i < opts.Hosts+opts.Standby; i++ {
		role := "active"
		if i >= opts.Hosts {
			role = "standby"
		}
		name := fmt.Sprintf("h%d", i+1)
		st.Hosts = append(st.Hosts, hostState{
			Name: name, Role: role, NetNS: st.Name + "-" + name, Address: mgmtAddr(st.Subnet, i+1),
			MgmtVeth: st.Name + "-" + name + "m", GuestVeth: st.Name + "-" + name + "g",
			HostUUID: newUUID(), Freezer: "lifeboat-" + st.Name + "-" + name, Health: string(bmc.HealthOK),
		})
	}
	if err := st.save(); err != nil {
		return err
	}
	if err := l.eachHost(func(h *hostState) error {
		if err := setupHostNet(ctx, st, h); err != nil {
			return err
		}
		if err := writeHostConfig(st, h); err != nil {
			return err
		}
		if err := writeHostsFile(st, h); err != nil {
			return err
		}
		return bootHost(ctx, st, h)
	}); err != nil {
		return err
	}
	for i := range st.Hosts {
		st.Hosts[i].Powered = true
		if err := l.startBMC(l.ctx, &st.Hosts[i]); err != nil {
			return err
		}
	}
	if err := st.save(); err != nil {
		return err
	}
	if err := l.startIPMIs(ctx); err != nil {
		return err
	}
	if err := l.startGuests(ctx); err != nil {
		return err
	}
	if err := l.startEtcd(ctx); err != nil {
		return err
	}
	cfg, err := writeDaemonConfig(st)
	if err != nil {
		return err
	}
	st.Config = cfg
	st.Ready = true
	return st.save()
}

// eachHost runs fn for every host in parallel and joins the errors.
func (l *Lab) eachHost(fn func(h *hostState) error) error {
	errs := make([]error, len(l.st.Hosts))
	var wg sync.WaitGroup
	for i := range l.st.Hosts {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = fn(&l.st.Hosts[i])
		}(i)
	}
	wg.Wait()
	return errors.Join(errs...)
}

// startGuests creates each guest's LUN, defines it on its home host and starts it, then waits
// until Linux guests answer on the guest network.
func (l *Lab) startGuests(ctx context.Context) error {
	st, opts := l.st, l.opts
	for i := 0; i < opts.VMs; i++ {
		g := guestState{
			Name: fmt.Sprintf("g%d", i+1), UUID: newUUID(), Home: st.Hosts[i%opts.Hosts].Name,
			MAC:     fmt.Sprintf("52:54:00:%02x:%02x:%02x", st.Subnet, (i+1)>>8, (i+1)&0xff),
			LUNFile: filepath.Join(st.Dir, "luns", fmt.Sprintf("g%d.img", i+1)),
		}
		if opts.GuestKind == GuestLinux {
			g.IP = guestAddr(st.Subnet, i+1)
		}
		st.Guests = append(st.Guests, g)
		if err := st.save(); err != nil {
			return err
		}
		dev, err := createLUN(ctx, &st.Guests[i], opts.LUNSizeMiB)
		if err != nil {
			return err
		}
		st.Guests[i].LUNDev = dev
		if err := st.save(); err != nil {
			return err
		}
	}
	for i := range st.Guests {
		g := &st.Guests[i]
		h, err := st.host(g.Home)
		if err != nil {
			return err
		}
		if err := defineAndStart(ctx, st, h, domainXML(st, g, opts.GuestKind, opts.GuestMemoryMiB, l.guest)); err != nil {
			return fmt.Errorf("testenv: guest %s: %w", g.Name, err)
		}
	}
	if opts.NoWait || opts.GuestKind != GuestLinux {
		return nil
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	for _, g := range st.Guests {
		if err := WaitGuestUp(wctx, g.IP); err != nil {
			return fmt.Errorf("testenv: guest %s: %w", g.Name, err)
		}
	}
	return nil
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// Name is the lab's name, the prefix of everything it made.
func (l *Lab) Name() string { return l.st.Name }

// Dir is the lab directory.
func (l *Lab) Dir() string { return l.st.Dir }

// ConfigPath is the daemon configuration written for this lab.
func (l *Lab) ConfigPath() string { return l.st.Config }

// Hosts lists the lab's hosts in order.
func (l *Lab) Hosts() []Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Host, 0, len(l.st.Hosts))
	for i := range l.st.Hosts {
		out = append(out, publicHost(&l.st.Hosts[i]))
	}
	return out
}

// Host returns one host by name.
func (l *Lab) Host(name string) (Host, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	h, err := l.st.host(name)
	if err != nil {
		return Host{}, err
	}
	return publicHost(h), nil
}

func publicHost(h *hostState) Host {
	return Host{Name: h.Name, Role: h.Role, Address: h.Address, LibvirtURI: libvirtURI(h),
		BMCURL: h.BMCURL, BMCCredentialsFile: h.BMCCredFile, IPMIPort: h.IPMIPort, IPMICredentialsFile: h.IPMICredFile, NetNS: h.NetNS}
}

func libvirtURI(h *hostState) string { return fmt.Sprintf("qemu+tcp://%s/system", h.Address) }

// Guests lists the lab's guests in order.
func (l *Lab) Guests() []Guest {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Guest, 0, len(l.st.Guests))
	for _, g := range l.st.Guests {
		out = append(out, Guest{Name: g.Name, UUID: g.UUID, Home: g.Home, IP: g.IP, Disk: g.LUNDev})
	}
	return out
}

// GuestXML returns the libvirt definition the lab gave the guest, for restarting it elsewhere.
func (l *Lab) GuestXML(name string) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := range l.st.Guests {
		if l.st.Guests[i].Name == name {
			return domainXML(l.st, &l.st.Guests[i], l.opts.GuestKind, l.opts.GuestMemoryMiB, l.guest), nil
		}
	}
	return "", fmt.Errorf("testenv: unknown guest %q", name)
}
