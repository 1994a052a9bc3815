package match

import (
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/gaol-project/gaol/internal/match/date"
)

// MatcherOptions configure a Matcher.
type MatcherOptions struct {
	// Now is the clock (year inference, the expiry of connection state);
	// nil means time.Now.
	Now func() time.Time
	// Location is the zone of timestamps that name none (nil means
	// time.Local).
	Location *time.Location
	// TimeZone is the jail's logtimezone, if any.
	TimeZone string
	// CheckAll tries every failregex on every line and reports each one
	// that matches, including helper matches (NoFail, Pending), as
	// fail2ban-regex and fail2ban's own tests do. Otherwise the first
	// failregex that matches decides, as the daemon does.
	CheckAll bool
	// NoFields leaves Failure.Fields and Failure.Users nil, for callers
	// that do not read them: copying them for every failure is a good part
	// of the cost of a failure.
	NoFields bool
	// Transient lets each call of Match, MatchRaw or Apply reuse the
	// failures the previous one returned, and their Matches: for
	// callers that copy what they keep before the next call, it saves an
	// allocation or two a failure.
	Transient bool
}

// Failure is a failure (or, with CheckAll, a helper match) a Matcher
// found.
type Failure struct {
	// Regex is the index of the failregex that matched.
	Regex int
	// Category is the kind of attack, as the failregex that matched (or
	// the filter) names it; "" if neither does.
	Category string
	// Host is the failure identifier as captured: an address, a host
	// name or an <F-ID>.
	Host string
	// Addr is Host as an address (IPv4-mapped addresses unmapped, masked
	// to Bits), if it is one.
	Addr netip.Addr
	// Bits is the prefix length of a <CIDR>, 0 if none.
	Bits int
	// ID is the <F-ID> of a failure that also has a host ("" otherwise).
	ID string
	// HostName reports that Host is a host name, as Result.HostName.
	HostName bool
	// Time is the time of the line that completed the failure, if
	// HasTime.
	Time    time.Time
	HasTime bool
	// Fields are the named groups that took part in the match (those of
	// the prefregex too), alt_ groups merged; with <F-MLFID>, also those
	// of the earlier lines of the connection.
	Fields map[string]string
	// Users are the users an <F-MLFID> connection tried.
	Users []string
	// Matches are the lines of the failure (with <F-MLFID>, of the whole
	// connection so far).
	Matches []string
	// NoFail marks a helper match (<F-NOFAIL>, <F-MLFGAINED>) that is no
	// failure; Pending a match of an <F-MLFID> connection whose address
	// is not known yet. Only CheckAll reports them.
	NoFail, Pending bool
}

// Unresolved reports whether the failure's identifier is not an address.
func (f *Failure) Unresolved() bool { return !f.Addr.IsValid() }

// Matcher applies a filter to the lines of one log source with the state
// fail2ban keeps: the buffer of a multi-line filter, the connections of
// <F-MLFID>, the last date seen, and the filter's own date pattern. It is
// not safe for concurrent use.
type Matcher struct {
	f        *Filter
	opts     MatcherOptions
	det      *date.Detector
	sr       *searcher
	buf      []bufLine
	cache    mlfCache
	lastTime time.Time
	hasLast  bool
	// Hits counts matches per expression.
	failHits, ignoreHits []int
	// The clock, read at most once per line (if hasNow).
	nowTime time.Time
	hasNow  bool
	// Scratch of a failure: its groups, and its line (when its
	// connection keeps a copy); single is the state of a failure without
	// a connection.
	cur    groupVals
	raw    [1]string
	single failData
	// addr is the last address of a failure without a connection; pre is
	// the address the Search of the line last applied parsed (like every
	// memo, it answers only for the same text).
	addr, pre addrMemo
	// out and arena hold the failures of the last call and their
	// Matches, for reuse (MatcherOptions.Transient).
	out   []Failure
	arena []string
}

// bufLine is a line of the buffer: its text without its date, and as read.
type bufLine struct{ text, raw string }

