package ipset

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"syscall"
	"time"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/netprefix"
)

// longBan is a ban longer than the kernel's longest timeout.
type longBan struct {
	deadline  time.Time // when the ban ends
	kernelEnd time.Time // when the kernel drops the element unless renewed
}

// refreshMargin is how long before the kernel would drop a long ban's
// element the backend adds it again.
const refreshMargin = time.Hour

// retryRenew is when renewing long bans is tried again after a failure.
const retryRenew = time.Minute

// Ban adds bans to a jail: elements whose timeouts run from now, 0 meaning
// permanent, rounded up to whole seconds. Banning a prefix already banned
// replaces its timeout; overlapping prefixes are kept side by side (see the
// package documentation). IPv4-mapped IPv6 addresses are banned as IPv4.
// Elements go to the kernel in messages of a thousand.
func (b *Backend) Ban(jail string, elems []firewall.Element) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	js, err := b.jail(jail)
	if err != nil {
		return err
	}
	byFam, err := split(elems)
	if err != nil {
		return fmt.Errorf("ipset: banning in jail %q: %w", jail, err)
	}
	now := b.now()
	for i, els := range byFam {
		if len(els) == 0 {
			continue
		}
		set := js.set(i)
		long := b.long[set]
		if long == nil {
			long = make(map[netip.Prefix]longBan)
			b.long[set] = long
		}
		if err := b.addEntries(set, entries(els, now, long)); err != nil {
			b.schedule()
			return fmt.Errorf("ipset: banning in jail %q: %w", jail, err)
		}
	}
	b.schedule()
	return nil
}

// Unban lifts the ban of each prefix: exactly that prefix, as it was
// banned. Other bans stay, inside it or around it. Prefixes that are not
// banned are ignored.
func (b *Backend) Unban(jail string, prefixes []netip.Prefix) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	js, err := b.jail(jail)
	if err != nil {
		return err
	}
	var byFam [2][]batchEntry
	for _, p := range prefixes {
		ps, ok := normalize(p)
		if !ok {
			return fmt.Errorf("ipset: unbanning in jail %q: invalid prefix %v", jail, p)
		}
		for _, n := range ps {
			i := famIndex(n)
			byFam[i] = append(byFam[i], batchEntry{prefix: n})
			delete(b.long[js.set(i)], n)
		}
	}
	for i, es := range byFam {
		for chunk := range slices.Chunk(es, maxBatch) {
			if err := b.conn.adt(cmdDel, js.set(i), chunk); err != nil {
				return fmt.Errorf("ipset: unbanning in jail %q: %w", jail, describe(err, "set %s", js.set(i)))
			}
		}
	}
	b.schedule()
	return nil
}

// Replace makes elems the jail's only bans. Each set is filled aside and
// swapped in at once, so that no ban is lifted in between. The daemon uses
// it at start to apply the bans of its store, and to resynchronise the
// firewall: if the sets, the chain, its rules or its hook into INPUT have
// disappeared or changed, Replace sets everything up again as the last
// Setup did.
func (b *Backend) Replace(jail string, elems []firewall.Element) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	js, err := b.jail(jail)
	if err != nil {
		return err
	}
	byFam, err := split(elems)
	if err != nil {
		return fmt.Errorf("ipset: replacing bans of jail %q: %w", jail, err)
	}
	if b.now().Sub(b.verified) >= verifyEvery {
		ok, err := b.intact()
		if err != nil {
			return fmt.Errorf("ipset: replacing bans of jail %q: checking the rules: %w", jail, err)
		}
		if !ok {
			if err := b.setup(b.setupJails); err != nil {
				return fmt.Errorf("ipset: replacing bans of jail %q: setting up again: %w", jail, err)
			}
			js = b.jails[jail]
		}
		b.verified = b.now()
	}
	err = b.replace(js, byFam)
	if errors.Is(err, syscall.ENOENT) || errors.Is(err, ipsetError(errTypeMismatch)) {
		if serr := b.setup(b.setupJails); serr != nil {
			return fmt.Errorf("ipset: replacing bans of jail %q: %w (setting up again: %v)", jail, err, serr)
		}
		err = b.replace(b.jails[jail], byFam)
	}
	b.schedule()
	if err != nil {
		return fmt.Errorf("ipset: replacing bans of jail %q: %w", jail, err)
	}
	return nil
}

