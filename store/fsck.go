package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
)

// This file checks the bbolt page structure of a store file with plain reads
// (no mmap, no bbolt code), before bbolt is allowed to touch it. bbolt trusts
// its file: a damaged page can make it index out of range, fault on the
// mapping, recurse forever or allocate without bound, and some of that
// happens in goroutines where a recover cannot reach. Everything bbolt will
// follow on Open and in later transactions is checked here first: the meta
// pages, the file size against the high water mark, the freelist page, and
// every branch, leaf and bucket page reachable from the root, with bounds,
// page types, single ownership and key order. It mirrors bbolt's own
// tx.Check, minus the "unreachable unfreed" leak check, which is harmless.
//
// The layout constants below are bbolt's on-disk format (version 2), which
// bbolt writes in the machine's native byte order.

const (
	boltMagic        = 0xED0CDAED
	boltVersion      = 2
	pageHeaderSize   = 16 // id u64, flags u16, count u16, overflow u32
	elementSize      = 16 // branch: pos u32, ksize u32, pgid u64; leaf: flags u32, pos u32, ksize u32, vsize u32
	bucketHeaderSize = 16 // root u64, sequence u64
	metaSize         = 64 // magic, version, pageSize, flags u32; root, sequence, freelist, pgid, txid, checksum u64
	metaChecksumAt   = pageHeaderSize + 56
	noFreelist       = ^uint64(0)
	branchPageFlag   = 0x01
	leafPageFlag     = 0x02
	freelistPageFlag = 0x10
	bucketLeafFlag   = 0x01
	minPageSize      = 1024
	maxPageSize      = 1 << 16
	maxTreeDepth     = 64
)

var ne = binary.NativeEndian

// boltMeta is a decoded bbolt meta page.
type boltMeta struct {
	at       int64 // file offset of the page
	magic    uint32
	version  uint32
	pageSize uint32
	root     uint64
	freelist uint64
	pgid     uint64 // high water mark: first page id past the end of the data
	txid     uint64
	sumOK    bool
}

func decodeMeta(b []byte, at int64) (boltMeta, bool) {
	if len(b) < pageHeaderSize+metaSize {
		return boltMeta{}, false
	}
	m := b[pageHeaderSize:]
	h := fnv.New64a()
	_, _ = h.Write(b[pageHeaderSize:metaChecksumAt])
	return boltMeta{
		at:       at,
		magic:    ne.Uint32(m[0:]),
		version:  ne.Uint32(m[4:]),
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		pgid:     ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
		sumOK:    h.Sum64() == ne.Uint64(m[56:]),
	}, true
}

// valid reports whether bbolt would accept the meta page.
func (m boltMeta) valid() bool { return m.magic == boltMagic && m.version == boltVersion && m.sumOK }

// ioError is a failure to read the file, as opposed to a finding about its
// content; it is reported without ErrCorrupt.
type ioError struct{ err error }

func (e ioError) Error() string { return e.err.Error() }
func (e ioError) Unwrap() error { return e.err }

// checker walks one file.
type checker struct {
	r        io.ReaderAt
	size     int64
	pageSize int64
	hwm      uint64
	free     map[uint64]bool
	seen     map[uint64]bool
}

// checkFile checks the structure of the bbolt file at path. It returns nil,
// an error wrapping ErrVersion (a bbolt format this build cannot read), an
// ioError, or a plain error describing the damage (the caller wraps it with
// ErrCorrupt and the path).
func checkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return ioError{err}
	}
	defer func() { _ = f.Close() }()
	fi, err := f.Stat()
	if err != nil {
		return ioError{err}
	}
	c := &checker{r: f, size: fi.Size()}
	return c.check()
}

func (c *checker) readAt(n, off int64) ([]byte, error) {
	if off < 0 || n < 0 || off > c.size || n > c.size-off {
		return nil, fmt.Errorf("read of %d bytes at offset %d is past the end of the %d-byte file", n, off, c.size)
	}
	b := make([]byte, n)
	if _, err := c.r.ReadAt(b, off); err != nil {
		return nil, ioError{fmt.Errorf("read %d bytes at offset %d: %w", n, off, err)}
	}
	return b, nil
}