// NewMatcher returns a Matcher for f. Its date detector uses f's
// datepattern (or fail2ban's default templates).
func (f *Filter) NewMatcher(o MatcherOptions) (*Matcher, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	det, err := date.New(date.Options{Pattern: f.spec.DatePattern, Now: o.Now, Location: o.Location, TimeZone: o.TimeZone})
	if err != nil {
		return nil, err
	}
	return &Matcher{
		f: f, opts: o, det: det, sr: newSearcher(), cur: f.newVals(),
		failHits: make([]int, len(f.fail)), ignoreHits: make([]int, len(f.ignore)),
	}, nil
}

// Hits returns how many times each failregex and each ignoreregex matched
// a line (the slices are the Matcher's; copy them to keep them).
func (m *Matcher) Hits() (fail, ignore []int) { return m.failHits, m.ignoreHits }

// Detector returns the Matcher's date detector.
func (m *Matcher) Detector() *date.Detector { return m.det }

// MatchRaw finds the date of a line as read (with the Matcher's date
// detector) and matches it.
func (m *Matcher) MatchRaw(raw string) (Line, []Failure) {
	l := Prepare(raw, m.det)
	return l, m.Match(l)
}

// Match matches a prepared line (its date found by any detector, or given
// by the journal) and returns the failures it completes.
func (m *Matcher) Match(l Line) []Failure {
	m.hasNow = false
	t, hasTime := m.lineTime(l)
	if m.f.maxLines == 1 {
		return m.apply(l.Raw, m.f.search(m.sr, l.Text, m.opts.CheckAll), t, hasTime)
	}
	return m.find(bufLine{text: l.Text, raw: l.Raw}, t, hasTime)
}

// lineTime returns the time of a line: its own, or, for a line without
// a date, that of the line before if it is recent.
func (m *Matcher) lineTime(l Line) (time.Time, bool) {
	t, hasTime := l.Time, l.HasTime
	if hasTime {
		m.lastTime, m.hasLast = t, true
	} else if m.hasLast && m.lastTime.After(m.now().Add(-time.Minute)) {
		// A line without a date continues the previous one.
		t, hasTime = m.lastTime, true
	}
	return t, hasTime
}

// now returns the time of the Matcher's clock, read once per line.
func (m *Matcher) now() time.Time {
	if !m.hasNow {
		m.nowTime, m.hasNow = m.opts.Now(), true
	}
	return m.nowTime
}

// curVals returns the Matcher's scratch groups, set to gs.
func (m *Matcher) curVals(gs []slotVal) groupVals {
	clear(m.cur)
	m.cur.setAll(gs)
	return m.cur
}

// joinBuf returns the text fail2ban searches: the lines, each ended by
// "\n".
func joinBuf(lines []bufLine) string {
	if len(lines) == 1 {
		return lines[0].text + "\n"
	}
	n := 0
	for _, l := range lines {
		n += len(l.text) + 1
	}
	var b strings.Builder
	b.Grow(n)
	for _, l := range lines {
		b.WriteString(l.text)
		b.WriteByte('\n')
	}
	return b.String()
}

// find is fail2ban's Filter.findFailure for a filter that buffers lines
// (maxlines > 1; single lines go through Search and apply).
func (m *Matcher) find(line bufLine, t time.Time, hasTime bool) []Failure {
	f := m.f
	m.arena = clearStrings(m.arena)
	m.buf = append(m.buf, line)
	if len(m.buf) > f.maxLines {
		m.buf = slices.Clone(m.buf[len(m.buf)-f.maxLines:])
	}
	org := m.buf
	buf := joinBuf(org)
	if f.precheck {
		if m.ignoreLine(buf, org, nil, nil) {
			return nil
		}
	}
	// The prefregex's match, whose groups lie under each failregex's.
	var (
		prefText text
		prefCaps []int
	)
	if f.pref != nil {
		caps := f.find(f.pref, m.sr.m, buf)
		if caps == nil {
			return nil
		}
		prefText, prefCaps = stableText(buf), slices.Clone(caps)
		if c, ok := group(buf, caps, f.pref.content); ok && c != "" {
			m.buf, buf = []bufLine{{text: c}}, ""
		}
	}
	var out []Failure
	for i, e := range f.fail {
		if buf == "" {
			buf = joinBuf(m.buf)
		}
		caps := f.find(e, m.sr.m, buf)
		if caps == nil {
			continue
		}
		m.failHits[i]++
		matched, unmatched := e.splitLines(buf, caps, org)
		bt := stableText(buf)
		m.sr.cands = f.matchGroups(m.sr.cands[:0], e, &bt, caps, &prefText, prefCaps)
		cur := m.curVals(m.sr.cands)
		if len(f.ignore) > 0 && m.ignoreLine(buf, org, matched, unmatched) {
			buf = ""
			if !m.opts.CheckAll {
				break
			}
			continue
		}
		m.buf, buf = unmatched, ""
		fl, st := m.failure(i, cur, rawLines(matched), t, hasTime)
		switch st {
		case failSkip:
			continue
		case failStop:
			return out
		}
		out = append(out, fl)
		if !m.opts.CheckAll {
			break
		}
	}
	return out
}

