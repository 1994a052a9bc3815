package nft

import (
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// u128 is an address as an unsigned 128-bit integer, so that prefix
// arithmetic is the same for both families. IPv4 addresses use the low 32
// bits.
type u128 struct{ hi, lo uint64 }

func toU128(a netip.Addr) u128 {
	if a.Is4() {
		b := a.As4()
		return u128{lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	b := a.As16()
	return u128{hi: binary.BigEndian.Uint64(b[:8]), lo: binary.BigEndian.Uint64(b[8:])}
}

func (u u128) addr(is4 bool) netip.Addr {
	if is4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(u.lo))
		return netip.AddrFrom4(b)
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.hi)
	binary.BigEndian.PutUint64(b[8:], u.lo)
	return netip.AddrFrom16(b)
}

func (u u128) add(v u128) u128 {
	lo, carry := bits.Add64(u.lo, v.lo, 0)
	hi, _ := bits.Add64(u.hi, v.hi, carry)
	return u128{hi, lo}
}

func (u u128) sub(v u128) u128 {
	lo, borrow := bits.Sub64(u.lo, v.lo, 0)
	hi, _ := bits.Sub64(u.hi, v.hi, borrow)
	return u128{hi, lo}
}

func (u u128) less(v u128) bool {
	return u.hi < v.hi || (u.hi == v.hi && u.lo < v.lo)
}

// pow2 returns 2**n for n in [0, 127].
func pow2(n int) u128 {
	if n >= 64 {
		return u128{hi: 1 << (n - 64)}
	}
	return u128{lo: 1 << n}
}

// trailingZeros returns the number of trailing zero bits, 128 for zero.
func (u u128) trailingZeros() int {
	if u.lo != 0 {
		return bits.TrailingZeros64(u.lo)
	}
	if u.hi != 0 {
		return 64 + bits.TrailingZeros64(u.hi)
	}
	return 128
}

// addrBits returns 32 for IPv4 and 128 for IPv6.
func addrBits(a netip.Addr) int {
	if a.Is4() {
		return 32
	}
	return 128
}

// prefixEnd returns the first address after p and false when p reaches the
// family's last address (all ones), which has no successor.
func prefixEnd(p netip.Prefix) (netip.Addr, bool) {
	is4, total := p.Addr().Is4(), addrBits(p.Addr())
	size := total - p.Bits()
	start := toU128(p.Addr())
	if size == 128 {
		return netip.Addr{}, false // ::/0
	}
	end := start.add(pow2(size))
	if is4 && end.lo>>32 != 0 || !is4 && end == (u128{}) {
		return netip.Addr{}, false
	}
	return end.addr(is4), true
}

// halves splits p into its two halves, one bit longer.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	a := p.Addr()
	lo := netip.PrefixFrom(a, p.Bits()+1)
	hi := toU128(a).add(pow2(addrBits(a) - p.Bits() - 1))
	return lo, netip.PrefixFrom(hi.addr(a.Is4()), p.Bits()+1)
}

// rangePrefixes returns the shortest list of prefixes that exactly covers
// the addresses from start up to, but excluding, end; a zero end means up to
// the family's last address.
func rangePrefixes(start, end netip.Addr) []netip.Prefix {
	is4, total := start.Is4(), addrBits(start)
	s := toU128(start)
	var e u128 // exclusive end; zero with open meaning "2**total"
	open := !end.IsValid()
	if !open {
		e = toU128(end)
		if !s.less(e) {
			return nil
		}
	}
	var out []netip.Prefix
	for {
		// The largest block aligned at s that does not pass e.
		size := min(s.trailingZeros(), total)
		if !open {
			for size > 0 && (size == 128 || e.sub(s).less(pow2(size))) {
				size--
			}
		}
		out = append(out, netip.PrefixFrom(s.addr(is4), total-size))
		if size == total {
			return out
		}
		s = s.add(pow2(size))
		if open && (is4 && s.lo>>32 != 0 || !is4 && s == (u128{})) {
			return out
		}
		if !open && s == e {
			return out
		}
	}
}