// metaAt decodes the meta page at off, if the file is long enough to hold one.
func (c *checker) metaAt(off int64) (boltMeta, bool) {
	if off+pageHeaderSize+metaSize > c.size {
		return boltMeta{}, false
	}
	b, err := c.readAt(pageHeaderSize+metaSize, off)
	if err != nil {
		return boltMeta{}, false
	}
	return decodeMeta(b, off)
}

func (c *checker) check() error {
	if c.size == 0 {
		return errors.New("the file is empty (0 bytes)")
	}
	if c.size < pageHeaderSize+metaSize {
		return fmt.Errorf("the file is too short to be a bbolt database (%d bytes)", c.size)
	}
	m, err := c.pickMeta()
	if err != nil {
		return err
	}
	c.pageSize = int64(m.pageSize)
	c.hwm = m.pgid

	if c.hwm < 3 || c.hwm > uint64(c.size/c.pageSize) {
		if c.hwm >= 3 {
			return fmt.Errorf("the file is truncated: it is %d bytes, but its data extends to %d bytes (%d pages of %d)",
				c.size, c.hwm*uint64(c.pageSize), c.hwm, c.pageSize)
		}
		return fmt.Errorf("meta page at offset %d: impossible high water mark %d", m.at, c.hwm)
	}
	c.seen = map[uint64]bool{0: true, 1: true}
	if err := c.checkFreelist(m.freelist); err != nil {
		return err
	}
	if _, err := c.checkTree(m.root, nil, nil, 0); err != nil {
		return fmt.Errorf("root bucket: %w", err)
	}
	return nil
}

// pickMeta finds the two meta pages the way bbolt does and returns the valid
// one with the highest transaction id.
func (c *checker) pickMeta() (boltMeta, error) {
	var metas []boltMeta
	m0, ok := c.metaAt(0)
	if ok {
		metas = append(metas, m0)
	}
	if ok && m0.valid() {
		if m1, ok := c.metaAt(int64(m0.pageSize)); ok {
			metas = append(metas, m1)
		}
	} else {
		// Page 0 is damaged, so its page size cannot be trusted: look for the
		// second meta page at each possible page size, as bbolt does.
		for i := 0; i <= 14; i++ {
			m1, ok := c.metaAt(minPageSize << i)
			if !ok {
				break
			}
			if m1.valid() && int64(m1.pageSize) == m1.at {
				metas = append(metas, m1)
				break
			}
		}
	}

	var best *boltMeta
	for i := range metas {
		m := &metas[i]
		if !m.valid() {
			continue
		}
		if m.pageSize < minPageSize || m.pageSize > maxPageSize || m.pageSize&(m.pageSize-1) != 0 {
			return boltMeta{}, fmt.Errorf("meta page at offset %d: unsupported page size %d", m.at, m.pageSize)
		}
		if best == nil || m.txid > best.txid {
			best = m
		}
	}
	if best != nil {
		return *best, nil
	}
	for _, m := range metas {
		if m.magic == boltMagic && m.sumOK && m.version != boltVersion {
			return boltMeta{}, fmt.Errorf("%w: bbolt file format version %d, this build reads version %d",
				ErrVersion, m.version, boltVersion)
		}
	}
	for _, m := range metas {
		if m.magic == boltMagic {
			return boltMeta{}, errors.New("both bbolt meta pages are damaged (checksum mismatch)")
		}
	}
	return boltMeta{}, errors.New("not a bbolt database (no meta page found)")
}

// pageHeader is a decoded page header.
type pageHeader struct {
	id       uint64
	flags    uint16
	count    uint16
	overflow uint32
}

func decodeHeader(b []byte) pageHeader {
	return pageHeader{
		id:       ne.Uint64(b[0:]),
		flags:    ne.Uint16(b[8:]),
		count:    ne.Uint16(b[10:]),
		overflow: ne.Uint32(b[12:]),
	}
}

