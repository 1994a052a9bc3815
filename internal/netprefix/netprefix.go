// Package netprefix puts address prefixes in the one form every part of
// gaol stores, compares and bans them in.
package netprefix

import "net/netip"

// Canonical returns p masked, without zone, and an IPv4-mapped IPv6 prefix
// of /96 or longer as the IPv4 prefix it covers. It reports false for an
// invalid prefix.
func Canonical(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() {
		return netip.Prefix{}, false
	}
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), true
	}
	return netip.PrefixFrom(a, p.Bits()).Masked(), true
}
