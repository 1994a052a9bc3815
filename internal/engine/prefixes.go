package engine

import (
	"net/netip"

	"github.com/gaol-project/gaol/internal/netprefix"
)

// pkey is a canonical prefix as the key of a prefixIndex: its masked
// address as a number and its length within those 128 bits (an IPv4
// length + 96); the invalid prefix has length invalidLen. It tells apart
// every prefix in canonical form: an IPv6 prefix of /96 or longer never
// lies in the IPv4-mapped range, which Canonical turns into IPv4.
type pkey struct {
	a netprefix.U128 // the masked address (netprefix.From16)
	n uint8
}

// invalidLen is the length of the invalid prefix's key.
const invalidLen = 129

// noKey is the key of no prefix.
var noKey = pkey{n: invalidLen + 1}

// keyOf returns the key of a canonical prefix.
func keyOf(p netip.Prefix) pkey {
	if !p.IsValid() {
		return pkey{n: invalidLen}
	}
	n := p.Bits()
	if p.Addr().Is4() {
		n += 96
	}
	return pkey{netprefix.From16(p.Addr()).Masked(n), uint8(n)}
}

// hostKey returns the key of the prefix holding addr, whose number is a,
// alone (the invalid prefix for the zero Addr, as netip.PrefixFrom makes
// it).
func hostKey(addr netip.Addr, a netprefix.U128) pkey {
	if !addr.IsValid() {
		return pkey{n: invalidLen}
	}
	return pkey{a, 128}
}

// prefix returns the prefix k is the key of.
func (k pkey) prefix() netip.Prefix {
	if k.n == invalidLen {
		return netip.Prefix{}
	}
	a := k.a.Addr16()
	if k.n >= 96 && a.Is4In6() {
		return netip.PrefixFrom(a.Unmap(), int(k.n)-96)
	}
	return netip.PrefixFrom(a, int(k.n))
}

// is4 reports whether k is the key of an IPv4 prefix.
func (k pkey) is4() bool { return k.n >= 96 && k.n <= 128 && k.a.Hi == 0 && k.a.Lo>>32 == 0xffff }

// prefixIndex maps canonical prefixes to what the engine knows of them.
// It keeps one Go map per family and prefix length, keyed by the masked
// address as the smallest integer that holds it: the runtime has routines
// of its own for 32- and 64-bit keys, and hashes 16 bytes with one of
// its own, where a netip.Prefix takes a generated hash function over its
// parts and holds a pointer (its address's zone). A length no prefix has
// costs a lookup nothing. The zero prefixIndex is empty and ready to use.
type prefixIndex struct {
	v4      [33]map[uint32]*prefixInfo         // by length
	short   [65]map[uint64]*prefixInfo         // IPv6 /0 to /64, by length, keyed by the first 64 bits
	long    [64]map[netprefix.U128]*prefixInfo // IPv6 /65 to /128
	invalid *prefixInfo
}

func (x *prefixIndex) get(k pkey) *prefixInfo {
	switch {
	case k.is4():
		return x.v4[k.n-96][uint32(k.a.Lo)]
	case k.n <= 64:
		return x.short[k.n][k.a.Hi]
	case k.n <= 128:
		return x.long[k.n-65][k.a]
	}
	return x.invalid
}

func (x *prefixIndex) set(k pkey, pi *prefixInfo) {
	switch {
	case k.is4():
		m := &x.v4[k.n-96]
		if *m == nil {
			*m = make(map[uint32]*prefixInfo)
		}
		(*m)[uint32(k.a.Lo)] = pi
	case k.n <= 64:
		m := &x.short[k.n]
		if *m == nil {
			*m = make(map[uint64]*prefixInfo)
		}
		(*m)[k.a.Hi] = pi
	case k.n <= 128:
		m := &x.long[k.n-65]
		if *m == nil {
			*m = make(map[netprefix.U128]*prefixInfo)
		}
		(*m)[k.a] = pi
	default:
		x.invalid = pi
	}
}

func (x *prefixIndex) delete(k pkey) {
	switch {
	case k.is4():
		delete(x.v4[k.n-96], uint32(k.a.Lo))
	case k.n <= 64:
		delete(x.short[k.n], k.a.Hi)
	case k.n <= 128:
		delete(x.long[k.n-65], k.a)
	default:
		x.invalid = nil
	}
}

// prefixInfo is what the engine knows of one prefix: how often it was
// banned, and its failures and ban in each jail that has them. It is kept
// while any of these is; the history alone keeps it for good.
type prefixInfo struct {
	// The first jail's state is kept inline: most prefixes fail in one
	// jail only. A state whose jail is nil is unused. It comes first, with
	// hist, in the cache line that a failure and a ban need.
	first jailState
	hist  history
	key   pkey
	more  []jailState
}

// jailState is a prefix's failures and ban in one jail.
type jailState struct {
	jail *jail
	fl   *failures // nil: none
	ban  *banEntry // nil: not banned
}

// info returns the prefixInfo of k, or nil.
func (e *Engine) info(k pkey) *prefixInfo { return e.prefixes.get(k) }

// addInfo returns the prefixInfo of k, adding an empty one if there is
// none.
func (e *Engine) addInfo(k pkey) *prefixInfo {
	if pi := e.prefixes.get(k); pi != nil {
		return pi
	}
	return e.newInfo(k)
}

// newInfo adds an empty prefixInfo for k, which has none, and returns it.
func (e *Engine) newInfo(k pkey) *prefixInfo {
	pi := &prefixInfo{key: k}
	e.prefixes.set(k, pi)
	return pi
}

// release forgets what is left of pi's unused states, and pi itself when
// nothing of it is left.
func (e *Engine) release(pi *prefixInfo) {
	used := pi.first.clean()
	for i := range pi.more {
		used = pi.more[i].clean() || used
	}
	if !used && pi.hist.empty() {
		e.prefixes.delete(pi.key)
	}
}

// clean marks s unused if it holds nothing, and reports whether it is used.
func (s *jailState) clean() bool {
	if s.fl == nil && s.ban == nil {
		s.jail = nil
	}
	return s.jail != nil
}

// state returns the state of j in pi, or nil. The pointer is valid until
// the next addState on pi.
func (pi *prefixInfo) state(j *jail) *jailState {
	if pi == nil {
		return nil
	}
	if pi.first.jail == j {
		return &pi.first
	}
	for i := range pi.more {
		if pi.more[i].jail == j {
			return &pi.more[i]
		}
	}
	return nil
}

// addState returns the state of j in pi, adding an empty one if there is
// none.
func (pi *prefixInfo) addState(j *jail) *jailState {
	if s := pi.state(j); s != nil {
		return s
	}
	if pi.first.jail == nil {
		pi.first.jail = j
		return &pi.first
	}
	for i := range pi.more {
		if pi.more[i].jail == nil {
			pi.more[i].jail = j
			return &pi.more[i]
		}
	}
	pi.more = append(pi.more, jailState{jail: j})
	return &pi.more[len(pi.more)-1]
}

// banOf returns the ban of pi in j, or nil.
func (pi *prefixInfo) banOf(j *jail) *banEntry {
	if s := pi.state(j); s != nil {
		return s.ban
	}
	return nil
}
