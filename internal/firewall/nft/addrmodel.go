package nft

import (
	"maps"
	"net/netip"
	"time"
)

// addrModel is one hash set: the bans of prefixes of one length (the
// jail's ban prefix length: single addresses, /32 or /128, or say /64s),
// which are also exactly the kernel's elements, keyed by their network
// addresses. Prefixes of one length never overlap, so neither do bans. A
// ban of a prefix already banned keeps the later of the two deadlines.
// Like the interval model it is pure: time is passed in.
type addrModel struct {
	elems map[addrKey]time.Time // by network address
	is4   bool
	plen  int // the length of the prefixes
}

func newAddrModel(is4 bool, plen, size int) *addrModel {
	return &addrModel{elems: make(map[addrKey]time.Time, size), is4: is4, plen: plen}
}

// ban records bans of prefixes of the model's length (masked) and returns
// what to send to the kernel: new elements to add, and elements whose
// deadline grew to renew. A ban no later than the live ban of its prefix
// changes nothing.
func (m *addrModel) ban(bans []entry, now time.Time) ops {
	// An element's state before the batch touched it and after, so that
	// an address banned twice in one batch is sent once.
	type touch struct {
		k       addrKey
		was, d  time.Time
		wasLive bool
	}
	touched := make([]touch, 0, len(bans))
	var seen map[addrKey]int
	if len(bans) > 1 {
		seen = make(map[addrKey]int, len(bans))
		m.reserve(len(bans))
	}
	for _, b := range bans {
		k := keyOf(b.prefix.Addr())
		if i, dup := seen[k]; dup {
			touched[i].d = later(touched[i].d, b.deadline)
			continue
		}
		old, ok := m.elems[k]
		t := touch{k: k, was: old, d: b.deadline, wasLive: ok && alive(old, now)}
		if t.wasLive {
			t.d = later(old, t.d)
		}
		if seen != nil {
			seen[k] = len(touched)
		}
		touched = append(touched, t)
	}
	var out ops
	for _, t := range touched {
		e := entry{netip.PrefixFrom(m.addr(t.k), m.plen), t.d}
		switch {
		case !t.wasLive:
			if out.adds == nil {
				out.adds = make([]entry, 0, len(touched))
			}
			out.adds = append(out.adds, e)
		case !t.d.Equal(t.was):
			out.renew = append(out.renew, e)
		default:
			continue
		}
		m.elems[t.k] = t.d
	}
	return out
}

// reserve makes room for n more addresses, so that a large batch does not
// grow the map step by step.
func (m *addrModel) reserve(n int) {
	if n <= len(m.elems) {
		return // growing by steps costs less than a copy
	}
	bigger := make(map[addrKey]time.Time, len(m.elems)+n)
	maps.Copy(bigger, m.elems)
	m.elems = bigger
}

// unban removes the bans of prefixes of the model's length (masked) and
// returns the elements to delete: those that were live.
func (m *addrModel) unban(prefixes []netip.Prefix, now time.Time) ops {
	var out ops
	for _, p := range prefixes {
		k := keyOf(p.Addr())
		if d, ok := m.elems[k]; ok {
			delete(m.elems, k)
			if alive(d, now) {
				out.dels = append(out.dels, p)
			}
		}
	}
	return out
}

// get returns the deadline of the live ban of the prefix of the model's
// length that holds a, and whether there is one.
func (m *addrModel) get(a netip.Addr, now time.Time) (time.Time, bool) {
	p, _ := a.Prefix(m.plen)
	d, ok := m.elems[keyOf(p.Addr())]
	return d, ok && alive(d, now)
}

// prune forgets expired bans; the kernel drops their elements by itself.
func (m *addrModel) prune(now time.Time) {
	for k, d := range m.elems {
		if !alive(d, now) {
			delete(m.elems, k)
		}
	}
}

// all returns the live bans, sorted.
func (m *addrModel) all(now time.Time) []entry {
	out := make([]entry, 0, len(m.elems))
	for k, d := range m.elems {
		if alive(d, now) {
			out = append(out, entry{netip.PrefixFrom(m.addr(k), m.plen), d})
		}
	}
	sortEntries(out)
	return out
}

func (m *addrModel) addr(k addrKey) netip.Addr {
	a := netip.AddrFrom16(k)
	if m.is4 {
		return a.Unmap()
	}
	return a
}