func (b *Backend) replace(js *jailState, byFam [2][]firewall.Element) error {
	for i, f := range b.fams {
		set := js.set(i)
		tmp := set + tempSuffix
		if err := b.destroy(tmp); err != nil {
			return describe(err, "destroying set %s", tmp)
		}
		if err := b.conn.create(tmp, f.nfproto, b.rev[i], b.maxElem); err != nil {
			return describe(err, "creating set %s", tmp)
		}
		long := make(map[netip.Prefix]longBan)
		err := b.addEntries(tmp, entries(byFam[i], b.now(), long))
		if err == nil {
			err = b.conn.swap(set, tmp)
			if err != nil {
				err = describe(err, "swapping sets %s and %s", set, tmp)
			}
		}
		if derr := b.destroy(tmp); err == nil && derr != nil {
			err = describe(derr, "destroying set %s", tmp)
		}
		if err != nil {
			return err
		}
		b.long[set] = long
	}
	return nil
}

// List returns the jail's elements as the kernel holds them, IPv4 first,
// each sorted, with the time left before they expire (0 for permanent
// ones), in whole seconds as the kernel counts them.
func (b *Backend) List(jail string) ([]firewall.Element, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	js, err := b.jail(jail)
	if err != nil {
		return nil, err
	}
	var out []firewall.Element
	for i := range b.fams {
		set := js.set(i)
		_, entries, err := b.conn.list(set)
		if err != nil {
			return nil, fmt.Errorf("ipset: listing jail %q: %w", jail, describe(err, "set %s", set))
		}
		slices.SortFunc(entries, func(x, y kernelEntry) int { return comparePrefix(x.prefix, y.prefix) })
		now := b.now()
		for _, e := range entries {
			left := e.timeout
			if lb, ok := b.long[set][e.prefix]; ok && lb.deadline.After(now) {
				left = lb.deadline.Sub(now)
			}
			out = append(out, firewall.Element{Prefix: e.prefix, Timeout: left})
		}
	}
	return out, nil
}

func comparePrefix(a, b netip.Prefix) int {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c
	}
	return a.Bits() - b.Bits()
}

func (b *Backend) jail(name string) (*jailState, error) {
	if err := b.usable(); err != nil {
		return nil, err
	}
	js, ok := b.jails[name]
	if !ok {
		return nil, fmt.Errorf("ipset: %w %q", ErrUnknownJail, name)
	}
	return js, nil
}

// normalize returns p masked, with an IPv4-mapped IPv6 prefix turned into
// the IPv4 prefix it covers and any zone dropped. A /0, which hash:net
// cannot hold, becomes its two halves.
func normalize(p netip.Prefix) ([]netip.Prefix, bool) {
	p, ok := netprefix.Canonical(p)
	if !ok {
		return nil, false
	}
	if p.Bits() > 0 {
		return []netip.Prefix{p}, true
	}
	lo := netip.PrefixFrom(p.Addr(), 1)
	hi := p.Addr().AsSlice()
	hi[0] = 0x80
	h, _ := netip.AddrFromSlice(hi)
	return []netip.Prefix{lo, netip.PrefixFrom(h, 1)}, true
}

func famIndex(p netip.Prefix) int {
	if p.Addr().Is4() {
		return 0
	}
	return 1
}