// failStep says what the search of a line does after a failregex
// matched.
type failStep int

const (
	failEmit failStep = iota // report the failure
	failSkip                 // no identifier at all: try the next failregex
	failStop                 // a helper or pending match: the line is done
)

// failure makes the failure of failregex i from the groups cur of its
// match (the prefregex's merged in) and the lines it spans, with the
// state of <F-MLFID> connections. cur and, for a match with an
// <F-MLFID>, matched may be scratch: nothing keeps them; otherwise the
// failure takes matched over.
func (m *Matcher) failure(i int, cur groupVals, matched []string, t time.Time, hasTime bool) (Failure, failStep) {
	var fd *failData
	mlfid, hasMLFID := cur.get(slotMLFID)
	if hasMLFID {
		var kept bool
		fd, kept = m.mergeFailure(mlfid, cur, matched)
		if !kept {
			defer m.cache.recycle(fd)
		}
		if fd.vals.str(slotNoFail) != "" && !m.opts.CheckAll {
			return Failure{}, failStop
		}
	} else {
		fd = &m.single
		*fd = failData{vals: cur, matches: matched}
	}
	fl := Failure{Regex: i, Category: m.f.fail[i].category, Time: t, HasTime: hasTime}
	// The identifier: ip4, ip6, dns, then fid (fail2ban's order).
	fid, hasFID := fd.vals.get(slotFID)
	var ip string
	have, isAddr := true, false
	if v, ok := fd.vals.get(slotIP4); ok {
		ip, isAddr = v, true
	} else if v, ok := fd.vals.get(slotIP6); ok {
		ip, isAddr = v, true
	} else if v, ok := fd.vals.get(slotDNS); ok {
		ip = v
		fl.HostName = true
	} else if hasFID {
		ip = fid
	} else if hasMLFID {
		have = false
	} else {
		return Failure{}, failSkip // no identifier at all (fail2ban logs an error)
	}
	if !have {
		// An <F-MLFID> line before the connection's address is known.
		fd.pending = true
		if !m.opts.CheckAll {
			return Failure{}, failStop
		}
		fl.Pending = true
	} else {
		cidr, hasCIDR := "", false
		if isAddr {
			cidr, hasCIDR = fd.vals.get(slotCIDR)
		}
		memo := &m.addr
		if hasMLFID {
			memo = &fd.addr // the connection's address, most likely
		}
		addr, bits := m.parseAddr(memo, ip, cidr, hasCIDR && cidr != "")
		if !isAddr && !strings.ContainsAny(ip, ".:") {
			addr, bits = netip.Addr{}, 0
		}
		fl.Host, fl.Addr, fl.Bits = ip, addr, bits
		fl.HostName = fl.HostName && !fl.Addr.IsValid()
		if hasFID && fid != ip {
			fl.ID = fid
		}
	}
	fl.NoFail = fd.vals.str(slotNoFail) != ""
	if !m.opts.NoFields {
		fl.Fields = m.f.fieldMap(fd.vals)
	}
	switch {
	case hasMLFID && m.opts.Transient && len(fd.matches) > 0:
		// The connection's, which go on changing: a copy, in memory
		// the next call reuses.
		at := len(m.arena)
		m.arena = append(m.arena, fd.matches...)
		fl.Matches = m.arena[at:len(m.arena):len(m.arena)]
		if !m.opts.NoFields {
			fl.Users = cloneStrings(fd.users)
		}
	case hasMLFID:
		// The connection's, which go on changing.
		fl.Matches = cloneStrings(fd.matches)
		if !m.opts.NoFields {
			fl.Users = cloneStrings(fd.users)
		}
	default:
		fl.Matches = fd.matches // the match's own, which nothing else keeps
		m.single = failData{}
	}
	return fl, failEmit
}