// readPage reads page id and its overflow pages, checking that they lie
// below the high water mark and belong to nobody else, and marks them seen.
func (c *checker) readPage(id uint64, what string) (pageHeader, []byte, error) {
	if id < 2 || id >= c.hwm {
		return pageHeader{}, nil, fmt.Errorf("%s page %d is outside the data pages [2, %d)", what, id, c.hwm)
	}
	hb, err := c.readAt(pageHeaderSize, int64(id)*c.pageSize)
	if err != nil {
		return pageHeader{}, nil, err
	}
	h := decodeHeader(hb)
	if h.id != id {
		return pageHeader{}, nil, fmt.Errorf("%s page %d carries the id %d", what, id, h.id)
	}
	if uint64(h.overflow) >= c.hwm-id {
		return pageHeader{}, nil, fmt.Errorf("%s page %d: %d overflow pages run past the high water mark %d", what, id, h.overflow, c.hwm)
	}
	for i := id; i <= id+uint64(h.overflow); i++ {
		if c.seen[i] {
			return pageHeader{}, nil, fmt.Errorf("%s page %d: page %d is referenced twice", what, id, i)
		}
		if c.free[i] {
			return pageHeader{}, nil, fmt.Errorf("%s page %d: page %d is in use and also on the freelist", what, id, i)
		}
		c.seen[i] = true
	}
	b, err := c.readAt((int64(h.overflow)+1)*c.pageSize, int64(id)*c.pageSize)
	if err != nil {
		return pageHeader{}, nil, err
	}
	return h, b, nil
}

func (c *checker) checkFreelist(id uint64) error {
	if id == noFreelist {
		return errors.New("the freelist is not persisted (the file was not written by lifeboat)")
	}
	h, b, err := c.readPage(id, "freelist")
	if err != nil {
		return err
	}
	if h.flags != freelistPageFlag {
		return fmt.Errorf("freelist page %d has page type %#x", id, h.flags)
	}
	start, count := int64(pageHeaderSize), uint64(h.count)
	if h.count == 0xFFFF {
		count = ne.Uint64(b[pageHeaderSize:])
		start += 8
	}
	if count > uint64(int64(len(b))-start)/8 {
		return fmt.Errorf("freelist page %d: %d entries do not fit in %d bytes", id, count, len(b))
	}
	ids := make([]uint64, count)
	for i := range ids {
		ids[i] = ne.Uint64(b[start+int64(i)*8:])
	}
	slices.Sort(ids)
	c.free = make(map[uint64]bool, len(ids))
	for i, f := range ids {
		if f < 2 || f >= c.hwm {
			return fmt.Errorf("freelist page %d: free page %d is outside the data pages [2, %d)", id, f, c.hwm)
		}
		if i > 0 && ids[i-1] == f {
			return fmt.Errorf("freelist page %d: page %d is listed twice", id, f)
		}
		if c.seen[f] {
			return fmt.Errorf("freelist page %d: page %d is the freelist itself", id, f)
		}
		c.free[f] = true
	}
	return nil
}

// element is one decoded branch or leaf element.
type element struct {
	key   []byte
	value []byte // leaf only
	child uint64 // branch only
	flags uint32 // leaf only
}

// elements decodes the count elements of a branch or leaf page held in b
// (b starts at the page header), checking that every key and value lies
// inside b.
func elements(b []byte, count uint16, branch bool) ([]element, error) {
	if int64(pageHeaderSize)+int64(count)*elementSize > int64(len(b)) {
		return nil, fmt.Errorf("%d elements do not fit in %d bytes", count, len(b))
	}
	out := make([]element, count)
	for i := range out {
		off := int64(pageHeaderSize) + int64(i)*elementSize
		e := b[off : off+elementSize]
		var pos, ksize, vsize int64
		if branch {
			pos, ksize = int64(ne.Uint32(e[0:])), int64(ne.Uint32(e[4:]))
			out[i].child = ne.Uint64(e[8:])
		} else {
			out[i].flags = ne.Uint32(e[0:])
			pos, ksize, vsize = int64(ne.Uint32(e[4:])), int64(ne.Uint32(e[8:])), int64(ne.Uint32(e[12:]))
		}
		start := off + pos
		if start+ksize+vsize > int64(len(b)) {
			return nil, fmt.Errorf("element %d (key %d bytes, value %d bytes at +%d) runs past the end of the page", i, ksize, vsize, pos)
		}
		out[i].key = b[start : start+ksize]
		if !branch {
			out[i].value = b[start+ksize : start+ksize+vsize]
		}
	}
	return out, nil
}

