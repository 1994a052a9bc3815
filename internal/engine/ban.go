package engine

import (
	"container/heap"
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
// bantime.increment, longer for a prefix banned before.
func (e *Engine) ban(j *jail, p netip.Prefix, now time.Time, info banInfo) Decision {
	if old, ok := j.bans[p]; ok {
		e.removeBan(j, old)
	}
	h := e.history[p]
	end := time.Time{}
	if d := e.banTime(j, h.earlier(j)); d > 0 {
		end = now.Add(d)
	}
	b := &banEntry{ActiveBan: ActiveBan{
		Jail: j.cfg.Name, Prefix: p, Start: now, End: end, Failures: info.failures,
		Manual: info.manual, Count: h.record(j.cfg.Name, now), Category: info.category,
	}, index: -1}
	e.history[p] = h
	e.addBan(j, b)
	j.totalB++
	return Decision{
		Action: Ban, Jail: j.cfg.Name, Prefix: p, Start: now, End: end,
		Failures: info.failures, Matches: info.matches, Manual: info.manual,
		Count: b.Count, Category: info.category, Reason: info.reason,
	}
}

// record counts a ban in jail at now and returns its number in the jail.
func (h *history) record(jail string, now time.Time) int {
	t := h.tally(jail, true)
	t.count++
	t.last = now
	h.all.count++
	h.all.last = now
	return t.count
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
			if out, rd := e.fail(rj, Failure{Addr: d.Prefix.Addr(), Time: d.Start, Line: line, Category: d.Category}, now); out == Banned {
				ds = append(ds, rd)
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
	if b := j.banned(sub.Addr()); b != nil && b.Prefix.Bits() <= bits {
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
		if b := j.bans[h.prefix]; b != nil {
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
	for k, fl := range j.fails {
		if p.Overlaps(k) {
			j.dropFails(k, fl.newest())
		}
	}
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
		if old, ok := j.bans[rb.Prefix]; ok {
			e.removeBan(j, old)
		}
		e.addBan(j, &banEntry{ActiveBan: rb, index: -1})
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
		for _, b := range j.bans {
			if b.Prefix == p || (p.IsSingleIP() && b.Prefix.Contains(p.Addr())) {
				e.removeBan(j, b)
				out = append(out, Decision{Action: Unban, Jail: j.cfg.Name, Prefix: b.Prefix, Reason: ReasonUnbanned})
			}
		}
		// An unbanned address starts with a clean slate.
		for k, fl := range j.fails {
			if p.Overlaps(k) {
				j.dropFails(k, fl.newest())
			}
		}
	}
	sortDecisions(out)
	return out, nil
}

// UnbanAll ends every ban of every jail.
func (e *Engine) UnbanAll() []Decision {
	var out []Decision
	for _, j := range e.jails {
		for _, b := range j.bans {
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
		for k, fl := range j.fails {
			if t := fl.newest(); !t.After(cutoff) {
				j.dropFails(k, t)
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

func (e *Engine) addBan(j *jail, b *banEntry) {
	j.bans[b.Prefix] = b
	if !b.Prefix.IsSingleIP() {
		j.countWide(b.Prefix, 1)
	}
	if !b.End.IsZero() {
		heap.Push(&e.expiry, b)
	}
}

func (e *Engine) removeBan(j *jail, b *banEntry) {
	delete(j.bans, b.Prefix)
	if !b.Prefix.IsSingleIP() {
		j.countWide(b.Prefix, -1)
	}
	if b.index >= 0 {
		heap.Remove(&e.expiry, b.index)
	}
}

func prefixString(p netip.Prefix) string {
	if p.IsSingleIP() {
		return p.Addr().String()
	}
	return p.String()
}

type expiryHeap []*banEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, k int) bool { return h[i].End.Before(h[k].End) }
func (h expiryHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].index = i
	h[k].index = k
}
func (h *expiryHeap) Push(x any) {
	b := x.(*banEntry)
	b.index = len(*h)
	*h = append(*h, b)
}
func (h *expiryHeap) Pop() any {
	old := *h
	b := old[len(old)-1]
	old[len(old)-1] = nil
	b.index = -1
	*h = old[:len(old)-1]
	return b
}
