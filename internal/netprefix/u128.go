package netprefix

import (
	"cmp"
	"encoding/binary"
	"math/bits"
	"net/netip"
)

// U128 is an address as an unsigned 128-bit integer, for prefix arithmetic
// (masks, ranges, sizes) that is the same for both families. From16 gives
// an IPv4 address as its IPv4-mapped IPv6 form, FromAddr in the low 32
// bits: each caller keeps to one.
type U128 struct{ Hi, Lo uint64 }

// From16 returns a's 16 bytes (an IPv4 address as IPv4-mapped IPv6) as a
// number.
func From16(a netip.Addr) U128 {
	b := a.As16()
	return U128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])}
}

// FromAddr returns a as a number: an IPv4 address in the low 32 bits, an
// IPv6 one in all 128.
func FromAddr(a netip.Addr) U128 {
	if a.Is4() {
		b := a.As4()
		return U128{Lo: uint64(binary.BigEndian.Uint32(b[:]))}
	}
	return From16(a)
}

// Addr16 returns the IPv6 address whose 16 bytes are u (From16's inverse).
func (u U128) Addr16() netip.Addr {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], u.Hi)
	binary.BigEndian.PutUint64(b[8:], u.Lo)
	return netip.AddrFrom16(b)
}

// Addr returns the address u is in FromAddr's form: IPv4 (the low 32
// bits) if is4, else IPv6.
func (u U128) Addr(is4 bool) netip.Addr {
	if is4 {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], uint32(u.Lo))
		return netip.AddrFrom4(b)
	}
	return u.Addr16()
}

// Cmp returns -1, 0 or +1 as u is less than, equal to or greater than v.
func (u U128) Cmp(v U128) int {
	if c := cmp.Compare(u.Hi, v.Hi); c != 0 {
		return c
	}
	return cmp.Compare(u.Lo, v.Lo)
}

// Less reports whether u < v.
func (u U128) Less(v U128) bool { return u.Hi < v.Hi || u.Hi == v.Hi && u.Lo < v.Lo }

// Add returns u + v, wrapping around.
func (u U128) Add(v U128) U128 {
	lo, carry := bits.Add64(u.Lo, v.Lo, 0)
	hi, _ := bits.Add64(u.Hi, v.Hi, carry)
	return U128{hi, lo}
}

// Sub returns u - v, wrapping around.
func (u U128) Sub(v U128) U128 {
	lo, borrow := bits.Sub64(u.Lo, v.Lo, 0)
	hi, _ := bits.Sub64(u.Hi, v.Hi, borrow)
	return U128{hi, lo}
}

// AddOne returns u + 1, and whether it wrapped around to zero.
func (u U128) AddOne() (U128, bool) {
	lo, carry := bits.Add64(u.Lo, 1, 0)
	hi, over := bits.Add64(u.Hi, 0, carry)
	return U128{hi, lo}, over != 0
}

// Or returns u | v.
func (u U128) Or(v U128) U128 { return U128{u.Hi | v.Hi, u.Lo | v.Lo} }

// Masked returns u with all but its first n bits (0 to 128) cleared.
func (u U128) Masked(n int) U128 {
	m := HostMask(n)
	return U128{u.Hi &^ m.Hi, u.Lo &^ m.Lo}
}

// HostMask returns the mask of the low 128-n bits (n from 0 to 128).
func HostMask(n int) U128 {
	switch {
	case n <= 0:
		return U128{^uint64(0), ^uint64(0)}
	case n < 64:
		return U128{^uint64(0) >> n, ^uint64(0)}
	case n < 128:
		return U128{0, ^uint64(0) >> (n - 64)}
	}
	return U128{}
}

// Pow2 returns 2**n for n from 0 to 127.
func Pow2(n int) U128 {
	if n >= 64 {
		return U128{Hi: 1 << (n - 64)}
	}
	return U128{Lo: 1 << n}
}

// TrailingZeros returns the number of trailing zero bits of u, 128 for
// zero.
func (u U128) TrailingZeros() int {
	if u.Lo != 0 {
		return bits.TrailingZeros64(u.Lo)
	}
	if u.Hi != 0 {
		return 64 + bits.TrailingZeros64(u.Hi)
	}
	return 128
}
