package nft

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
	"slices"
	"time"

	"github.com/gaol-project/gaol/internal/netprefix"
)

// This is the model of an interval set, which holds a family's bans of
// prefixes other than those of the jail's ban prefix length (those have a
// hash set of their own: addrmodel.go). The kernel cannot hold overlapping
// elements in an interval set, but bans overlap: a subnet is banned while a
// smaller one inside it already is, with other timeouts. So each set is
// described twice: the bans asked for, which may nest, and the elements
// the kernel holds, which are derived from them: every address gets the
// latest deadline of the bans that cover it, and the elements are the
// fewest disjoint prefixes that say so. Changes are computed
// on this model and then sent as the difference between old and new
// elements. The model is pure: time is passed in.
//
// A deadline is when a ban or an element ends; the zero time means never.

func alive(d, now time.Time) bool { return d.IsZero() || d.After(now) }

// later returns the later of two deadlines, never (zero) being the latest.
func later(a, b time.Time) time.Time {
	if a.IsZero() || b.IsZero() {
		return time.Time{}
	}
	if a.After(b) {
		return a
	}
	return b
}

// index maps prefixes of one family to deadlines. Prefixes are kept by
// length so that those containing, or inside, a prefix are found without
// looking at all of them; a bit mask says which lengths have any, so that
// a lookup visits only those.
type index struct {
	byLen []map[addrKey]time.Time // by prefix length, keyed by masked address
	used  lengths                 // the lengths with prefixes
	n     int
	is4   bool // the family: IPv4 addresses are keyed as IPv4-mapped ones
}

// addrKey is an address as a map key: the runtime hashes 16 bytes with a
// routine of their own, a netip.Addr (24 bytes, with its zone) as memory of
// any length, which took a good part of a large batch's time.
type addrKey [16]byte

func keyOf(a netip.Addr) addrKey { return a.As16() }

// addr returns the address of k in x's family.
func (x *index) addr(k addrKey) netip.Addr {
	a := netip.AddrFrom16(k)
	if x.is4 {
		return a.Unmap()
	}
	return a
}

// lengths is a set of prefix lengths, 0 to 128.
type lengths [3]uint64

func (s *lengths) add(l int)      { s[l/64] |= 1 << (l % 64) }
func (s *lengths) remove(l int)   { s[l/64] &^= 1 << (l % 64) }
func (s *lengths) has(l int) bool { return s[l/64]&(1<<(l%64)) != 0 }

// next returns the smallest length in s from l on, or -1.
func (s *lengths) next(l int) int {
	for ; l >= 0 && l <= 128; l = (l/64 + 1) * 64 {
		if w := s[l/64] >> (l % 64); w != 0 {
			return l + bits.TrailingZeros64(w)
		}
	}
	return -1
}

// prev returns the largest length in s up to l, or -1.
func (s *lengths) prev(l int) int {
	for l = min(l, 128); l >= 0; l = l/64*64 - 1 {
		if w := s[l/64] << (63 - l%64); w != 0 {
			return l - bits.LeadingZeros64(w)
		}
	}
	return -1
}

func newIndex(total int) index {
	return index{byLen: make([]map[addrKey]time.Time, total+1), is4: total == 32}
}

func (x *index) get(p netip.Prefix) (time.Time, bool) {
	if !x.used.has(p.Bits()) {
		return time.Time{}, false
	}
	d, ok := x.byLen[p.Bits()][keyOf(p.Addr())]
	return d, ok
}

func (x *index) put(p netip.Prefix, d time.Time) {
	m := x.byLen[p.Bits()]
	if m == nil {
		m = make(map[addrKey]time.Time)
		x.byLen[p.Bits()] = m
	}
	before := len(m)
	m[keyOf(p.Addr())] = d
	x.n += len(m) - before
	x.used.add(p.Bits())
}

func (x *index) del(p netip.Prefix) {
	m, k := x.byLen[p.Bits()], keyOf(p.Addr())
	if _, ok := m[k]; ok {
		delete(m, k)
		x.n--
		if len(m) == 0 {
			x.used.remove(p.Bits())
		}
	}
}

// reserve makes room for about n more prefixes of length l, so that a
// large batch does not grow the map step by step.
func (x *index) reserve(l, n int) {
	m := x.byLen[l]
	switch {
	case m == nil:
		x.byLen[l] = make(map[addrKey]time.Time, n)
	case n > len(m):
		// Copying once is cheaper than the growth steps of the map.
		bigger := make(map[addrKey]time.Time, len(m)+n)
		for a, d := range m {
			bigger[a] = d
		}
		x.byLen[l] = bigger
	}
}

