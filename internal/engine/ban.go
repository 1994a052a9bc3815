package engine

import (
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// banInfo is what a ban records beyond its prefix.
type banInfo struct {
	failures int
	matches  []string
	category string
	manual   bool
	reason   string
}

// ban bans p in j from now, for the jail's ban time or, with
// bantime.increment, longer for a prefix banned before. A ban of p already
// there is replaced.
func (e *Engine) ban(j *jail, p netip.Prefix, now time.Time, info banInfo) Decision {
	k := keyOf(p)
	pi := e.addInfo(k)
	st := pi.addState(j)
	if st.ban != nil {
		e.unlinkBan(j, st.ban)
	}
	return e.newBan(j, pi, st, k, now, info)
}

// newBan is ban for the prefix of pi, whose key is k and whose state in j
// is st and holds no ban.
func (e *Engine) newBan(j *jail, pi *prefixInfo, st *jailState, k pkey, now time.Time, info banInfo) Decision {
	p := k.prefix() // from k, not pi.key, which is in a cache line a ban need not read
	end := time.Time{}
	if d := e.banTime(j, pi.hist.earlier(j)); d > 0 {
		end = now.Add(d)
	}
	count := pi.hist.record(j.cfg.Name)
	e.addBan(j, pi, st, &banEntry{ActiveBan: ActiveBan{
		Jail: j.cfg.Name, Prefix: p, Start: now, End: end, Failures: info.failures,
		Manual: info.manual, Count: count, Category: info.category,
	}, index: -1})
	j.totalB++
	return Decision{
		Action: Ban, Jail: j.cfg.Name, Prefix: p, Start: now, End: end,
		Failures: info.failures, Matches: info.matches, Manual: info.manual,
		Count: count, Category: info.category, Reason: info.reason,
	}
}

// record counts a ban in jail and returns its number in the jail.
func (h *history) record(jail string) int {
	n := h.tally(jail, true)
	*n++
	h.all++
	return *n
}

// banTime is the length of the ban of a prefix banned count times before;
// a negative result means permanent. As in fail2ban, the first ban lasts
// the jail's bantime, and later ones at least as long.
func (e *Engine) banTime(j *jail, count int) time.Duration {
	base := j.cfg.BanTime
	inc := j.cfg.Increment
	if base < 0 || inc == nil || count == 0 {
		return base
	}
	secs := base.Seconds()
	factor := inc.Factor
	if factor == 0 {
		factor = 1
	}
	var t float64
	switch {
	case len(inc.Multipliers) > 0:
		t = secs * factor * inc.Multipliers[min(count, len(inc.Multipliers)-1)]
	case inc.Formula != nil:
		f, err := inc.Formula(secs, count, factor)
		if err != nil || math.IsNaN(f) {
			f = secs // a formula that fails must not shorten a ban
		}
		t = max(secs, f)
	default:
		f, _ := DefaultFormula(secs, count, factor)
		t = max(secs, f)
	}
	if inc.MaxTime > 0 {
		t = min(t, inc.MaxTime.Seconds())
	}
	if inc.RndTime > 0 {
		t += e.rand() * inc.RndTime.Seconds()
	}
	if t > float64(math.MaxInt64/2)/1e9 {
		t = float64(math.MaxInt64/2) / 1e9 // centuries: as good as permanent, but it stays a time
	}
	return max(time.Duration(t*1e9), time.Second)
}

// subnetHit is one ban that counts towards banning a subnet.
type subnetHit struct {
	t      time.Time
	prefix netip.Prefix
}

// follow adds to ds what its bans lead to: subnet bans and recidive bans.
func (e *Engine) follow(j *jail, ds []Decision, now time.Time) []Decision {
	if j.cfg.Subnet == nil && len(e.recidive) == 0 {
		return ds // the common case: nothing can follow
	}
	for i := 0; i < len(ds); i++ {
		d := ds[i]
		if d.Action != Ban {
			continue
		}
		bj := e.jails[d.Jail]
		if sd := e.escalate(bj, d); sd != nil {
			ds = append(ds, *sd)
		}
		if bj.cfg.Recidive || d.Manual || d.Reason != "" {
			continue // recidive counts the bans failures caused
		}
		var line string
		for _, rj := range e.recidive {
			if line == "" {
				line = fmt.Sprintf("%s: ban %s (%d failures)", d.Jail, prefixString(d.Prefix), d.Failures)
			}
			if out, rds := e.fail(rj, Failure{Addr: d.Prefix.Addr(), Time: d.Start, Line: line, Category: d.Category}, now); out == Banned {
				ds = append(ds, rds[0])
			}
		}
	}
	return ds
}

// escalate records a ban for subnet escalation and bans the subnet when
// enough of its prefixes were banned within the window.
func (e *Engine) escalate(j *jail, d Decision) *Decision {
	rule := j.cfg.Subnet
	if rule == nil || d.Manual {
		return nil
	}
	b4, b6 := rule.bits()
	bits := b4
	if d.Prefix.Addr().Is6() {
		bits = b6
	}
	if d.Prefix.Bits() <= bits {
		return nil // the ban is a subnet already
	}
	sub, _ := d.Prefix.Addr().Prefix(bits)
	if j.ignoredPrefix(sub) {
		return nil
	}
	if b := e.bannedIn(j, sub.Addr()); b != nil && b.Prefix.Bits() <= bits {
		return nil
	}
	hits := j.subnets[sub]
	cutoff := d.Start.Add(-rule.Window)
	hits = slices.DeleteFunc(hits, func(h subnetHit) bool { return !h.t.After(cutoff) || h.prefix == d.Prefix })
	hits = append(hits, subnetHit{d.Start, d.Prefix})
	if len(hits) < rule.Count {
		j.subnets[sub] = hits
		return nil
	}
	delete(j.subnets, sub)
	names := make([]string, len(hits))
	failures := 0
	for i, h := range hits {
		names[i] = prefixString(h.prefix)
	}
	for _, h := range hits {
		if b := e.info(keyOf(h.prefix)).banOf(j); b != nil {
			failures += b.Failures
		}
	}
	reason := fmt.Sprintf("subnet escalation: %d bans within %v: %s", len(hits), rule.Window, strings.Join(names, " "))
	sd := e.ban(j, sub, d.Start, banInfo{failures: failures, category: d.Category, reason: reason, matches: []string{reason}})
	return &sd
}

// BanRequest is an operator's request to ban a prefix.
type BanRequest struct {
	Jail   string
	Prefix netip.Prefix
	// Force bans even an address on the jail's ignore list.
	Force bool
}

// ManualBan bans a prefix on request. Banning what is banned already
// refreshes the ban's end.
func (e *Engine) ManualBan(r BanRequest) (Decision, error) {
	j, ok := e.jails[r.Jail]
	if !ok {
		return Decision{}, fmt.Errorf("%w %q", ErrUnknownJail, r.Jail)
	}
	p := canonical(r.Prefix)
	if !r.Force && j.ignoredPrefix(p) {
		return Decision{}, fmt.Errorf("%v in jail %q: %w (use --force to ban it anyway)", p, r.Jail, ErrIgnored)
	}
	e.dropOverlapping(j, p)
	return e.ban(j, p, e.now(), banInfo{manual: true}), nil
}

// Restore loads bans that were active before a restart. Bans that have
// ended by now are skipped; it returns how many were restored.
func (e *Engine) Restore(bans []ActiveBan) (int, error) {
	now := e.now()
	n := 0
	for _, rb := range bans {
		j, ok := e.jails[rb.Jail]
		if !ok {
			return n, fmt.Errorf("restoring ban of %v: %w %q", rb.Prefix, ErrUnknownJail, rb.Jail)
		}
		if !rb.End.IsZero() && !rb.End.After(now) {
			continue
		}
		rb.Prefix = canonical(rb.Prefix)
		pi := e.addInfo(keyOf(rb.Prefix))
		st := pi.addState(j)
		if st.ban != nil {
			e.unlinkBan(j, st.ban)
		}
		e.addBan(j, pi, st, &banEntry{ActiveBan: rb, index: -1})
		j.totalB++
		n++
	}
	return n, nil
}

// Unban ends the bans of jail (every jail when jail is "") that equal the
// prefix or, for a single address, contain it.
func (e *Engine) Unban(jailName string, p netip.Prefix) ([]Decision, error) {
	p = canonical(p)
	var js []*jail
	if jailName == "" {
		for _, n := range e.Jails() {
			js = append(js, e.jails[n])
		}
	} else {
		j, ok := e.jails[jailName]
		if !ok {
			return nil, fmt.Errorf("%w %q", ErrUnknownJail, jailName)
		}
		js = []*jail{j}
	}
	var out []Decision
	for _, j := range js {
		for i := len(j.bans) - 1; i >= 0; i-- { // removeBan moves only bans already seen
			if b := j.bans[i]; b.Prefix == p || (p.IsSingleIP() && b.Prefix.Contains(p.Addr())) {
				e.removeBan(j, b)
				out = append(out, Decision{Action: Unban, Jail: j.cfg.Name, Prefix: b.Prefix, Reason: ReasonUnbanned})
			}
		}
		// An unbanned address starts with a clean slate.
		e.dropOverlapping(j, p)
	}
	sortDecisions(out)
	return out, nil
}

// UnbanAll ends every ban of every jail.
func (e *Engine) UnbanAll() []Decision {
	var out []Decision
	for _, j := range e.jails {
		for len(j.bans) > 0 {
			b := j.bans[len(j.bans)-1]
			e.removeBan(j, b)
			out = append(out, Decision{Action: Unban, Jail: j.cfg.Name, Prefix: b.Prefix, Reason: ReasonUnbanned})
		}
	}
	sortDecisions(out)
	return out
}

// Expire ends the bans whose time is up and forgets failures that fell out
// of their windows.
func (e *Engine) Expire() []Decision {
	now := e.now()
	var out []Decision
	for len(e.expiry) > 0 && !e.expiry[0].End.After(now) {
		b := e.expiry[0]
		j := e.jails[b.Jail]
		e.removeBan(j, b)
		out = append(out, Decision{Action: Unban, Jail: b.Jail, Prefix: b.Prefix, End: b.End, Reason: ReasonExpired})
	}
	for _, j := range e.jails {
		cutoff := now.Add(-j.maxFind)
		for i := len(j.fails) - 1; i >= 0; i-- { // dropFails moves only failures already seen
			if fl := j.fails[i]; !fl.newest().After(cutoff) {
				e.dropFails(j, fl)
			}
		}
		if j.cfg.Subnet != nil {
			cutoff := now.Add(-j.cfg.Subnet.Window)
			for k, hits := range j.subnets {
				if !hits[len(hits)-1].t.After(cutoff) {
					delete(j.subnets, k)
				}
			}
		}
	}
	sortDecisions(out)
	return out
}

// NextExpiry returns when the next ban ends, and false when no ban is due
// to end.
func (e *Engine) NextExpiry() (time.Time, bool) {
	if len(e.expiry) == 0 {
		return time.Time{}, false
	}
	return e.expiry[0].End, true
}

// addBan adds b, the ban of the prefix of pi whose state in j is st.
func (e *Engine) addBan(j *jail, pi *prefixInfo, st *jailState, b *banEntry) {
	st.ban = b
	b.info, b.slot = pi, len(j.bans)
	j.bans = append(j.bans, b)
	if b.Prefix.IsSingleIP() {
		j.singles++
	} else {
		j.countWide(b.Prefix, 1)
	}
	if !b.End.IsZero() {
		e.expiry.push(b)
	}
}

// removeBan ends b, a ban of j.
func (e *Engine) removeBan(j *jail, b *banEntry) {
	e.unlinkBan(j, b)
	e.release(b.info)
}

// unlinkBan ends b, a ban of j, leaving its prefix's info to the caller.
func (e *Engine) unlinkBan(j *jail, b *banEntry) {
	b.info.state(j).ban = nil
	last := j.bans[len(j.bans)-1]
	j.bans[b.slot], last.slot = last, b.slot
	j.bans[len(j.bans)-1] = nil
	j.bans = j.bans[:len(j.bans)-1]
	if b.Prefix.IsSingleIP() {
		j.singles--
	} else {
		j.countWide(b.Prefix, -1)
	}
	if b.index >= 0 {
		e.expiry.remove(b.index)
	}
}

// dropOverlapping forgets the failures of j's prefixes that overlap p.
func (e *Engine) dropOverlapping(j *jail, p netip.Prefix) {
	for i := len(j.fails) - 1; i >= 0; i-- { // dropFails moves only failures already seen
		if fl := j.fails[i]; p.Overlaps(fl.info.key.prefix()) {
			e.dropFails(j, fl)
		}
	}
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

// expiryHeap holds the bans that end, the next to end first: a binary
// heap as container/heap keeps one, without its calls through an
// interface.
type expiryHeap []*banEntry

func (h expiryHeap) less(i, k int) bool { return h[i].End.Before(h[k].End) }

func (h expiryHeap) swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].index = i
	h[k].index = k
}

func (h *expiryHeap) push(b *banEntry) {
	b.index = len(*h)
	*h = append(*h, b)
	h.up(b.index)
}

// remove takes out the ban at index i.
func (h *expiryHeap) remove(i int) {
	n := len(*h) - 1
	if n != i {
		h.swap(i, n)
		if !h.down(i, n) {
			h.up(i)
		}
	}
	b := (*h)[n]
	(*h)[n] = nil
	b.index = -1
	*h = (*h)[:n]
}

func (h expiryHeap) up(k int) {
	for k > 0 {
		parent := (k - 1) / 2
		if parent == k || !h.less(k, parent) {
			break
		}
		h.swap(parent, k)
		k = parent
	}
}

// down moves the element at i0 down within the first n, and reports
// whether it moved.
func (h expiryHeap) down(i0, n int) bool {
	i := i0
	for {
		l := 2*i + 1
		if l >= n || l < 0 { // l < 0 after an int overflow
			break
		}
		k := l
		if r := l + 1; r < n && h.less(r, l) {
			k = r
		}
		if !h.less(k, i) {
			break
		}
		h.swap(i, k)
		i = k
	}
	return i > i0
}
