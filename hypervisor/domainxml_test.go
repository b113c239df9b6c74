package hypervisor

import (
	"errors"
	"reflect"
	"testing"
)

func TestDomainDisks(t *testing.T) {
	def := `<domain type='kvm'><name>g1</name><uuid>u-1</uuid><devices>
<disk type='block' device='disk'><source dev='/dev/loop3'/></disk>
<disk type='file' device='disk'><source file='/var/lib/a.qcow2'/></disk>
<disk type='file' device='cdrom'><source file='/iso/x.iso'/></disk>
</devices></domain>`
	name, uuid, disks, err := DomainDisks(def)
	if err != nil || name != "g1" || uuid != "u-1" || !reflect.DeepEqual(disks, []string{"/dev/loop3", "/var/lib/a.qcow2"}) {
		t.Fatalf("got %q %q %v %v", name, uuid, disks, err)
	}
	for _, bad := range []string{"", "<domain>", "<domain><uuid>x</uuid></domain>", "not xml at all <"} {
		if _, _, _, err := DomainDisks(bad); !errors.Is(err, ErrBadDomainXML) {
			t.Errorf("%q: got %v, want ErrBadDomainXML", bad, err)
		}
	}
}

func FuzzDomainDisks(f *testing.F) {
	f.Add(`<domain><name>a</name><devices><disk><source dev='/dev/x'/></disk></devices></domain>`)
	f.Fuzz(func(t *testing.T, s string) {
		_, _, _, _ = DomainDisks(s)
	})
}

func TestTCPEndpoint(t *testing.T) {
	cases := map[string]string{
		"qemu+tcp://10.0.0.1/system":      "10.0.0.1:16509",
		"qemu+tcp://10.0.0.1:1234/system": "10.0.0.1:1234",
		"qemu://host/system":              "host:16514",
		"qemu+ssh://root@h/system":        "h:22",
		"qemu:///system":                  "",
		"qemu+unix:///system":             "",
	}
	for uri, want := range cases {
		got, err := tcpEndpoint(uri)
		if err != nil || got != want {
			t.Errorf("%s: got %q %v, want %q", uri, got, err, want)
		}
	}
}
