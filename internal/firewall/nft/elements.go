package nft

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"github.com/google/nftables"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/netprefix"
)

const (
	// maxElemsPerMsg bounds the set elements of one netlink message: a
	// prefix of an interval set takes two (its start and its end), an
	// address of a hash set one. google/nftables v0.3.0 does not check
	// that the element list fits in a netlink attribute (at most 64 KiB):
	// larger lists wrap the 16-bit length and the kernel silently sees
	// only part of them. 1,000 IPv6 elements take about 48 KB.
	maxElemsPerMsg = 1000
	// elemBytes is an upper bound of the bytes of one set element in a
	// message (IPv6 key, flags and timeout), msgBytes of a message's own.
	elemBytes = 48
	msgBytes  = 128
	// pruneEvery is how often a set's model forgets expired bans.
	pruneEvery = time.Minute
)

// Ban adds bans to a jail: elements whose timeouts run from now, 0 meaning
// permanent. Overlaps never fail the call, and each address ends up banned
// until the latest deadline of the bans that cover it: banning a prefix
// already banned keeps the later of its two deadlines (never being the
// latest), a prefix inside a longer-lasting banned prefix changes nothing
// in the kernel, and a prefix around shorter-lived banned ones replaces
// their elements. Bans of the jail's ban prefix length (Jail.BanPrefix4,
// BanPrefix6) go to its hash set, the others to its interval set; a ban in
// one set and an overlapping ban in the other (an address and a subnet
// around it) are independent: Unban lifts one and leaves the other.
// IPv4-mapped IPv6 addresses are banned as IPv4.
//
// The elements are sent in as few transactions as the socket buffer allows
// (one for about a hundred thousand prefixes).
func (b *Backend) Ban(jail string, elems []firewall.Element) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	js, err := b.jail(jail)
	if err != nil {
		return err
	}
	v4, v6, err := split(js, elems, b.now())
	if err != nil {
		return fmt.Errorf("nftables: banning in jail %q: %w", jail, err)
	}
	var edits []edit
	for _, x := range []struct {
		f     *family
		items parts
	}{{js.v4, v4}, {js.v6, v6}} {
		if addrs := x.items.addrs; len(addrs) > 0 {
			edits = append(edits, edit{x.f.addrs, func(st *setState, now time.Time) ops {
				return st.addrs.ban(addrs, now)
			}})
		}
		if nets := x.items.nets; len(nets) > 0 {
			edits = append(edits, edit{x.f.nets, func(st *setState, now time.Time) ops {
				pl := newPlan(len(nets))
				st.nets.ban(pl, nets, now)
				return pl.ops(st.nets)
			}})
		}
	}
	if err := b.change(edits); err != nil {
		return fmt.Errorf("nftables: banning in jail %q: %w", jail, err)
	}
	return nil
}

// Unban lifts the ban of each prefix: exactly that prefix, as it was
// banned. Other bans stay, inside it or around it: unbanning one address of
// a banned subnet does not punch a hole in the subnet, and unbanning a
// subnet leaves the bans of addresses in it. Prefixes that are not banned
// are ignored. Like Ban it finds a prefix in the hash set if it has the
// jail's ban prefix length, else in the interval set.
func (b *Backend) Unban(jail string, prefixes []netip.Prefix) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	js, err := b.jail(jail)
	if err != nil {
		return err
	}
	// By family (IPv4, IPv6), then set (hash, interval).
	var byFam [2][2][]netip.Prefix
	for _, p := range prefixes {
		n, ok := netprefix.Canonical(p)
		if !ok {
			return fmt.Errorf("nftables: unbanning in jail %q: invalid prefix %v", jail, p)
		}
		f, k := 1, 1
		fam := js.v6
		if n.Addr().Is4() {
			f, fam = 0, js.v4
		}
		if n.Bits() == fam.addrs.plen {
			k = 0
		}
		byFam[f][k] = append(byFam[f][k], n)
	}
	var edits []edit
	for i, f := range []*family{js.v4, js.v6} {
		if addrs := byFam[i][0]; len(addrs) > 0 {
			edits = append(edits, edit{f.addrs, func(st *setState, now time.Time) ops {
				return st.addrs.unban(addrs, now)
			}})
		}
		if nets := byFam[i][1]; len(nets) > 0 {
			edits = append(edits, edit{f.nets, func(st *setState, now time.Time) ops {
				pl := newPlan(len(nets))
				st.nets.unban(pl, nets, now)
				return pl.ops(st.nets)
			}})
		}
	}
	if err := b.change(edits); err != nil {
		return fmt.Errorf("nftables: unbanning in jail %q: %w", jail, err)
	}
	return nil
}

