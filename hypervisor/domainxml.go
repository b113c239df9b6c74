package hypervisor

import (
	"encoding/xml"
	"errors"
	"fmt"
)

// ErrBadDomainXML means a domain definition that cannot be parsed or lacks what lifeboat needs.
var ErrBadDomainXML = errors.New("bad domain XML")

// domainDoc is the part of a libvirt domain definition lifeboat reads.
type domainDoc struct {
	XMLName xml.Name `xml:"domain"`
	Name    string   `xml:"name"`
	UUID    string   `xml:"uuid"`
	Disks   []struct {
		Type   string `xml:"type,attr"`
		Device string `xml:"device,attr"`
		Source struct {
			Dev  string `xml:"dev,attr"`
			File string `xml:"file,attr"`
			Name string `xml:"name,attr"`
		} `xml:"source"`
	} `xml:"devices>disk"`
}

// DomainDisks parses a domain definition and returns its name, UUID and the paths of its disks
// (block devices and files; the ones lockd guards with leases). CD-ROMs and floppies are skipped.
func DomainDisks(def string) (name, uuid string, disks []string, err error) {
	var d domainDoc
	if err := xml.Unmarshal([]byte(def), &d); err != nil {
		return "", "", nil, fmt.Errorf("hypervisor: %w: %w", ErrBadDomainXML, err)
	}
	if d.Name == "" {
		return "", "", nil, fmt.Errorf("hypervisor: %w: no <name>", ErrBadDomainXML)
	}
	for _, disk := range d.Disks {
		if disk.Device == "cdrom" || disk.Device == "floppy" {
			continue
		}
		switch {
		case disk.Source.Dev != "":
			disks = append(disks, disk.Source.Dev)
		case disk.Source.File != "":
			disks = append(disks, disk.Source.File)
		}
	}
	return d.Name, d.UUID, disks, nil
}