// outer returns the prefixes that strictly contain p, longest first.
func (x *index) outer(p netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for l := x.used.prev(p.Bits() - 1); l >= 0; l = x.used.prev(l - 1) {
		q, _ := p.Addr().Prefix(l)
		if _, ok := x.byLen[l][keyOf(q.Addr())]; ok {
			out = append(out, q)
		}
	}
	return out
}

// maxEnumerate bounds how many candidate prefixes inner generates per length
// before it scans that length's prefixes instead.
const maxEnumerateBits = 16

// inner returns the prefixes strictly inside p.
func (x *index) inner(p netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	a := p.Addr()
	total := addrBits(a)
	for l := x.used.next(p.Bits() + 1); l >= 0 && l <= total; l = x.used.next(l + 1) {
		m := x.byLen[l]
		span := l - p.Bits()
		if span <= maxEnumerateBits && 1<<span < len(m) {
			start, step := netprefix.FromAddr(a), netprefix.Pow2(total-l)
			for i := 0; i < 1<<span; i++ {
				c := start.Addr(a.Is4())
				if _, ok := m[keyOf(c)]; ok {
					out = append(out, netip.PrefixFrom(c, l))
				}
				start = start.Add(step)
			}
			continue
		}
		for k := range m {
			if c := x.addr(k); p.Contains(c) {
				out = append(out, netip.PrefixFrom(c, l))
			}
		}
	}
	return out
}

// all returns every prefix with its deadline, sorted.
func (x *index) all() []entry {
	out := make([]entry, 0, x.n)
	for l, m := range x.byLen {
		for k, d := range m {
			out = append(out, entry{netip.PrefixFrom(x.addr(k), l), d})
		}
	}
	sortEntries(out)
	return out
}

// entry is a prefix with a deadline: a ban, or an element of a set.
type entry struct {
	prefix   netip.Prefix
	deadline time.Time
}

// sortEntries sorts entries by prefix (comparePrefix's order). A large
// batch is sorted by keys of a few machine words, which is several times
// faster than comparing and moving the entries themselves.
func sortEntries(es []entry) {
	if len(es) < 64 {
		slices.SortFunc(es, func(a, b entry) int { return comparePrefix(a.prefix, b.prefix) })
		return
	}
	type key struct {
		hi, lo uint64
		rank   int32 // family (IPv4 first), then length
		i      int32
	}
	keys := make([]key, len(es))
	for i, e := range es {
		a := e.prefix.Addr()
		b := a.As16()
		rank := int32(e.prefix.Bits())
		if !a.Is4() {
			rank += 1 << 8
		}
		keys[i] = key{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:]), rank, int32(i)}
	}
	slices.SortFunc(keys, func(a, b key) int {
		if a.rank>>8 != b.rank>>8 {
			return cmp.Compare(a.rank, b.rank)
		}
		if a.hi != b.hi {
			return cmp.Compare(a.hi, b.hi)
		}
		if a.lo != b.lo {
			return cmp.Compare(a.lo, b.lo)
		}
		return cmp.Compare(a.rank, b.rank)
	})
	sorted := make([]entry, len(es))
	for i, k := range keys {
		sorted[i] = es[k.i]
	}
	copy(es, sorted)
}

// comparePrefix orders prefixes by address (IPv4 first), then length. It
// orders as netip.Addr.Compare does, for prefixes (which have no zone),
// with less work: large batches of elements are sorted.
func comparePrefix(a, b netip.Prefix) int {
	x, y := a.Addr(), b.Addr()
	if x4, y4 := x.Is4(), y.Is4(); x4 != y4 {
		if x4 {
			return -1
		}
		return 1
	}
	xb, yb := x.As16(), y.As16()
	if c := cmp.Compare(binary.BigEndian.Uint64(xb[:8]), binary.BigEndian.Uint64(yb[:8])); c != 0 {
		return c
	}
	if c := cmp.Compare(binary.BigEndian.Uint64(xb[8:]), binary.BigEndian.Uint64(yb[8:])); c != 0 {
		return c
	}
	return cmp.Compare(a.Bits(), b.Bits())
}

// model is one kernel set: the bans asked for and the elements derived from
// them.
type model struct {
	bans, elems index
}

func newModel(total int) *model {
	return &model{bans: newIndex(total), elems: newIndex(total)}
}

// change is the state of an element before a plan touched it.
type change struct {
	was      time.Time
	wasAlive bool
}

