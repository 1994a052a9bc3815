// Package asn maps IP addresses to the autonomous system (number and
// organisation) that announces them, offline, from a compact table built into
// the binary.
//
// The table is produced by `go generate` (see gen/) from the CC BY 4.0
// licensed @ip-location-db/asn data set; ATTRIBUTION.md in the parent
// directory says where it comes from and how to refresh it. It is loaded
// lazily on the first lookup.
package asn

//go:generate go run ./gen -out asn.bin.gz -version version_gen.go

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	_ "embed" // the generated table
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/gaol-project/gaol/internal/netprefix"
)

// AS is an autonomous system: its number and the organisation that holds it.
type AS struct {
	Number uint32
	Org    string
}

// Range is one inclusive range of addresses announced by one AS, the input
// from which a Table is built. First and Last are of the same family.
type Range struct {
	First, Last netip.Addr
	ASN         uint32
	Org         string
}

// Table is an immutable lookup table from address ranges to AS. The zero
// value is an empty table. It is safe for concurrent use.
type Table struct {
	asns []uint32 // ascending
	orgs []string // orgs[i] belongs to asns[i]

	// Sorted range starts; the value at i holds from start i up to the next
	// start. idx is 1 + an index into asns, or 0 where no AS is known.
	v4start []uint32
	v4idx   []uint32
	v6hi    []uint64
	v6lo    []uint64
	v6idx   []uint32
}

const magic = "GAOLASN1"

//go:embed asn.bin.gz
var embedded []byte

var (
	defaultOnce  sync.Once
	defaultTable *Table
	defaultErr   error
)

// Default returns the table built into the binary, decoding it on first use.
func Default() (*Table, error) {
	defaultOnce.Do(func() {
		defaultTable, defaultErr = ReadTable(bytes.NewReader(embedded))
		if defaultErr != nil {
			defaultErr = fmt.Errorf("built-in ASN table: %w", defaultErr)
		}
	})
	return defaultTable, defaultErr
}

// Lookup finds addr in the built-in table. It reports false when the table
// knows no AS for addr (or could not be loaded, which a test guards against).
func Lookup(addr netip.Addr) (AS, bool) {
	t, err := Default()
	if err != nil {
		return AS{}, false
	}
	return t.Lookup(addr)
}

// Len returns the number of ranges (including unannounced gaps) for IPv4 and
// IPv6 and the number of distinct AS in the table.
func (t *Table) Len() (v4, v6, systems int) {
	return len(t.v4start), len(t.v6hi), len(t.asns)
}

// Lookup returns the AS announcing addr. IPv4-mapped IPv6 addresses are
// looked up as IPv4.
func (t *Table) Lookup(addr netip.Addr) (AS, bool) {
	addr = addr.Unmap()
	var idx uint32
	switch {
	case addr.Is4():
		b := addr.As4()
		n := binary.BigEndian.Uint32(b[:])
		// The last start <= n.
		i := sort.Search(len(t.v4start), func(i int) bool { return t.v4start[i] > n }) - 1
		if i < 0 {
			return AS{}, false
		}
		idx = t.v4idx[i]
	case addr.Is6():
		b := addr.As16()
		hi := binary.BigEndian.Uint64(b[:8])
		lo := binary.BigEndian.Uint64(b[8:])
		i := sort.Search(len(t.v6hi), func(i int) bool {
			return t.v6hi[i] > hi || (t.v6hi[i] == hi && t.v6lo[i] > lo)
		}) - 1
		if i < 0 {
			return AS{}, false
		}
		idx = t.v6idx[i]
	default:
		return AS{}, false
	}
	if idx == 0 {
		return AS{}, false
	}
	return AS{Number: t.asns[idx-1], Org: t.orgs[idx-1]}, true
}