// checkTree checks the b-tree rooted at page id, whose keys must lie in
// [lo, hi) (nil: unbounded), and returns its largest key.
func (c *checker) checkTree(id uint64, lo, hi []byte, depth int) ([]byte, error) {
	if depth > maxTreeDepth {
		return nil, fmt.Errorf("page %d: the tree is deeper than %d levels", id, maxTreeDepth)
	}
	h, b, err := c.readPage(id, "tree")
	if err != nil {
		return nil, err
	}
	switch h.flags {
	case branchPageFlag:
		if h.count == 0 {
			return nil, fmt.Errorf("branch page %d is empty", id)
		}
		elems, err := elements(b, h.count, true)
		if err != nil {
			return nil, fmt.Errorf("branch page %d: %w", id, err)
		}
		prev, maxKey := lo, []byte(nil)
		for i, e := range elems {
			if err := keyInRange(e.key, prev, hi, i > 0); err != nil {
				return nil, fmt.Errorf("branch page %d, element %d: %w", id, i, err)
			}
			next := hi
			if i+1 < len(elems) {
				next = elems[i+1].key
			}
			if maxKey, err = c.checkTree(e.child, e.key, next, depth+1); err != nil {
				return nil, err
			}
			if maxKey != nil {
				prev = maxKey
			}
		}
		return maxKey, nil
	case leafPageFlag:
		elems, err := elements(b, h.count, false)
		if err != nil {
			return nil, fmt.Errorf("leaf page %d: %w", id, err)
		}
		if err := c.checkLeaf(elems, lo, hi, depth); err != nil {
			return nil, fmt.Errorf("leaf page %d: %w", id, err)
		}
		if len(elems) == 0 {
			return nil, nil
		}
		return elems[len(elems)-1].key, nil
	default:
		return nil, fmt.Errorf("page %d has page type %#x where a branch or leaf page belongs", id, h.flags)
	}
}

// checkLeaf checks key order within a leaf and descends into the buckets it
// holds.
func (c *checker) checkLeaf(elems []element, lo, hi []byte, depth int) error {
	prev := lo
	for i, e := range elems {
		if err := keyInRange(e.key, prev, hi, i > 0); err != nil {
			return fmt.Errorf("element %d: %w", i, err)
		}
		prev = e.key
		if e.flags&bucketLeafFlag == 0 {
			continue
		}
		if len(e.value) < bucketHeaderSize {
			return fmt.Errorf("bucket %q: header is %d bytes", e.key, len(e.value))
		}
		root := ne.Uint64(e.value[0:])
		if root != 0 {
			if _, err := c.checkTree(root, nil, nil, depth+1); err != nil {
				return fmt.Errorf("bucket %q: %w", e.key, err)
			}
			continue
		}
		// An inline bucket: a small leaf page stored in the value itself.
		inline := e.value[bucketHeaderSize:]
		if len(inline) < pageHeaderSize {
			return fmt.Errorf("inline bucket %q: %d bytes", e.key, len(inline))
		}
		ih := decodeHeader(inline)
		if ih.flags != leafPageFlag {
			return fmt.Errorf("inline bucket %q has page type %#x", e.key, ih.flags)
		}
		ielems, err := elements(inline, ih.count, false)
		if err != nil {
			return fmt.Errorf("inline bucket %q: %w", e.key, err)
		}
		for j, ie := range ielems {
			if ie.flags&bucketLeafFlag != 0 {
				return fmt.Errorf("inline bucket %q, element %d: an inline bucket holds a bucket", e.key, j)
			}
			if j > 0 && bytes.Compare(ielems[j-1].key, ie.key) >= 0 {
				return fmt.Errorf("inline bucket %q, element %d: keys out of order", e.key, j)
			}
		}
	}
	return nil
}

// keyInRange checks key against the running lower bound prev (inclusive for
// the first key of a page, exclusive after it) and the exclusive upper bound
// hi.
func keyInRange(key, prev, hi []byte, strict bool) error {
	if prev != nil {
		switch cmp := bytes.Compare(prev, key); {
		case cmp > 0, cmp == 0 && strict:
			return fmt.Errorf("key %x is out of order (after %x)", key, prev)
		}
	}
	if hi != nil && bytes.Compare(key, hi) >= 0 {
		return fmt.Errorf("key %x is not below the next key %x of the parent page", key, hi)
	}
	return nil
}