// cloneStrings returns a copy of s, nil if s is empty (a connection's
// lists are empty when nil; their arrays are reused).
func cloneStrings(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return slices.Clone(s)
}

// rawLines returns the lines as read.
func rawLines(ls []bufLine) []string {
	out := make([]string, len(ls))
	for i, l := range ls {
		out[i] = l.raw
	}
	return out
}

// ignoreLine reports whether an ignoreregex matches, as fail2ban's
// _ignoreLine: for a multi-line filter only the lines the failregex
// matched are searched, and those lines leave the buffer.
func (m *Matcher) ignoreLine(buf string, org, matched, unmatched []bufLine) bool {
	f := m.f
	if matched != nil && f.maxLines > 1 {
		org, buf = matched, joinBuf(matched)
	}
	found := false
	for k, ig := range f.ignore {
		if f.find(ig, m.sr.m, buf) == nil {
			continue
		}
		m.ignoreHits[k]++
		found = true
		if (!m.opts.CheckAll || f.maxLines > 1) && matched != nil {
			m.buf = unmatched
		}
		if !m.opts.CheckAll {
			break
		}
	}
	return found
}

// splitLines returns the lines of org a match in buf spans and the others,
// as fail2ban's Regex.search: lines matched by <SKIPLINES> count as not
// matched.
func (e *expr) splitLines(buf string, caps []int, org []bufLine) (matched, unmatched []bufLine) {
	if len(org) <= 1 {
		return org, nil
	}
	start, end := caps[0], caps[1]
	lineStart := strings.LastIndexByte(buf[:min(start+1, len(buf))], '\n') + 1
	lineEnd := len(buf)
	from := end - 1
	if from < 0 {
		from = len(buf) - 1
	}
	if k := strings.IndexByte(buf[from:], '\n'); k >= 0 {
		lineEnd = from + k + 1
	}
	n1 := min(strings.Count(buf[:lineStart], "\n"), len(org))
	n2 := min(strings.Count(buf[:lineEnd], "\n"), len(org))
	matched = slices.Clone(org[n1:max(n1, n2)])
	unmatched = slices.Clone(org[:n1])
	var skipped []string
	for _, k := range e.skip {
		if v, ok := group(buf, caps, k); ok {
			skipped = append(skipped, v)
		}
	}
	if len(skipped) > 0 {
		n := 0
		for _, sl := range splitLinesPy(strings.Join(skipped, "")) {
			for j := n; j < len(matched); j++ {
				if matched[j].text == sl {
					unmatched = append(unmatched, matched[j])
					matched = slices.Delete(matched, j, j+1)
					n = j
					break
				}
			}
		}
	}
	unmatched = append(unmatched, org[min(n2, len(org)):]...)
	return matched, unmatched
}

// splitLinesPy splits s into lines as Python's str.splitlines.
func splitLinesPy(s string) []string {
	var out []string
	for s != "" {
		i := strings.IndexAny(s, "\n\r\v\f\x1c\x1d\x1e\x85")
		if i < 0 {
			out = append(out, s)
			break
		}
		out = append(out, s[:i])
		if s[i] == '\r' && i+1 < len(s) && s[i+1] == '\n' {
			i++
		}
		s = s[i+1:]
	}
	return out
}

// failData is the state of a failure fail2ban keeps in a dict: the
// groups and the lines, users and flags of an <F-MLFID> connection. The
// lists are empty when nil (the connection cache reuses their arrays):
// only their contents count.
type failData struct {
	vals          groupVals // groups that took part
	users         []string
	matches       []string
	nofailMatches []string
	pending       bool
	addr          addrMemo // the last address of a failure
}

// addrMemo remembers the last address parsed (lines of a connection
// mostly name the same).
type addrMemo struct {
	ip, cidr     string
	hasCIDR, set bool
	addr         netip.Addr
	bits         int
}