// plan collects the elements a batch of changes touched, to send the
// difference to the kernel once all changes are made.
type plan struct {
	touched map[netip.Prefix]change
}

// newPlan returns an empty plan for about size changes.
func newPlan(size int) *plan { return &plan{touched: make(map[netip.Prefix]change, size)} }

func (m *model) touch(pl *plan, p netip.Prefix, now time.Time) {
	if _, ok := pl.touched[p]; ok {
		return
	}
	d, ok := m.elems.get(p)
	pl.touched[p] = change{was: d, wasAlive: ok && alive(d, now)}
}

// touchAs is touch for an element whose state is known: d, present.
func (pl *plan) touchAs(p netip.Prefix, d time.Time, present bool, now time.Time) {
	if _, ok := pl.touched[p]; !ok {
		pl.touched[p] = change{was: d, wasAlive: present && alive(d, now)}
	}
}

// ops returns what to send to the kernel for the plan, each part sorted:
// the elements to delete, the elements whose deadline changed to delete
// and add again (adding an element that exists does not change its
// timeout on every kernel), and the new elements to add.
func (pl *plan) ops(m *model) ops {
	var o ops
	o.adds = make([]entry, 0, len(pl.touched))
	for p, ch := range pl.touched {
		d, present := m.elems.get(p)
		switch {
		case present && !ch.wasAlive:
			o.adds = append(o.adds, entry{p, d})
		case present && !d.Equal(ch.was):
			o.renew = append(o.renew, entry{p, d})
		case !present && ch.wasAlive:
			o.dels = append(o.dels, p)
		}
	}
	slices.SortFunc(o.dels, comparePrefix)
	sortEntries(o.renew)
	sortEntries(o.adds)
	return o
}

// ban records bans (masked prefixes of the model's family) and updates the
// elements. A ban of a prefix already banned keeps the later of the two
// deadlines.
func (m *model) ban(pl *plan, bans []entry, now time.Time) {
	if len(bans) > 64 {
		// Room for a large batch, most of them lone bans that become
		// elements of their own.
		var per [129]int
		for _, b := range bans {
			per[b.prefix.Bits()]++
		}
		for l, n := range per {
			if n > 0 {
				m.bans.reserve(l, n)
				m.elems.reserve(l, n)
			}
		}
	}
	for _, b := range bans {
		d := b.deadline
		if old, ok := m.bans.get(b.prefix); ok && alive(old, now) {
			d = later(old, d)
		}
		m.bans.put(b.prefix, d)
	}
	m.recomputeAround(pl, bans, now)
}

// unban removes the ban of each prefix, exactly that prefix, and updates
// the elements: bans inside it or around it stay.
func (m *model) unban(pl *plan, prefixes []netip.Prefix, now time.Time) {
	around := make([]entry, 0, len(prefixes))
	for _, p := range prefixes {
		m.bans.del(p)
		around = append(around, entry{prefix: p})
	}
	m.recomputeAround(pl, around, now)
}

// recomputeAround derives again the elements of every region that one of
// the prefixes lies in. A region is the largest live ban or element that
// contains the prefix, or the prefix itself; regions are disjoint.
func (m *model) recomputeAround(pl *plan, around []entry, now time.Time) {
	// A prefix that is its own region is recomputed at once (twice if it
	// is there twice, which changes nothing the second time); regions
	// around several prefixes only once.
	var roots map[netip.Prefix]struct{}
	for _, e := range around {
		r := m.root(e.prefix, now)
		if r == e.prefix {
			m.recompute(pl, r, now)
			continue
		}
		if roots == nil {
			roots = make(map[netip.Prefix]struct{})
		}
		roots[r] = struct{}{}
	}
	for r := range roots {
		m.recompute(pl, r, now)
	}
}

func (m *model) root(p netip.Prefix, now time.Time) netip.Prefix {
	r := p
	for _, x := range []*index{&m.bans, &m.elems} {
		for _, q := range x.outer(p) { // longest first: the last live one is the largest
			if d, _ := x.get(q); !alive(d, now) {
				// Expired: the kernel drops such elements by itself.
				x.del(q)
			} else if q.Bits() < r.Bits() {
				r = q
			}
		}
	}
	return r
}

// prune forgets expired bans and elements; the kernel drops expired
// elements by itself.
func (m *model) prune(now time.Time) {
	for _, x := range []*index{&m.bans, &m.elems} {
		for l, mm := range x.byLen {
			for a, d := range mm {
				if !alive(d, now) {
					delete(mm, a)
					x.n--
				}
			}
			if len(mm) == 0 {
				x.used.remove(l)
			}
		}
	}
}

