package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
)

// GuestKind selects what runs inside the lab's guests.
type GuestKind string

const (
	// GuestLinux boots the tiny Linux image (Debian cloud kernel + busybox initramfs) under TCG.
	// It answers ping on the guest network and can dirty memory on request.
	GuestLinux GuestKind = "linux"
	// GuestBIOS boots nothing: SeaBIOS idles under KVM. Cheap: starts, migrates and holds its
	// disk lease, but has no network stack.
	GuestBIOS GuestKind = "bios"
)

// Options describe a lab to start. The zero value plus Dir is a valid two-host lab with one guest.
type Options struct {
	// Dir holds every file of the lab (configs, host state, LUN images, lockspace, logs).
	// It is created if missing. Required.
	Dir string
	// Name identifies the lab; it prefixes namespaces, bridges and links, so two labs need two
	// names. At most 6 lower-case letters or digits. Empty picks a random one.
	Name string
	// Hosts is the number of active hosts (they get guests). Default 2.
	Hosts int
	// Standby is the number of standby hosts: empty, reserved for restarts.
	Standby int
	// VMs is the number of guests, spread round-robin over the active hosts. Default 1.
	VMs int
	// GuestKind selects the guest image. Default GuestLinux.
	GuestKind GuestKind
	// GuestMemoryMiB is each guest's memory. Default 128 (Linux) or 64 (BIOS).
	GuestMemoryMiB int
	// GuestDir holds vmlinuz and initrd.img for Linux guests (see scripts/build-guest.sh).
	// Default: $LIFEBOAT_GUEST_DIR, else build/guest under the nearest directory with go.mod.
	GuestDir string
	// LUNSizeMiB is the size of each guest's shared disk (a loop device). Default 16.
	LUNSizeMiB int
	// NoWait returns as soon as the guests are started instead of waiting until each Linux guest
	// answers on the guest network.
	NoWait bool
	// RemoveDir removes Dir itself at Stop even though it existed before Start (the caller made
	// it for the lab). Start always removes a Dir that it created.
	RemoveDir bool
	// SupervisorPID is recorded in the lab state so that a later `lifeboat lab down` can ask the
	// process that runs the lab (and its BMCs) to stop. Zero for a lab run inside a test.
	SupervisorPID int
	// BMCUser is the user name of every host's BMC. Default "admin"; the password is random.
	BMCUser string
	// Etcd is the number of etcd members to start (0, 1, 3 or 5), each in a network namespace of
	// its own on the management network; the lab's daemon configuration then uses
	// store.backend etcd. Default 0: the embedded store.
	Etcd int
}

var labNameRE = regexp.MustCompile(`^[a-z0-9]{1,6}$`)

// withDefaults fills unset fields and validates the result. Errors name the field at fault.
func (o Options) withDefaults() (Options, error) {
	if o.Dir == "" {
		return o, errors.New("testenv: Options.Dir is required")
	}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return o, fmt.Errorf("testenv: Options.Dir %q: %w", o.Dir, err)
	}
	o.Dir = abs
	if o.Name == "" {
		o.Name = randomName()
	}
	if !labNameRE.MatchString(o.Name) {
		return o, fmt.Errorf("testenv: Options.Name %q: want 1 to 6 lower-case letters or digits", o.Name)
	}
	if o.Hosts == 0 {
		o.Hosts = 2
	}
	if o.Hosts < 1 || o.Hosts+o.Standby > 16 {
		return o, fmt.Errorf("testenv: Options.Hosts %d + Standby %d: want 1 to 16 hosts in all", o.Hosts, o.Standby)
	}
	if o.Standby < 0 {
		return o, fmt.Errorf("testenv: Options.Standby %d: must not be negative", o.Standby)
	}
	if o.VMs < 0 || o.VMs > 64 {
		return o, fmt.Errorf("testenv: Options.VMs %d: want 0 to 64", o.VMs)
	}
	switch o.GuestKind {
	case "":
		o.GuestKind = GuestLinux
	case GuestLinux, GuestBIOS:
	default:
		return o, fmt.Errorf("testenv: Options.GuestKind %q: want %q or %q", o.GuestKind, GuestLinux, GuestBIOS)
	}
	if o.GuestMemoryMiB == 0 {
		o.GuestMemoryMiB = 128
		if o.GuestKind == GuestBIOS {
			o.GuestMemoryMiB = 64
		}
	}
	minMem := 32
	if o.GuestKind == GuestLinux {
		minMem = 80 // the cloud kernel needs about 52 MiB to unpack itself, loaded at 16 MiB
	}
	if o.GuestMemoryMiB < minMem || o.GuestMemoryMiB > 4096 {
		return o, fmt.Errorf("testenv: Options.GuestMemoryMiB %d: want %d to 4096 for %s guests", o.GuestMemoryMiB, minMem, o.GuestKind)
	}
	if o.LUNSizeMiB == 0 {
		o.LUNSizeMiB = 16
	}
	if o.LUNSizeMiB < 1 {
		return o, fmt.Errorf("testenv: Options.LUNSizeMiB %d: must be positive", o.LUNSizeMiB)
	}
	switch o.Etcd {
	case 0, 1, 3, 5:
	default:
		return o, fmt.Errorf("testenv: Options.Etcd %d: want 0 (embedded store), 1, 3 or 5 members", o.Etcd)
	}
	if o.BMCUser == "" {
		o.BMCUser = "admin"
	}
	if o.GuestKind == GuestLinux && o.VMs > 0 {
		if o.GuestDir == "" {
			o.GuestDir = DefaultGuestDir()
		}
		for _, f := range []string{"vmlinuz", "initrd.img"} {
			if _, err := os.Stat(filepath.Join(o.GuestDir, f)); err != nil {
				return o, fmt.Errorf("testenv: Options.GuestDir %q has no %s (build it with `make guest`): %w", o.GuestDir, f, err)
			}
		}
	}
	return o, nil
}

// DefaultGuestDir is where the guest image is looked for when Options.GuestDir is empty:
// $LIFEBOAT_GUEST_DIR, else build/guest under the nearest directory (from the working directory
// up) that holds a go.mod, else /var/lib/lifeboat/guest.
func DefaultGuestDir() string {
	if d := os.Getenv("LIFEBOAT_GUEST_DIR"); d != "" {
		return d
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				return filepath.Join(d, "build", "guest")
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	return "/var/lib/lifeboat/guest"
}