// NewTable builds a table from ranges, in any order. Where ranges overlap,
// the one that starts first keeps the overlap (of two that start together,
// the one listed first). An AS's organisation is the first non-empty one
// given for it. Ranges with ASN 0 are ignored.
func NewTable(ranges []Range) (*Table, error) {
	orgOf := map[uint32]string{}
	var v4, v6 []span
	for i, r := range ranges {
		if r.ASN == 0 {
			continue
		}
		f, l := r.First.Unmap(), r.Last.Unmap()
		if !f.IsValid() || !l.IsValid() || f.Is4() != l.Is4() || l.Less(f) {
			return nil, fmt.Errorf("range %d (%v-%v): invalid", i, r.First, r.Last)
		}
		if o, ok := orgOf[r.ASN]; !ok || o == "" {
			orgOf[r.ASN] = r.Org
		}
		s := span{first: netprefix.FromAddr(f), last: netprefix.FromAddr(l), asn: r.ASN, order: i}
		if f.Is4() {
			v4 = append(v4, s)
		} else {
			v6 = append(v6, s)
		}
	}
	t := &Table{}
	for a := range orgOf {
		t.asns = append(t.asns, a)
	}
	slices.Sort(t.asns)
	index := make(map[uint32]uint32, len(t.asns))
	t.orgs = make([]string, len(t.asns))
	for i, a := range t.asns {
		index[a] = uint32(i) + 1
		t.orgs[i] = orgOf[a]
	}
	for _, e := range flatten(v4, netprefix.U128{Lo: 1<<32 - 1}) {
		t.v4start = append(t.v4start, uint32(e.start.Lo))
		t.v4idx = append(t.v4idx, index[e.asn])
	}
	for _, e := range flatten(v6, netprefix.U128{Hi: ^uint64(0), Lo: ^uint64(0)}) {
		t.v6hi = append(t.v6hi, e.start.Hi)
		t.v6lo = append(t.v6lo, e.start.Lo)
		t.v6idx = append(t.v6idx, index[e.asn])
	}
	return t, nil
}

type span struct {
	first, last netprefix.U128
	asn         uint32
	order       int
}

type entry struct {
	start netprefix.U128
	asn   uint32 // 0 = none
}

// flatten turns possibly overlapping spans into sorted, non-overlapping
// starts covering the whole family from 0 to max, merging neighbours of the
// same AS.
func flatten(spans []span, max netprefix.U128) []entry {
	// Overlaps are rare (one in the real data): resolve them by priority,
	// earlier input first, clipping later spans.
	slices.SortFunc(spans, func(a, b span) int {
		if c := a.first.Cmp(b.first); c != 0 {
			return c
		}
		return cmp.Compare(a.order, b.order)
	})
	var out []entry
	add := func(start netprefix.U128, asn uint32) {
		if n := len(out); n > 0 && out[n-1].asn == asn {
			return
		}
		if n := len(out); n > 0 && out[n-1].start == start {
			out[n-1].asn = asn
			if n > 1 && out[n-2].asn == asn {
				out = out[:n-1]
			}
			return
		}
		out = append(out, entry{start: start, asn: asn})
	}
	add(netprefix.U128{}, 0)
	var covered netprefix.U128 // everything below covered has been emitted
	done := false              // covered wrapped past max
	for i, s := range spans {
		if done {
			break
		}
		first := s.first
		if i > 0 && first.Cmp(covered) < 0 {
			// Overlaps an earlier span: keep only what is left of it.
			if s.last.Cmp(covered) < 0 {
				continue
			}
			first = covered
		}
		if first.Cmp(covered) > 0 {
			add(covered, 0)
		}
		add(first, s.asn)
		if s.last == max {
			done = true
			break
		}
		covered, _ = s.last.AddOne() // s.last is not max
	}
	if !done {
		add(covered, 0)
	}
	return out
}

