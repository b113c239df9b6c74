package testenv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
)

// FaultyDisk is a disk that a SAN whose storage fails can be made of: a block device served
// over NBD, on a UNIX socket, from memory in this process, whose every read and write can be
// made to fail with an error the test picks. QEMU opens it as a network disk; with the disk's
// error policy at "stop" a failed request pauses the guest on an I/O error, as it does when a
// real LUN fails. (This kernel has no device-mapper, so an NBD server of our own stands in for
// `dmsetup ... error`.)
type FaultyDisk struct {
	socket string
	ln     net.Listener
	mu     sync.Mutex // guards data and conns
	data   []byte
	conns  map[net.Conn]struct{}
	errno  atomic.Uint32 // NBD error every request gets; 0 = healthy
	failed atomic.Uint64 // requests answered with an error
	wg     sync.WaitGroup
}

// nbdExport is the export name guests ask for (the server has one export and accepts any name).
// The disk needs a name: without one, libvirt 9.0 paused the guest on the error but no io_error
// event reached a remote client (seemingly because the event's source path is then NULL).
const nbdExport = "faulty"

// NBD errors QEMU understands (the NBD protocol's own numbering).
const (
	nbdEPERM  = 1
	nbdEIO    = 5
	nbdEINVAL = 22
	nbdENOSPC = 28
)

// NewFaultyDisk serves a zeroed disk of sizeMiB MiB on a UNIX socket at socketPath (which must
// not exist and must be reachable from the lab hosts' mount namespaces: a path in the lab's
// directory is). Close stops serving and removes the socket.
func NewFaultyDisk(socketPath string, sizeMiB int) (*FaultyDisk, error) {
	if sizeMiB < 1 {
		return nil, fmt.Errorf("testenv: faulty disk: size %d MiB: must be positive", sizeMiB)
	}
	ln, err := net.Listen("unix", socketPath)
	if err != nil {
		return nil, fmt.Errorf("testenv: faulty disk: %w", err)
	}
	d := &FaultyDisk{socket: socketPath, ln: ln, data: make([]byte, sizeMiB<<20), conns: map[net.Conn]struct{}{}}
	d.wg.Add(1)
	go d.accept()
	return d, nil
}

// Socket is the UNIX socket the disk is served on.
func (d *FaultyDisk) Socket() string { return d.socket }

// DiskXML is a libvirt <disk> element for the disk as target dev (e.g. "vda"), with the error
// policy "stop" for reads and writes: a failed request pauses the guest.
func (d *FaultyDisk) DiskXML(target string) string {
	return fmt.Sprintf("<disk type='network' device='disk'>\n"+
		"  <driver name='qemu' type='raw' cache='none' error_policy='stop' rerror_policy='stop'/>\n"+
		"  <source protocol='nbd' name='%s'><host transport='unix' socket='%s'/></source>\n"+
		"  <target dev='%s' bus='virtio'/>\n</disk>\n", nbdExport, html.EscapeString(d.socket), html.EscapeString(target))
}

// DomainXML is a tiny SeaBIOS guest (TCG, 64 MiB) that boots from the disk as vda: its first
// read of the disk meets any failure set with Fail.
func (d *FaultyDisk) DomainXML(name, uuid string) string {
	return fmt.Sprintf("<domain type='qemu'><name>%s</name><uuid>%s</uuid><memory unit='MiB'>64</memory><vcpu>1</vcpu>"+
		"<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os><devices>%s<memballoon model='none'/></devices></domain>",
		html.EscapeString(name), html.EscapeString(uuid), d.DiskXML("vda"))
}

// Fail makes every later read, write and flush fail with errno: syscall.EIO (a failing LUN),
// syscall.ENOSPC (a thin pool that ran out of space) or syscall.EPERM.
func (d *FaultyDisk) Fail(errno syscall.Errno) error {
	var code uint32
	switch errno {
	case syscall.EIO:
		code = nbdEIO
	case syscall.ENOSPC:
		code = nbdENOSPC
	case syscall.EPERM:
		code = nbdEPERM
	default:
		return fmt.Errorf("testenv: faulty disk: %v: want EIO, ENOSPC or EPERM", errno)
	}
	d.errno.Store(code)
	return nil
}

// Heal makes later requests succeed again.
func (d *FaultyDisk) Heal() { d.errno.Store(0) }

// FailedRequests counts the requests answered with an error so far.
func (d *FaultyDisk) FailedRequests() uint64 { return d.failed.Load() }

// Close stops serving (a guest still using the disk sees its connection drop), waits for the
// server's goroutines and removes the socket.
func (d *FaultyDisk) Close() error {
	err := d.ln.Close()
	d.mu.Lock()
	for c := range d.conns {
		_ = c.Close()
	}
	d.mu.Unlock()
	d.wg.Wait()
	if rmErr := os.Remove(d.socket); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) {
		err = errors.Join(err, rmErr)
	}
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("testenv: faulty disk: close: %w", err)
	}
	return nil
}

func (d *FaultyDisk) accept() {
	defer d.wg.Done()
	for {
		c, err := d.ln.Accept()
		if err != nil {
			return
		}
		d.mu.Lock()
		d.conns[c] = struct{}{}
		d.mu.Unlock()
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			_ = d.serve(c)
			d.mu.Lock()
			delete(d.conns, c)
			d.mu.Unlock()
			_ = c.Close()
		}()
	}
}

