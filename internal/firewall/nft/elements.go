package nft

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"github.com/google/nftables"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/netprefix"
)

const (
	// maxPrefixesPerMsg bounds the prefixes (two set elements each) of one
	// netlink message. google/nftables v0.3.0 does not check that the
	// element list fits in a netlink attribute (at most 64 KiB): larger
	// lists wrap the 16-bit length and the kernel silently sees only part
	// of them. 1,000 IPv6 elements take about 48 KB.
	maxPrefixesPerMsg = 500
	// elemBytes is an upper bound of the bytes of one set element in a
	// message (IPv6 key, flags and timeout), msgBytes of a message's own.
	elemBytes = 48
	msgBytes  = 128
	// pruneEvery is how often a set's model forgets expired bans.
	pruneEvery = time.Minute
)

// Ban adds bans to a jail: elements whose timeouts run from now, 0 meaning
// permanent. Overlaps never fail the call: banning a prefix already banned
// replaces its timeout, a prefix inside a longer-lasting banned prefix
// changes nothing in the kernel, and a prefix around shorter-lived banned
// ones replaces their elements; in general each address ends up banned
// until the latest deadline of the bans that cover it. IPv4-mapped IPv6
// addresses are banned as IPv4.
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
	now := b.now()
	v4, v6, err := split(elems, now)
	if err != nil {
		return fmt.Errorf("nftables: banning in jail %q: %w", jail, err)
	}
	for _, x := range []struct {
		st    *setState
		items []entry
	}{{js.v4, v4}, {js.v6, v6}} {
		if len(x.items) == 0 {
			continue
		}
		err := b.change(x.st, len(x.items), func(m *model, pl *plan, now time.Time) { m.ban(pl, x.items, now) })
		if err != nil {
			return fmt.Errorf("nftables: banning in jail %q: %w", jail, err)
		}
	}
	return nil
}

// Unban lifts the ban of each prefix: exactly that prefix, as it was
// banned. Other bans stay, inside it or around it: unbanning one address of
// a banned subnet does not punch a hole in the subnet, and unbanning a
// subnet leaves the bans of addresses in it. Prefixes that are not banned
// are ignored.
func (b *Backend) Unban(jail string, prefixes []netip.Prefix) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	js, err := b.jail(jail)
	if err != nil {
		return err
	}
	var v4, v6 []netip.Prefix
	for _, p := range prefixes {
		n, ok := netprefix.Canonical(p)
		if !ok {
			return fmt.Errorf("nftables: unbanning in jail %q: invalid prefix %v", jail, p)
		}
		if n.Addr().Is4() {
			v4 = append(v4, n)
		} else {
			v6 = append(v6, n)
		}
	}
	for _, x := range []struct {
		st       *setState
		prefixes []netip.Prefix
	}{{js.v4, v4}, {js.v6, v6}} {
		if len(x.prefixes) == 0 {
			continue
		}
		err := b.change(x.st, len(x.prefixes), func(m *model, pl *plan, now time.Time) { m.unban(pl, x.prefixes, now) })
		if err != nil {
			return fmt.Errorf("nftables: unbanning in jail %q: %w", jail, err)
		}
	}
	return nil
}

// Replace makes elems the jail's only bans: it empties both sets and adds
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
	v4, v6, err := split(elems, now)
	if err != nil {
		return fmt.Errorf("nftables: replacing bans of jail %q: %w", jail, err)
	}
	err = b.replace(js, v4, v6, now)
	if errors.Is(err, syscall.ENOENT) {
		if serr := b.setup(b.setupJails); serr != nil {
			return fmt.Errorf("nftables: replacing bans of jail %q: %w (setting the table up again: %v)", jail, err, serr)
		}
		if js, err = b.jail(jail); err == nil {
			err = b.replace(js, v4, v6, now)
		}
	}
	if err != nil {
		return fmt.Errorf("nftables: replacing bans of jail %q: %w", jail, err)
	}
	return nil
}

func (b *Backend) replace(js *jailState, v4, v6 []entry, now time.Time) error {
	bt := &batch{b: b}
	b.conn.FlushSet(js.v4.set)
	b.conn.FlushSet(js.v6.set)
	bt.pending = 2 * msgBytes
	models := make([]*model, 2)
	for i, x := range []struct {
		st    *setState
		items []entry
	}{{js.v4, v4}, {js.v6, v6}} {
		m := newModel(b.bits(x.st))
		pl := newPlan(len(x.items))
		m.ban(pl, x.items, now)
		_, adds := pl.ops(m)
		if err := bt.add(x.st, adds, now); err != nil {
			js.v4.model, js.v6.model = nil, nil
			return err
		}
		models[i] = m
	}
	if err := bt.flush(); err != nil {
		js.v4.model, js.v6.model = nil, nil
		return err
	}
	js.v4.model, js.v6.model = models[0], models[1]
	js.v4.pruned, js.v6.pruned = now, now
	return nil
}