// recompute makes the elements inside region r what the bans inside it say.
func (m *model) recompute(pl *plan, r netip.Prefix, now time.Time) {
	innerBans, innerElems := m.bans.inner(r), m.elems.inner(r)
	if len(innerBans) == 0 && len(innerElems) == 0 {
		// The common case, a lone ban: one element or none.
		d, banned := m.bans.get(r)
		if banned && !alive(d, now) {
			m.bans.del(r)
			banned = false
		}
		e, has := m.elems.get(r)
		switch {
		case banned && has && alive(e, now) && e.Equal(d):
		case banned:
			pl.touchAs(r, e, has, now)
			m.elems.put(r, d)
		case has:
			pl.touchAs(r, e, has, now)
			m.elems.del(r)
		}
		return
	}
	want := m.derive(r, now)
	current := innerElems
	if _, ok := m.elems.get(r); ok {
		current = append(current, r)
	}
	for _, p := range current {
		d, _ := m.elems.get(p)
		if w, ok := want[p]; ok && alive(d, now) && w.Equal(d) {
			delete(want, p)
			continue
		}
		if _, ok := want[p]; !ok {
			m.touch(pl, p, now)
			m.elems.del(p)
		}
	}
	for p, d := range want {
		m.touch(pl, p, now)
		m.elems.put(p, d)
	}
}

// derive returns the elements region r must hold, and forgets expired bans
// on the way. Bans form a forest (prefixes nest or are disjoint). A ban
// whose deadline is not later than that of the bans around it adds nothing;
// one that outlives them ("distinct") is cut out of the nearest distinct ban
// around it and gets elements of its own.
func (m *model) derive(r netip.Prefix, now time.Time) map[netip.Prefix]time.Time {
	candidates := m.bans.inner(r)
	if _, ok := m.bans.get(r); ok {
		candidates = append(candidates, r)
	}
	bans := candidates[:0]
	for _, p := range candidates {
		if d, _ := m.bans.get(p); alive(d, now) {
			bans = append(bans, p)
		} else {
			m.bans.del(p)
		}
	}
	slices.SortFunc(bans, func(a, b netip.Prefix) int {
		if c := cmp.Compare(a.Bits(), b.Bits()); c != 0 {
			return c
		}
		return a.Addr().Compare(b.Addr())
	})
	var lengths []int // distinct lengths seen so far, ascending
	type node struct {
		eff      time.Time    // deadline of every address of the ban
		distinct bool         // has elements of its own
		nda      netip.Prefix // nearest distinct ban around it
	}
	nodes := make(map[netip.Prefix]node, len(bans))
	cut := make(map[netip.Prefix][]netip.Prefix)
	for _, b := range bans {
		d, _ := m.bans.get(b)
		n := node{eff: d, distinct: true}
		for i := len(lengths) - 1; i >= 0; i-- {
			if lengths[i] >= b.Bits() {
				continue
			}
			q, _ := b.Addr().Prefix(lengths[i])
			parent, ok := nodes[q]
			if !ok {
				continue
			}
			n.eff = later(parent.eff, d)
			n.distinct = !n.eff.Equal(parent.eff)
			n.nda = parent.nda
			if parent.distinct {
				n.nda = q
			}
			if n.distinct {
				cut[n.nda] = append(cut[n.nda], b)
			}
			break
		}
		nodes[b] = n
		if len(lengths) == 0 || lengths[len(lengths)-1] != b.Bits() {
			lengths = append(lengths, b.Bits())
		}
	}
	want := make(map[netip.Prefix]time.Time)
	for p, n := range nodes {
		if n.distinct {
			for _, piece := range cover(p, cut[p], nil) {
				want[piece] = n.eff
			}
		}
	}
	return want
}

// cover appends to out the fewest prefixes that cover p except the
// disjoint prefixes holes, which lie inside p.
func cover(p netip.Prefix, holes []netip.Prefix, out []netip.Prefix) []netip.Prefix {
	if len(holes) == 0 {
		return append(out, p)
	}
	for _, h := range holes {
		if h == p {
			return out
		}
	}
	lo, hi := halves(p)
	var inLo, inHi []netip.Prefix
	for _, h := range holes {
		if lo.Contains(h.Addr()) {
			inLo = append(inLo, h)
		} else {
			inHi = append(inHi, h)
		}
	}
	out = cover(lo, inLo, out)
	return cover(hi, inHi, out)
}