// split normalizes elements and sorts them by family.
func split(elems []firewall.Element) ([2][]firewall.Element, error) {
	var out [2][]firewall.Element
	for _, e := range elems {
		ps, ok := normalize(e.Prefix)
		if !ok {
			return out, fmt.Errorf("invalid prefix %v", e.Prefix)
		}
		if e.Timeout < 0 {
			return out, fmt.Errorf("negative timeout %v for %v", e.Timeout, e.Prefix)
		}
		for _, p := range ps {
			i := famIndex(p)
			out[i] = append(out[i], firewall.Element{Prefix: p, Timeout: e.Timeout})
		}
	}
	return out, nil
}

// entries turns elements into kernel entries with timeouts in seconds,
// rounded up. Timeouts longer than the kernel keeps are cut to its
// longest and recorded in long; other elements are removed from it.
func entries(els []firewall.Element, now time.Time, long map[netip.Prefix]longBan) []batchEntry {
	out := make([]batchEntry, 0, len(els))
	for _, e := range els {
		secs := seconds(e.Timeout)
		if secs > maxTimeout {
			long[e.Prefix] = longBan{deadline: now.Add(e.Timeout), kernelEnd: now.Add(maxTimeout * time.Second)}
			secs = maxTimeout
		} else {
			delete(long, e.Prefix)
		}
		out = append(out, batchEntry{prefix: e.Prefix, seconds: uint32(secs)})
	}
	return out
}

// seconds returns d in whole seconds, rounded up.
func seconds(d time.Duration) int64 {
	return int64((d + time.Second - 1) / time.Second)
}

// addEntries adds entries to a set in messages of maxBatch. When the
// kernel refuses a message, its entries are added one by one so that only
// those it refuses are lost, and the error says which.
func (b *Backend) addEntries(set string, es []batchEntry) error {
	var errs []error
	failed := 0
	for chunk := range slices.Chunk(es, maxBatch) {
		err := b.conn.adt(cmdAdd, set, chunk)
		if err == nil {
			continue
		}
		if errors.Is(err, syscall.ENOENT) {
			return describe(err, "set %s", set)
		}
		for _, e := range chunk {
			if err := b.conn.adt(cmdAdd, set, []batchEntry{e}); err != nil {
				failed++
				if len(errs) < 3 {
					errs = append(errs, fmt.Errorf("%v: %w", e.prefix, err))
				}
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("ipset: set %s: the kernel refused %d of %d elements: %w", set, failed, len(es), errors.Join(errs...))
	}
	return nil
}

// schedule arms the timer that renews long bans, for the earliest of them.
func (b *Backend) schedule() {
	b.stopRefresh()
	var next time.Time
	for _, m := range b.long {
		for _, lb := range m {
			if at := lb.kernelEnd.Add(-refreshMargin); next.IsZero() || at.Before(next) {
				next = at
			}
		}
	}
	if next.IsZero() || b.closed {
		return
	}
	b.refresh = b.afterFunc(max(next.Sub(b.now()), 0), b.renew)
}

func (b *Backend) stopRefresh() {
	if b.refresh != nil {
		b.refresh()
		b.refresh = nil
	}
}

// renew adds long bans again before the kernel drops them.
func (b *Backend) renew() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	now := b.now()
	for set, m := range b.long {
		var es []batchEntry
		for p, lb := range m {
			if lb.kernelEnd.Add(-refreshMargin).After(now) {
				continue
			}
			left := lb.deadline.Sub(now)
			if left <= 0 {
				delete(m, p)
				continue
			}
			es = append(es, entries([]firewall.Element{{Prefix: p, Timeout: left}}, now, m)...)
		}
		if err := b.addEntries(set, es); err != nil {
			b.log.Error("renewing long bans failed; will retry", "set", set, "err", err)
			for _, e := range es {
				if lb, ok := m[e.prefix]; ok {
					lb.kernelEnd = now.Add(refreshMargin + retryRenew)
					m[e.prefix] = lb
				}
			}
		}
	}
	b.schedule()
}