// List returns the jail's elements as the kernel holds them, IPv4 first,
// each sorted, with the time left before they expire (0 for permanent
// ones). Overlapping bans show as the disjoint elements they became.
func (b *Backend) List(jail string) ([]firewall.Element, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	js, err := b.jail(jail)
	if err != nil {
		return nil, err
	}
	var out []firewall.Element
	for _, st := range []*setState{js.v4, js.v6} {
		now := b.now()
		entries, err := b.read(st, now)
		if err != nil {
			return nil, fmt.Errorf("nftables: listing jail %q: %w", jail, err)
		}
		b.adopt(st, entries)
		for _, e := range entries {
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

// split normalizes elements and sorts them by family, with deadlines.
func split(elems []firewall.Element, now time.Time) (v4, v6 []entry, err error) {
	n4 := 0
	for _, e := range elems {
		if e.Prefix.Addr().Unmap().Is4() {
			n4++
		}
	}
	v4, v6 = make([]entry, 0, n4), make([]entry, 0, len(elems)-n4)
	for _, e := range elems {
		p, ok := netprefix.Canonical(e.Prefix)
		if !ok {
			return nil, nil, fmt.Errorf("invalid prefix %v", e.Prefix)
		}
		if e.Timeout < 0 {
			return nil, nil, fmt.Errorf("negative timeout %v for %v", e.Timeout, e.Prefix)
		}
		var d time.Time
		if e.Timeout > 0 {
			d = now.Add(ceilMillis(e.Timeout))
		}
		if p.Addr().Is4() {
			v4 = append(v4, entry{p, d})
		} else {
			v6 = append(v6, entry{p, d})
		}
	}
	return v4, v6, nil
}

// ceilMillis rounds d up to the millisecond, the kernel's unit.
func ceilMillis(d time.Duration) time.Duration {
	return (d + time.Millisecond - 1).Truncate(time.Millisecond)
}

// change applies fn to the set's model and sends the difference. If the
// kernel refuses it (an element expired in between, or the set was changed
// behind the backend's back), the elements are read back from the kernel
// and the change is made once more. size is about how many prefixes fn
// changes.
func (b *Backend) change(st *setState, size int, fn func(*model, *plan, time.Time)) error {
	for attempt := 0; ; attempt++ {
		now := b.now()
		if st.model == nil {
			entries, err := b.read(st, now)
			if err != nil {
				return err
			}
			b.adopt(st, entries)
		}
		if now.Sub(st.pruned) > pruneEvery {
			st.model.prune(now)
			st.pruned = now
		}
		pl := newPlan(size)
		fn(st.model, pl, now)
		dels, adds := pl.ops(st.model)
		bt := &batch{b: b}
		err := bt.del(st, dels)
		if err == nil {
			err = bt.add(st, adds, now)
		}
		if err == nil {
			err = bt.flush()
		}
		if err == nil {
			return nil
		}
		entries, rerr := b.read(st, b.now())
		if rerr != nil {
			st.model = nil
			return errors.Join(err, rerr)
		}
		b.adopt(st, entries)
		if attempt > 0 || !(errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.EEXIST)) {
			return err
		}
	}
}

// adopt makes entries read from the kernel the model's elements. A set
// without a model gets them as its bans too.
func (b *Backend) adopt(st *setState, entries []entry) {
	if st.model == nil {
		st.model = newModel(b.bits(st))
		for _, e := range entries {
			st.model.bans.put(e.prefix, e.deadline)
		}
		st.pruned = b.now()
	}
	st.model.elems = newIndex(b.bits(st))
	for _, e := range entries {
		st.model.elems.put(e.prefix, e.deadline)
	}
}

// read returns the set's elements from the kernel as prefixes with
// deadlines. Ranges that are not single prefixes (added by someone else)
// are replaced in the kernel by the prefixes that cover them, so that the
// model's elements are the kernel's.
func (b *Backend) read(st *setState, now time.Time) ([]entry, error) {
	raw, err := b.conn.GetSetElements(st.set)
	if err != nil {
		return nil, fmt.Errorf("reading set %s: %w", st.set.Name, err)
	}
	var out, split []entry
	var odd []nftables.SetElement
	for _, r := range pairRanges(raw) {
		var d time.Time
		if r.timeout > 0 {
			if r.expires <= 0 {
				continue // expiring now
			}
			d = now.Add(r.expires)
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
		err := bt.add(st, split, now)
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

// del queues the deletion of elements.
func (bt *batch) del(st *setState, prefixes []netip.Prefix) error {
	// The library encodes the elements at once: one slice serves every
	// message.
	var els []nftables.SetElement
	var keys []byte
	for chunk := range slices.Chunk(prefixes, maxPrefixesPerMsg) {
		els = els[:0]
		for _, p := range chunk {
			els = appendElems(els, &keys, p, 0)
		}
		if err := bt.queue(len(els)); err != nil {
			return err
		}
		if err := bt.b.conn.SetDeleteElements(st.set, els); err != nil {
			return err
		}
	}
	return nil
}

// add queues elements with the time left until their deadlines.
func (bt *batch) add(st *setState, entries []entry, now time.Time) error {
	// The library encodes the elements at once: one slice serves every
	// message.
	var els []nftables.SetElement
	var keys []byte
	for chunk := range slices.Chunk(entries, maxPrefixesPerMsg) {
		els = els[:0]
		for _, e := range chunk {
			var timeout time.Duration
			if !e.deadline.IsZero() {
				timeout = max(ceilMillis(e.deadline.Sub(now)), time.Millisecond)
			}
			els = appendElems(els, &keys, e.prefix, timeout)
		}
		if err := bt.queue(len(els)); err != nil {
			return err
		}
		if err := bt.b.conn.SetAddElements(st.set, els); err != nil {
			return err
		}
	}
	return nil
}

// appendElems appends the start and end elements of prefix p. The end is
// the address after p, flagged as an interval end; a prefix that reaches
// the last address has no end. The keys are carved out of *keys, which
// is refilled when it runs out: one allocation for many elements.
func appendElems(els []nftables.SetElement, keys *[]byte, p netip.Prefix, timeout time.Duration) []nftables.SetElement {
	key := func(a netip.Addr) []byte {
		n := a.BitLen() / 8
		if len(*keys) < n {
			*keys = make([]byte, 16*maxPrefixesPerMsg)
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
	if end, ok := prefixEnd(p); ok {
		els = append(els, nftables.SetElement{Key: key(end), IntervalEnd: true})
	}
	return els
}
