package hypervisor

import (
	"context"
	"fmt"

	"libvirt.org/go/libvirt"
)

// Survey is what one short libvirt connection learns about a host: who answers, with which
// versions, its capacity and its running domains (with their disks). It is for checks made
// once, such as `lifeboat preflight`; the daemon keeps long-lived connections instead.
type Survey struct {
	// Hostname is the host's name as libvirt reports it.
	Hostname string
	// LibvirtVersion and QEMUVersion are libvirtd's and the hypervisor's versions as
	// MAJOR*1000000+MINOR*1000+RELEASE.
	LibvirtVersion, QEMUVersion uint32
	CPUs                        uint
	MemoryKiB                   uint64
	// Running are the active domains.
	Running []SurveyDomain
}

// SurveyDomain is one running domain in a Survey.
type SurveyDomain struct {
	Name      string
	MemoryKiB uint64
	VCPUs     uint
	// Disks are the domain's disk source paths (files or block devices).
	Disks []string
}

// Version formats a libvirt version number as MAJOR.MINOR.RELEASE.
func Version(v uint32) string {
	return fmt.Sprintf("%d.%d.%d", v/1000000, v/1000%1000, v%1000)
}

// Endpoint returns the HOST:PORT a remote libvirt URI connects to (16509 for tcp, 16514 for
// tls, 22 for ssh, unless the URI names a port), or "" for a local or other transport.
func Endpoint(uri string) (string, error) { return tcpEndpoint(uri) }

// SurveyHost connects to uri once, reads the survey and disconnects. The connect is bounded by
// ctx (a connect that outlives it is closed when it completes).
func SurveyHost(ctx context.Context, uri string) (Survey, error) {
	if err := startEventLoop(); err != nil {
		return Survey{}, err
	}
	type result struct {
		conn *libvirt.Connect
		err  error
	}
	res := make(chan result, 1)
	go func() {
		conn, err := libvirt.NewConnect(uri)
		res <- result{conn, err}
	}()
	var r result
	select {
	case r = <-res:
	case <-ctx.Done():
		go func() {
			if late := <-res; late.conn != nil {
				late.conn.Close()
			}
		}()
		return Survey{}, fmt.Errorf("hypervisor: connect %s: %w: %w", uri, ErrTimeout, ctx.Err())
	}
	if r.err != nil {
		return Survey{}, wrap("connect "+uri, r.err)
	}
	conn := r.conn
	defer conn.Close()
	var s Survey
	var err error
	if s.Hostname, err = conn.GetHostname(); err != nil {
		return s, wrap("hostname", err)
	}
	if s.LibvirtVersion, err = conn.GetLibVersion(); err != nil {
		return s, wrap("libvirt version", err)
	}
	if s.QEMUVersion, err = conn.GetVersion(); err != nil {
		return s, wrap("hypervisor version", err)
	}
	ni, err := conn.GetNodeInfo()
	if err != nil {
		return s, wrap("node info", err)
	}
	s.CPUs, s.MemoryKiB = ni.Cpus, ni.Memory
	doms, err := conn.ListAllDomains(libvirt.CONNECT_LIST_DOMAINS_ACTIVE)
	if err != nil {
		return s, wrap("list domains", err)
	}
	for i := range doms {
		d := &doms[i]
		sd, derr := surveyDomain(d)
		d.Free()
		if derr != nil {
			return s, derr
		}
		s.Running = append(s.Running, sd)
	}
	return s, ctx.Err()
}

// surveyDomain reads one domain's size and disks.
func surveyDomain(d *libvirt.Domain) (SurveyDomain, error) {
	info, err := d.GetInfo()
	if err != nil {
		return SurveyDomain{}, wrap("domain info", err)
	}
	xml, err := d.GetXMLDesc(0)
	if err != nil {
		return SurveyDomain{}, wrap("domain XML", err)
	}
	name, _, disks, err := DomainDisks(xml)
	if err != nil {
		return SurveyDomain{}, err
	}
	return SurveyDomain{Name: name, MemoryKiB: info.Memory, VCPUs: uint(info.NrVirtCpu), Disks: disks}, nil
}

// LibraryVersion returns the version of the libvirt library this program runs with
// (MAJOR.MINOR.RELEASE), without connecting anywhere.
func LibraryVersion() (string, error) {
	v, err := libvirt.GetVersion()
	if err != nil {
		return "", wrap("libvirt library version", err)
	}
	return Version(v), nil
}