// NBD protocol constants (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md).
const (
	nbdMagic        = 0x4e42444d41474943 // "NBDMAGIC"
	nbdOptMagic     = 0x49484156454f5054 // "IHAVEOPT"
	nbdRepMagic     = 0x3e889045565a9
	nbdRequestMagic = 0x25609513
	nbdReplyMagic   = 0x67446698

	nbdFlagFixedNewstyle = 1 << 0
	nbdFlagNoZeroes      = 1 << 1

	nbdOptExportName = 1
	nbdOptAbort      = 2
	nbdOptGo         = 7

	nbdRepAck        = 1
	nbdRepInfo       = 3
	nbdRepErrUnsup   = 1<<31 | 1
	nbdInfoExport    = 0
	nbdTransHasFlags = 1 << 0
	nbdTransFlush    = 1 << 2

	nbdCmdRead  = 0
	nbdCmdWrite = 1
	nbdCmdDisc  = 2
	nbdCmdFlush = 3
)

// serve runs one client connection: the fixed-newstyle handshake, then simple replies.
func (d *FaultyDisk) serve(c net.Conn) error {
	be := binary.BigEndian
	var hello [18]byte
	be.PutUint64(hello[0:], nbdMagic)
	be.PutUint64(hello[8:], nbdOptMagic)
	be.PutUint16(hello[16:], nbdFlagFixedNewstyle|nbdFlagNoZeroes)
	if _, err := c.Write(hello[:]); err != nil {
		return err
	}
	var clientFlags uint32
	if err := binary.Read(c, be, &clientFlags); err != nil {
		return err
	}
	size := uint64(len(d.data))
	transFlags := uint16(nbdTransHasFlags | nbdTransFlush)
	optReply := func(opt, typ uint32, payload []byte) error {
		b := make([]byte, 20+len(payload))
		be.PutUint64(b[0:], nbdRepMagic)
		be.PutUint32(b[8:], opt)
		be.PutUint32(b[12:], typ)
		be.PutUint32(b[16:], uint32(len(payload)))
		copy(b[20:], payload)
		_, err := c.Write(b)
		return err
	}
	for negotiating := true; negotiating; {
		var hdr [16]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return err
		}
		if be.Uint64(hdr[0:]) != nbdOptMagic {
			return errors.New("nbd: bad option magic")
		}
		opt, n := be.Uint32(hdr[8:]), be.Uint32(hdr[12:])
		if n > 4096 {
			return errors.New("nbd: option too long")
		}
		if _, err := io.CopyN(io.Discard, c, int64(n)); err != nil {
			return err
		}
		switch opt {
		case nbdOptExportName: // any name: there is one export
			b := make([]byte, 10)
			be.PutUint64(b[0:], size)
			be.PutUint16(b[8:], transFlags)
			if clientFlags&nbdFlagNoZeroes == 0 {
				b = append(b, make([]byte, 124)...)
			}
			if _, err := c.Write(b); err != nil {
				return err
			}
			negotiating = false
		case nbdOptGo:
			info := make([]byte, 12)
			be.PutUint16(info[0:], nbdInfoExport)
			be.PutUint64(info[2:], size)
			be.PutUint16(info[10:], transFlags)
			if err := optReply(opt, nbdRepInfo, info); err != nil {
				return err
			}
			if err := optReply(opt, nbdRepAck, nil); err != nil {
				return err
			}
			negotiating = false
		case nbdOptAbort:
			_ = optReply(opt, nbdRepAck, nil)
			return nil
		default: // structured replies, meta contexts, TLS, lists: simple replies only
			if err := optReply(opt, nbdRepErrUnsup, nil); err != nil {
				return err
			}
		}
	}
	for {
		var req [28]byte
		if _, err := io.ReadFull(c, req[:]); err != nil {
			return err
		}
		if be.Uint32(req[0:]) != nbdRequestMagic {
			return errors.New("nbd: bad request magic")
		}
		typ, handle := be.Uint16(req[6:]), be.Uint64(req[8:])
		off, n := be.Uint64(req[16:]), uint64(be.Uint32(req[24:]))
		var payload []byte
		if typ == nbdCmdWrite {
			payload = make([]byte, n)
			if _, err := io.ReadFull(c, payload); err != nil {
				return err
			}
		}
		reply := make([]byte, 16, 16+n)
		be.PutUint32(reply[0:], nbdReplyMagic)
		be.PutUint64(reply[8:], handle)
		errno := d.errno.Load()
		switch {
		case typ == nbdCmdDisc:
			return nil
		case typ != nbdCmdRead && typ != nbdCmdWrite && typ != nbdCmdFlush:
			errno = nbdEINVAL
		case typ != nbdCmdFlush && (off > size || n > size-off):
			errno = nbdEINVAL
		case errno != 0:
			d.failed.Add(1)
		case typ == nbdCmdRead:
			d.mu.Lock()
			reply = append(reply, d.data[off:off+n]...)
			d.mu.Unlock()
		case typ == nbdCmdWrite:
			d.mu.Lock()
			copy(d.data[off:], payload)
			d.mu.Unlock()
		}
		be.PutUint32(reply[4:], errno)
		if _, err := c.Write(reply); err != nil {
			return err
		}
	}
}