// WriteTo writes the table in the compact form ReadTable reads: gzip over
// varint-encoded deltas.
func (t *Table) WriteTo(w io.Writer) (int64, error) {
	cw := &countWriter{w: w}
	zw, err := gzip.NewWriterLevel(cw, gzip.BestCompression)
	if err != nil {
		return 0, err
	}
	bw := bufio.NewWriter(zw)
	var buf [binary.MaxVarintLen64]byte
	put := func(v uint64) {
		n := binary.PutUvarint(buf[:], v)
		bw.Write(buf[:n])
	}
	bw.WriteString(magic)
	put(uint64(len(t.asns)))
	var prev uint32
	for i, a := range t.asns {
		put(uint64(a - prev))
		prev = a
		put(uint64(len(t.orgs[i])))
		bw.WriteString(t.orgs[i])
	}
	put(uint64(len(t.v4start)))
	var p4 uint32
	for i, s := range t.v4start {
		put(uint64(s - p4))
		p4 = s
		put(uint64(t.v4idx[i]))
	}
	put(uint64(len(t.v6hi)))
	var phi, plo uint64
	for i, hi := range t.v6hi {
		lo := t.v6lo[i]
		put(hi - phi)
		if hi == phi && i > 0 {
			put(lo - plo)
		} else {
			put(lo)
		}
		phi, plo = hi, lo
		put(uint64(t.v6idx[i]))
	}
	if err := bw.Flush(); err != nil {
		return cw.n, err
	}
	if err := zw.Close(); err != nil {
		return cw.n, err
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// maxEntries bounds every count read from a table so that a corrupt one
// cannot make ReadTable allocate without limit.
const maxEntries = 1 << 24

var errCorrupt = errors.New("corrupt ASN table")

// ReadTable reads a table written by WriteTo.
func ReadTable(r io.Reader) (*Table, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("decompressing ASN table: %w", err)
	}
	defer zr.Close()
	return decode(bufio.NewReaderSize(zr, 1<<16))
}

// decode reads a table's uncompressed form.
func decode(br *bufio.Reader) (*Table, error) {
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(br, head); err != nil || string(head) != magic {
		return nil, fmt.Errorf("%w: bad header", errCorrupt)
	}
	var rerr error
	get := func() uint64 {
		if rerr != nil {
			return 0
		}
		v, err := binary.ReadUvarint(br)
		if err != nil {
			rerr = err
		}
		return v
	}
	count := func() int {
		n := get()
		if n > maxEntries {
			rerr = fmt.Errorf("%w: count %d too large", errCorrupt, n)
			return 0
		}
		return int(n)
	}
	t := &Table{}
	n := count()
	t.asns = make([]uint32, 0, n)
	t.orgs = make([]string, 0, n)
	// All names go into one string that the orgs slice.
	var sb strings.Builder
	ends := make([]int, 0, n)
	var scratch []byte
	var prev uint64
	for i := 0; i < n && rerr == nil; i++ {
		a := prev + get()
		if a > 1<<32-1 || (i > 0 && a == prev) {
			return nil, fmt.Errorf("%w: AS numbers not ascending", errCorrupt)
		}
		prev = a
		l := get()
		if l > 1<<16 {
			return nil, fmt.Errorf("%w: organisation name too long", errCorrupt)
		}
		scratch = slices.Grow(scratch[:0], int(l))[:l]
		if _, err := io.ReadFull(br, scratch); err != nil && rerr == nil {
			rerr = err
		}
		sb.Write(scratch)
		t.asns = append(t.asns, uint32(a))
		ends = append(ends, sb.Len())
	}
	names, start := sb.String(), 0
	for _, end := range ends {
		t.orgs = append(t.orgs, names[start:end])
		start = end
	}
	checkIdx := func(v uint64) uint32 {
		if v > uint64(len(t.asns)) {
			rerr = fmt.Errorf("%w: AS index out of range", errCorrupt)
			return 0
		}
		return uint32(v)
	}
	n = count()
	t.v4start = make([]uint32, 0, n)
	t.v4idx = make([]uint32, 0, n)
	var p4 uint64
	for i := 0; i < n && rerr == nil; i++ {
		d := get()
		s := p4 + d
		if s > 1<<32-1 || s < p4 || (i > 0 && d == 0) {
			return nil, fmt.Errorf("%w: IPv4 starts not ascending", errCorrupt)
		}
		p4 = s
		t.v4start = append(t.v4start, uint32(s))
		t.v4idx = append(t.v4idx, checkIdx(get()))
	}
	n = count()
	t.v6hi = make([]uint64, 0, n)
	t.v6lo = make([]uint64, 0, n)
	t.v6idx = make([]uint32, 0, n)
	var phi, plo uint64
	for i := 0; i < n && rerr == nil; i++ {
		dh := get()
		hi := phi + dh
		var lo uint64
		if dh == 0 && i > 0 {
			dl := get()
			lo = plo + dl
			if dl == 0 || lo < plo {
				return nil, fmt.Errorf("%w: IPv6 starts not ascending", errCorrupt)
			}
		} else {
			if hi < phi {
				return nil, fmt.Errorf("%w: IPv6 starts not ascending", errCorrupt)
			}
			lo = get()
		}
		phi, plo = hi, lo
		t.v6hi = append(t.v6hi, hi)
		t.v6lo = append(t.v6lo, lo)
		t.v6idx = append(t.v6idx, checkIdx(get()))
	}
	if rerr != nil {
		if errors.Is(rerr, io.EOF) {
			rerr = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("reading ASN table: %w", rerr)
	}
	return t, nil
}
