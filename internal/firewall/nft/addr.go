package nft

import (
	"net/netip"

	"github.com/gaol-project/gaol/internal/netprefix"
)

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
	start := netprefix.FromAddr(p.Addr())
	if size == 128 {
		return netip.Addr{}, false // ::/0
	}
	end := start.Add(netprefix.Pow2(size))
	if is4 && end.Lo>>32 != 0 || !is4 && end == (netprefix.U128{}) {
		return netip.Addr{}, false
	}
	return end.Addr(is4), true
}

// halves splits p into its two halves, one bit longer.
func halves(p netip.Prefix) (netip.Prefix, netip.Prefix) {
	a := p.Addr()
	lo := netip.PrefixFrom(a, p.Bits()+1)
	hi := netprefix.FromAddr(a).Add(netprefix.Pow2(addrBits(a) - p.Bits() - 1))
	return lo, netip.PrefixFrom(hi.Addr(a.Is4()), p.Bits()+1)
}

// rangePrefixes returns the shortest list of prefixes that exactly covers
// the addresses from start up to, but excluding, end; a zero end means up to
// the family's last address.
func rangePrefixes(start, end netip.Addr) []netip.Prefix {
	is4, total := start.Is4(), addrBits(start)
	s := netprefix.FromAddr(start)
	var e netprefix.U128 // exclusive end; zero with open meaning "2**total"
	open := !end.IsValid()
	if !open {
		e = netprefix.FromAddr(end)
		if !s.Less(e) {
			return nil
		}
	}
	var out []netip.Prefix
	for {
		// The largest block aligned at s that does not pass e.
		size := min(s.TrailingZeros(), total)
		if !open {
			for size > 0 && (size == 128 || e.Sub(s).Less(netprefix.Pow2(size))) {
				size--
			}
		}
		out = append(out, netip.PrefixFrom(s.Addr(is4), total-size))
		if size == total {
			return out
		}
		s = s.Add(netprefix.Pow2(size))
		if open && (is4 && s.Lo>>32 != 0 || !is4 && s == (netprefix.U128{})) {
			return out
		}
		if !open && s == e {
			return out
		}
	}
}