// parse returns the address and prefix length of an address capture, as
// addrResult.
func (c *addrMemo) parse(ip, cidr string, hasCIDR bool) (netip.Addr, int) {
	if !c.set || c.ip != ip || c.hasCIDR != hasCIDR || c.cidr != cidr {
		r := addrResult(ip, cidr, hasCIDR)
		*c = addrMemo{ip: ip, cidr: cidr, hasCIDR: hasCIDR, set: true, addr: r.Addr, bits: r.Bits}
	}
	return c.addr, c.bits
}

// parseAddr is memo.parse, which takes the address the Search of the line
// parsed if it is that one.
func (m *Matcher) parseAddr(memo *addrMemo, ip, cidr string, hasCIDR bool) (netip.Addr, int) {
	if p := &m.pre; p.set && p.ip == ip && p.hasCIDR == hasCIDR && p.cidr == cidr {
		*memo = *p
		return p.addr, p.bits
	}
	return memo.parse(ip, cidr, hasCIDR)
}

// updateUsers adds user to the users of fd (if not empty) and returns
// them.
func updateUsers(fd *failData, user string) []string {
	if user != "" && !slices.Contains(fd.users, user) {
		fd.users = append(fd.users, user)
	}
	return fd.users
}

// mergeFailure merges a match into the state of its <F-MLFID>
// connection, as fail2ban's Filter._mergeFailure. The state is the
// connection cache's if kept; otherwise it is the caller's to recycle
// once done with it.
func (m *Matcher) mergeFailure(mlfid string, cur groupVals, matched []string) (fd *failData, kept bool) {
	h := mlfHash(mlfid)
	cached := m.cache.get(mlfid, h, m.now)
	var flags int
	const (
		noFail  = 1
		forget  = 2
		hadFail = 4
		gained  = 8
	)
	if g := cur.str(slotMLFGained); g != "" {
		flags |= gained | noFail
		if cur.str(slotNoFail) == "" {
			cur.set(slotNoFail, g)
		}
	} else if cur.str(slotNoFail) != "" {
		flags |= noFail
	}
	if cur.pop(slotMLFForget) {
		flags |= forget
	}
	var users []string
	kept = true
	if cached != nil {
		users = updateUsers(cached, cur.str(slotUser))
		if cached.vals.pop(slotNoFail) {
			flags |= hadFail
		}
		if cached.vals.pop(slotMLFGained) {
			flags |= hadFail
		}
		if flags&gained != 0 {
			cached.pending = false
		}
		if flags&hadFail == 0 && !cached.pending {
			cached.matches = clearStrings(cached.matches)
		}
		// A line that names its own address speaks for itself: the
		// connection's earlier identifier must not override it (fail2ban
		// merges the groups, so an IPv4 address seen earlier would win
		// over an IPv6 one on this line, and a reused pid would carry an
		// old connection's address).
		if cur.hasIdentifier() {
			for _, k := range [...]int{slotIP4, slotIP6, slotDNS, slotFID} {
				cached.vals.del(k)
			}
		}
		cached.vals.update(cur)
		fd = cached
		if flags&forget != 0 {
			m.cache.unset(mlfid, h)
			kept = false
		}
	} else {
		fd = m.cache.newData(cur)
		if flags&forget == 0 {
			users = updateUsers(fd, cur.str(slotUser))
			m.cache.setNew(mlfid, h, fd, m.now())
		} else {
			kept = false
		}
	}
	pending := fd.pending
	fd.pending = false
	if pending || len(users) > 1 {
		fd.vals.del(slotNoFail)
		fd.vals.del(slotMLFGained)
		flags &^= gained | noFail
	}
	if flags&noFail == 0 {
		ms := fd.matches
		if len(fd.nofailMatches) > 0 {
			ms = append(fd.nofailMatches, fd.matches...)
			// The array of the matches is free now.
			fd.nofailMatches = clearStrings(fd.matches)
		}
		if flags&gained == 0 {
			ms = append(ms, matched...)
		}
		fd.matches = ms
	} else if flags&(noFail|forget) == noFail {
		fd.nofailMatches = append(fd.nofailMatches, matched...)
	}
	return fd, kept
}

// clearStrings empties s, keeping its array.
func clearStrings(s []string) []string {
	clear(s)
	return s[:0]
}
