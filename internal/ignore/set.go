package ignore

import (
	"cmp"
	"math/bits"
	"net/netip"
	"slices"

	"github.com/gaol-project/gaol/internal/netprefix"
)

// Set is an immutable set of addresses built from prefixes, answering
// membership in O(log n): the prefixes are merged into sorted, disjoint
// address ranges per family. IPv4-mapped IPv6 addresses and prefixes count as
// IPv4. The zero Set is empty and ready to use; a Set is safe for concurrent
// use.
type Set struct {
	v4       []range4
	v6       []range6
	prefixes []netip.Prefix
}

type range4 struct{ lo, hi uint32 }

type range6 struct{ lo, hi netprefix.U128 }

func u32From(a netip.Addr) uint32 {
	b := a.As4()
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func addrFromU32(v uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// Canonical returns p in the form a Set stores it: without zone, with the
// host bits cleared, and as IPv4 when it lies within the IPv4-mapped IPv6
// range. Invalid prefixes are returned unchanged.
func Canonical(p netip.Prefix) netip.Prefix {
	if c, ok := netprefix.Canonical(p); ok {
		return c
	}
	return p
}

// NewSet builds a Set holding every address of the given prefixes. Invalid
// prefixes are skipped.
func NewSet(prefixes ...netip.Prefix) Set {
	var s Set
	for _, p := range prefixes {
		p = Canonical(p)
		if !p.IsValid() {
			continue
		}
		if p.Addr().Is4() {
			lo := u32From(p.Addr())
			var host uint32
			if p.Bits() < 32 {
				host = ^uint32(0) >> p.Bits()
			}
			s.v4 = append(s.v4, range4{lo, lo | host})
		} else {
			lo := netprefix.From16(p.Addr())
			s.v6 = append(s.v6, range6{lo, lo.Or(netprefix.HostMask(p.Bits()))})
		}
	}
	s.v4 = merge4(s.v4)
	s.v6 = merge6(s.v6)
	for _, r := range s.v4 {
		s.prefixes = appendPrefixes4(s.prefixes, r)
	}
	for _, r := range s.v6 {
		s.prefixes = appendPrefixes6(s.prefixes, r)
	}
	return s
}

func merge4(rs []range4) []range4 {
	if len(rs) < 2 {
		return rs
	}
	slices.SortFunc(rs, func(a, b range4) int { return cmp.Compare(a.lo, b.lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if last.hi == ^uint32(0) || r.lo <= last.hi+1 {
			last.hi = max(last.hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

func merge6(rs []range6) []range6 {
	if len(rs) < 2 {
		return rs
	}
	slices.SortFunc(rs, func(a, b range6) int { return a.lo.Cmp(b.lo) })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		next, over := last.hi.AddOne()
		if over || r.lo.Cmp(next) <= 0 {
			if r.hi.Cmp(last.hi) > 0 {
				last.hi = r.hi
			}
			continue
		}
		out = append(out, r)
	}
	return slices.Clip(out)
}

// appendPrefixes4 appends the fewest prefixes covering exactly r.
func appendPrefixes4(ps []netip.Prefix, r range4) []netip.Prefix {
	lo := uint64(r.lo)
	hi := uint64(r.hi)
	for lo <= hi {
		size := 32
		if lo != 0 {
			size = min(32, bits.TrailingZeros64(lo))
		}
		for size > 0 && lo+(uint64(1)<<size)-1 > hi {
			size--
		}
		ps = append(ps, netip.PrefixFrom(addrFromU32(uint32(lo)), 32-size))
		lo += uint64(1) << size
	}
	return ps
}

// appendPrefixes6 appends the fewest prefixes covering exactly r.
func appendPrefixes6(ps []netip.Prefix, r range6) []netip.Prefix {
	lo := r.lo
	for {
		size := lo.TrailingZeros()
		// Shrink the block until it ends at or before r.hi.
		for size > 0 && lo.Or(netprefix.HostMask(128-size)).Cmp(r.hi) > 0 {
			size--
		}
		ps = append(ps, netip.PrefixFrom(lo.Addr16(), 128-size))
		end := lo.Or(netprefix.HostMask(128 - size))
		if end.Cmp(r.hi) >= 0 {
			return ps
		}
		lo, _ = end.AddOne()
	}
}

// Contains reports whether a is in the set.
func (s Set) Contains(a netip.Addr) bool {
	if !a.IsValid() {
		return false
	}
	a = a.Unmap()
	if a.Is4() {
		v := u32From(a)
		i := search4(s.v4, v)
		return i < len(s.v4) && s.v4[i].lo <= v
	}
	v := netprefix.From16(a)
	i := search6(s.v6, v)
	return i < len(s.v6) && s.v6[i].lo.Cmp(v) <= 0
}

// Overlaps reports whether any address of p is in the set: banning p would
// ban an address of the set.
func (s Set) Overlaps(p netip.Prefix) bool {
	p = Canonical(p)
	if !p.IsValid() {
		return false
	}
	if p.Addr().Is4() {
		lo := u32From(p.Addr())
		hi := lo
		if p.Bits() < 32 {
			hi |= ^uint32(0) >> p.Bits()
		}
		i := search4(s.v4, lo)
		return i < len(s.v4) && s.v4[i].lo <= hi
	}
	lo := netprefix.From16(p.Addr())
	hi := lo.Or(netprefix.HostMask(p.Bits()))
	i := search6(s.v6, lo)
	return i < len(s.v6) && s.v6[i].lo.Cmp(hi) <= 0
}

// search4 returns the index of the first range ending at or after v.
func search4(rs []range4, v uint32) int {
	i, j := 0, len(rs)
	for i < j {
		m := int(uint(i+j) >> 1)
		if rs[m].hi < v {
			i = m + 1
		} else {
			j = m
		}
	}
	return i
}

// search6 returns the index of the first range ending at or after v.
func search6(rs []range6, v netprefix.U128) int {
	i, j := 0, len(rs)
	for i < j {
		m := int(uint(i+j) >> 1)
		if rs[m].hi.Less(v) {
			i = m + 1
		} else {
			j = m
		}
	}
	return i
}

// Prefixes returns the fewest prefixes covering exactly the set, IPv4 first,
// in address order. Overlapping and adjacent input prefixes are merged. The
// caller must not modify the result.
func (s Set) Prefixes() []netip.Prefix { return s.prefixes }

// Len returns the number of prefixes Prefixes returns.
func (s Set) Len() int { return len(s.prefixes) }

// Equal reports whether s and t hold the same addresses.
func (s Set) Equal(t Set) bool { return slices.Equal(s.prefixes, t.prefixes) }