// Replace makes elems the jail's only bans: it empties its sets and adds
// the elements, in one transaction unless they do not fit in the socket
// buffer (several hundred thousand prefixes). The daemon uses it at start to
// apply the bans of its store, and to resynchronise the firewall: if the
// table or the jail's sets have disappeared, Replace sets the table up again
// as the last Setup did.
func (b *Backend) Replace(jail string, elems []firewall.Element) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	js, err := b.jail(jail)
	if err != nil {
		return err
	}
	now := b.now()
	v4, v6, err := split(js, elems, now)
	if err != nil {
		return fmt.Errorf("nftables: replacing bans of jail %q: %w", jail, err)
	}
	err = b.replace(js, v4, v6, now)
	if errors.Is(err, syscall.ENOENT) {
		if serr := b.setup(b.setupJails); serr != nil {
			return fmt.Errorf("nftables: replacing bans of jail %q: %w (setting the table up again: %v)", jail, err, serr)
		}
		// The jail's lengths are those of the last Setup: the split
		// holds.
		if js, err = b.jail(jail); err == nil {
			err = b.replace(js, v4, v6, now)
		}
	}
	if err != nil {
		return fmt.Errorf("nftables: replacing bans of jail %q: %w", jail, err)
	}
	return nil
}

func (b *Backend) replace(js *jailState, v4, v6 parts, now time.Time) error {
	sets := js.sets()
	bt := &batch{b: b}
	for _, st := range sets {
		b.conn.FlushSet(st.set)
	}
	bt.pending = len(sets) * msgBytes
	addrs := make([]*addrModel, 0, 2)
	nets := make([]*model, 0, 2)
	fail := func(err error) error {
		for _, st := range sets {
			st.forget()
		}
		return err
	}
	for _, x := range []struct {
		f     *family
		items parts
	}{{js.v4, v4}, {js.v6, v6}} {
		am := newAddrModel(x.f.addrs.is4, x.f.addrs.plen, 0) // ban makes room
		if err := bt.send(x.f.addrs, am.ban(x.items.addrs, now), now); err != nil {
			return fail(err)
		}
		nm := newModel(x.f.nets.bits())
		pl := newPlan(len(x.items.nets))
		nm.ban(pl, x.items.nets, now)
		if err := bt.send(x.f.nets, pl.ops(nm), now); err != nil {
			return fail(err)
		}
		addrs, nets = append(addrs, am), append(nets, nm)
	}
	if err := bt.flush(); err != nil {
		return fail(err)
	}
	for i, f := range []*family{js.v4, js.v6} {
		f.addrs.addrs, f.nets.nets = addrs[i], nets[i]
		f.addrs.pruned, f.nets.pruned = now, now
	}
	return nil
}

// List returns the jail's elements as the kernel holds them, IPv4 first,
// each family sorted, with the time left before they expire (0 for
// permanent ones). The elements of a hash set show as the prefixes of the
// jail's ban prefix length (of the last Setup) they stand for, such as
// 2001:db8:1::/64. Overlapping bans in the interval set show as the
// disjoint elements they became; a ban in the hash set shows even inside
// a banned prefix of the interval set, and the other way round.
func (b *Backend) List(jail string) ([]firewall.Element, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	js, err := b.jail(jail)
	if err != nil {
		return nil, err
	}
	var out []firewall.Element
	for _, f := range []*family{js.v4, js.v6} {
		now := b.now()
		var all []entry
		for _, st := range f.sets() {
			entries, err := b.read(st, now)
			if err != nil {
				return nil, fmt.Errorf("nftables: listing jail %q: %w", jail, err)
			}
			st.adopt(entries, now)
			all = append(all, entries...)
		}
		sortEntries(all)
		for _, e := range all {
			var left time.Duration
			if !e.deadline.IsZero() {
				left = e.deadline.Sub(now)
			}
			out = append(out, firewall.Element{Prefix: e.prefix, Timeout: left})
		}
	}
	return out, nil
}

func (b *Backend) jail(name string) (*jailState, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	js, ok := b.jails[name]
	if !ok {
		return nil, fmt.Errorf("nftables: %w %q", ErrUnknownJail, name)
	}
	return js, nil
}

// parts are the bans of one family, by the set they go to.
type parts struct {
	addrs []entry // prefixes of the jail's ban prefix length, for the hash set
	nets  []entry // other prefixes, for the interval set
}

// split normalizes elements and sorts them by family and by the set of
// js they go to, with deadlines.
func split(js *jailState, elems []firewall.Element, now time.Time) (v4, v6 parts, err error) {
	var n [2][2]int // [IPv6][net], a count to size the slices
	for _, e := range elems {
		a := e.Prefix.Addr()
		is6, net, plen := 0, 0, js.v4.addrs.plen
		if a.Is6() && !a.Is4In6() {
			is6, plen = 1, js.v6.addrs.plen
		} else if a.Is4In6() {
			plen += 96
		}
		if e.Prefix.Bits() != plen {
			net = 1
		}
		n[is6][net]++
	}
	v4 = parts{addrs: make([]entry, 0, n[0][0]), nets: make([]entry, 0, n[0][1])}
	v6 = parts{addrs: make([]entry, 0, n[1][0]), nets: make([]entry, 0, n[1][1])}
	for _, e := range elems {
		p, ok := netprefix.Canonical(e.Prefix)
		if !ok {
			return parts{}, parts{}, fmt.Errorf("invalid prefix %v", e.Prefix)
		}
		if e.Timeout < 0 {
			return parts{}, parts{}, fmt.Errorf("negative timeout %v for %v", e.Timeout, e.Prefix)
		}
		var d time.Time
		if e.Timeout > 0 {
			d = now.Add(ceilMillis(e.Timeout))
		}
		x, f := &v6, js.v6
		if p.Addr().Is4() {
			x, f = &v4, js.v4
		}
		if p.Bits() == f.addrs.plen {
			x.addrs = append(x.addrs, entry{p, d})
		} else {
			x.nets = append(x.nets, entry{p, d})
		}
	}
	return v4, v6, nil
}

// ceilMillis rounds d up to the millisecond, the kernel's unit.
func ceilMillis(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// ops is what a change sends to one kernel set, in this order: elements to
// delete, elements to delete and add again in the same transaction (those
// whose deadline changed: adding an element that exists does not change
// its timeout on every kernel), and elements to add.
type ops struct {
	dels  []netip.Prefix
	renew []entry
	adds  []entry
}

// edit is a change to one set: fn changes the set's model, which is known,
// and returns what to send to the kernel.
type edit struct {
	st *setState
	fn func(st *setState, now time.Time) ops
}

// change applies the edits to the sets' models and sends the differences,
// in one transaction if they fit. If the kernel refuses it (an element
// expired in between, or a set was changed behind the backend's back), the
// sets' elements are read back from the kernel and the change is made once
// more.
func (b *Backend) change(edits []edit) error {
	for attempt := 0; ; attempt++ {
		now := b.now()
		for _, e := range edits {
			if !e.st.known() {
				entries, err := b.read(e.st, now)
				if err != nil {
					return err
				}
				e.st.adopt(entries, now)
			}
			e.st.prune(now)
		}
		bt := &batch{b: b}
		var err error
		for _, e := range edits {
			if err = bt.send(e.st, e.fn(e.st, now), now); err != nil {
				break
			}
		}
		if err == nil {
			err = bt.flush()
		}
		if err == nil {
			return nil
		}
		now = b.now()
		for _, e := range edits {
			entries, rerr := b.read(e.st, now)
			if rerr != nil {
				e.st.forget()
				return errors.Join(err, rerr)
			}
			e.st.adopt(entries, now)
		}
		if attempt > 0 || !(errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EEXIST)) {
			return err
		}
	}
}

// maxHashReads bounds how many times read dumps a hash set that keeps
// changing under the dump.
const maxHashReads = 4

// read returns the set's elements from the kernel as prefixes with
// deadlines, sorted. The elements of a hash set are the network addresses
// of prefixes of its length, plen; an element with bits set past plen
// (which no packet matches) is not a ban and is left out.
//
// The kernel dumps a hash set by walking its hash table from the start for
// each message and skipping what earlier messages held. While the table is
// resized (as it grows, for a while after a large batch) the order changes
// between messages, and the dump holds some elements twice and others not
// at all, as many of each. A dump with an element twice is therefore
// taken again; if none of maxHashReads is whole, the union of what they
// held is returned.
func (b *Backend) read(st *setState, now time.Time) ([]entry, error) {
	if st.interval() {
		return b.readNets(st, now)
	}
	var union map[addrKey]time.Time
	for range maxHashReads {
		raw, err := b.conn.GetSetElements(st.set)
		if err != nil {
			return nil, fmt.Errorf("reading set %s: %w", st.set.Name, err)
		}
		got := make(map[addrKey]time.Time, len(raw))
		whole := true
		for _, e := range raw {
			a, ok := netip.AddrFromSlice(e.Key)
			if !ok || e.IntervalEnd {
				continue
			}
			if st.is4 {
				a = a.Unmap()
			}
			if p, _ := a.Prefix(st.plen); p.Addr() != a {
				continue
			}
			k := keyOf(a)
			if _, dup := got[k]; dup {
				whole = false
			}
			if d, ok := deadline(e.Timeout, e.Expires, now); ok {
				got[k] = d
			}
		}
		if whole {
			union = got
			break
		}
		if union == nil {
			union = got
		} else {
			maps.Copy(union, got)
		}
	}
	out := make([]entry, 0, len(union))
	m := addrModel{is4: st.is4}
	for k, d := range union {
		out = append(out, entry{netip.PrefixFrom(m.addr(k), st.plen), d})
	}
	sortEntries(out)
	return out, nil
}

// deadline returns the deadline of an element listed by the kernel with a
// timeout and the time it has left, and false if it is expiring now.
func deadline(timeout, expires time.Duration, now time.Time) (time.Time, bool) {
	if timeout <= 0 {
		return time.Time{}, true
	}
	if expires <= 0 {
		return time.Time{}, false
	}
	return now.Add(expires), true
}

// readNets returns the elements of an interval set from the kernel as
// prefixes with deadlines, sorted. Ranges that are not single prefixes
// (added by someone else) are replaced in the kernel by the prefixes that
// cover them, so that the model's elements are the kernel's.
func (b *Backend) readNets(st *setState, now time.Time) ([]entry, error) {
	raw, err := b.conn.GetSetElements(st.set)
	if err != nil {
		return nil, fmt.Errorf("reading set %s: %w", st.set.Name, err)
	}
	var out, split []entry
	var odd []nftables.SetElement
	for _, r := range pairRanges(raw) {
		d, ok := deadline(r.timeout, r.expires, now)
		if !ok {
			continue
		}
		start, _ := netip.AddrFromSlice(r.start)
		if st.is4 {
			start = start.Unmap()
		}
		var end netip.Addr
		if r.end != nil {
			end, _ = netip.AddrFromSlice(r.end)
			if st.is4 {
				end = end.Unmap()
			}
		}
		ps := rangePrefixes(start, end)
		if len(ps) != 1 {
			odd = append(odd, nftables.SetElement{Key: r.start})
			if r.end != nil {
				odd = append(odd, nftables.SetElement{Key: r.end, IntervalEnd: true})
			}
			for _, p := range ps {
				split = append(split, entry{p, d})
			}
		}
		for _, p := range ps {
			out = append(out, entry{p, d})
		}
	}
	if len(odd) > 0 {
		bt := &batch{b: b}
		if err := b.conn.SetDeleteElements(st.set, odd); err != nil {
			return nil, err
		}
		bt.pending = len(odd)*elemBytes + msgBytes
		err := bt.send(st, ops{adds: split}, now)
		if err == nil {
			err = bt.flush()
		}
		if err != nil {
			return nil, fmt.Errorf("splitting ranges of set %s into prefixes: %w", st.set.Name, err)
		}
	}
	sortEntries(out)
	return out, nil
}

// kernelRange is an element of an interval set as the kernel lists it: a
// start element and the end element after it. A nil end means up to the
// last address.
type kernelRange struct {
	start, end       []byte
	timeout, expires time.Duration
}

// pairRanges turns the listed elements of an interval set into ranges. The
// kernel lists an end element on its own for a while after its start
// expired; such ends are skipped.
func pairRanges(els []nftables.SetElement) []kernelRange {
	els = slices.Clone(els)
	slices.SortStableFunc(els, func(a, b nftables.SetElement) int {
		if c := bytes.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		switch { // at one key, the end of a range comes before the start of the next
		case a.IntervalEnd && !b.IntervalEnd:
			return -1
		case !a.IntervalEnd && b.IntervalEnd:
			return 1
		}
		return 0
	})
	var out []kernelRange
	for i := 0; i < len(els); i++ {
		e := els[i]
		if e.IntervalEnd {
			continue
		}
		r := kernelRange{start: e.Key, timeout: e.Timeout, expires: e.Expires}
		if i+1 < len(els) && els[i+1].IntervalEnd {
			r.end = els[i+1].Key
			i++
		}
		out = append(out, r)
	}
	return out
}

// batch queues set element messages and flushes them in transactions that
// fit in the socket send buffer.
type batch struct {
	b       *Backend
	pending int // bytes queued
}

func (bt *batch) queue(n int) error {
	size := n*elemBytes + msgBytes
	if bt.pending > 0 && bt.pending+size > bt.b.budget {
		if err := bt.flush(); err != nil {
			return err
		}
	}
	bt.pending += size
	return nil
}

func (bt *batch) flush() error {
	if bt.pending == 0 {
		return nil
	}
	bt.pending = 0
	return bt.b.conn.Flush()
}

// send queues what a change sends to a set.
func (bt *batch) send(st *setState, o ops, now time.Time) error {
	if len(o.dels) > 0 {
		dels := make([]entry, len(o.dels))
		for i, p := range o.dels {
			dels[i].prefix = p
		}
		if err := bt.elems(st, dels, now, true, false); err != nil {
			return err
		}
	}
	if err := bt.elems(st, o.renew, now, true, true); err != nil {
		return err
	}
	return bt.elems(st, o.adds, now, false, true)
}

// elems queues elements in messages of at most maxElemsPerMsg elements:
// their deletion if del, their addition with the time left until their
// deadlines if add, and both in one transaction if both.
func (bt *batch) elems(st *setState, entries []entry, now time.Time, del, add bool) error {
	per := maxElemsPerMsg
	if st.interval() {
		per /= 2
	}
	msgs := 0
	if del {
		msgs++
	}
	if add {
		msgs++
	}
	// The library encodes the elements at once: one slice serves every
	// message.
	var els, plain []nftables.SetElement
	var keys []byte
	for chunk := range slices.Chunk(entries, per) {
		els = els[:0]
		for _, e := range chunk {
			var timeout time.Duration
			if add && !e.deadline.IsZero() {
				timeout = max(ceilMillis(e.deadline.Sub(now)), time.Millisecond)
			}
			els = appendElems(els, &keys, e.prefix, st.interval(), timeout)
		}
		if err := bt.queue(msgs * len(els)); err != nil {
			return err
		}
		if del {
			plain = els
			if add { // a deletion carries no timeouts
				plain = append(plain[:0:0], els...)
				for i := range plain {
					plain[i].Timeout = 0
				}
			}
			if err := bt.b.conn.SetDeleteElements(st.set, plain); err != nil {
				return err
			}
		}
		if add {
			if err := bt.b.conn.SetAddElements(st.set, els); err != nil {
				return err
			}
		}
	}
	return nil
}

// appendElems appends the elements of prefix p: for a hash set, its
// address; for an interval set, its start and end elements. The end is the
// address after p, flagged as an interval end; a prefix that reaches the
// last address has no end. The keys are carved out of *keys, which is
// refilled when it runs out: one allocation for many elements.
func appendElems(els []nftables.SetElement, keys *[]byte, p netip.Prefix, interval bool, timeout time.Duration) []nftables.SetElement {
	key := func(a netip.Addr) []byte {
		n := a.BitLen() / 8
		if len(*keys) < n {
			*keys = make([]byte, 16*maxElemsPerMsg)
		}
		k := (*keys)[:n:n]
		*keys = (*keys)[n:]
		if a.Is4() {
			b := a.As4()
			copy(k, b[:])
		} else {
			b := a.As16()
			copy(k, b[:])
		}
		return k
	}
	els = append(els, nftables.SetElement{Key: key(p.Addr()), Timeout: timeout})
	if !interval {
		return els
	}
	if end, ok := prefixEnd(p); ok {
		els = append(els, nftables.SetElement{Key: key(end), IntervalEnd: true})
	}
	return els
}
