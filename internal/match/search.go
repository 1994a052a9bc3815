package match

import (
	"math/bits"
	"net/netip"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/gaol-project/gaol/internal/match/pyre"
)

// A Search is the part of matching one line that depends on the line
// alone: which expressions matched it and what they captured. For a
// filter that reads single lines (MaxLines 1), searching is all the
// regular-expression work, and it can run on many lines at once, on any
// goroutine; Matcher.Apply then adds, in log order, what depends on the
// lines before (connections of <F-MLFID>, the date of a line without one).
// A Matcher's Match does exactly Search then Apply.
type Search struct {
	checkAll bool
	// failHits has bit i set if failregex i matched (for Matcher.Hits);
	// ignoreHits lists the ignoreregexes that matched, once per search
	// of the line.
	failHits   uint64
	ignoreHits []int
	// cands are the failregex matches not vetoed by an ignoreregex, in
	// order (with CheckAll off, the search stops at the first that may
	// give a failure): for each, an entry whose slot is -1-i (failregex
	// i), then the groups of the match, those of the prefregex first.
	cands []slotVal
	// addr is the address the first candidate that names one names, with
	// its <CIDR>, parsed here rather than in the ordered Apply (which
	// finds its text in the candidate again).
	addr     netip.Addr
	addrBits int32
	hasAddr  bool
}

// Empty reports whether the search found nothing: applying it changes no
// state and gives no failure, so the line can skip the ordered pass.
func (s *Search) Empty() bool {
	return len(s.cands) == 0 && s.failHits == 0 && len(s.ignoreHits) == 0
}

// nextCand returns the first candidate of cands (a Search's): its
// failregex and its groups, and the candidates after it.
func nextCand(cands []slotVal) (regex int, groups, rest []slotVal) {
	n := 1
	for n < len(cands) && cands[n].slot >= 0 {
		n++
	}
	return -1 - cands[0].slot, cands[1:n], cands[n:]
}

// Searchable reports whether the filter's lines can be searched apart
// from their order (it reads single lines; see Search).
func (f *Filter) Searchable() bool { return f.maxLines == 1 }

// searcher is what searches reuse: a machine, the buffers of the texts
// searched, and the groups of the candidates as they are found. The texts
// are strings over the buffers (unsafe.String), written anew by the next
// search: none may outlive its search (the machine keeps the last one it
// searched, but reads it only in a search), and no group value is taken
// from them (see text).
type searcher struct {
	m             *pyre.Machine
	line, content []byte
	cands         []slotVal
	// kept holds the candidates of earlier Searches, which point into
	// it: it is only ever appended to, and replaced when full, so that a
	// Search costs no allocation of its own.
	kept []slotVal
}

// keptChunk is how many candidate groups a searcher keeps in one
// allocation.
const keptChunk = 1024

// keep returns a copy of vals that outlives the searcher's next searches.
func (sr *searcher) keep(vals []slotVal) []slotVal {
	if len(sr.kept)+len(vals) > cap(sr.kept) {
		sr.kept = make([]slotVal, 0, max(keptChunk, len(vals)))
	}
	at := len(sr.kept)
	sr.kept = append(sr.kept, vals...)
	return sr.kept[at:len(sr.kept):len(sr.kept)]
}

func newSearcher() *searcher { return &searcher{m: pyre.NewMachine()} }

// searchers recycles searchers for Filter.Search.
var searchers = sync.Pool{New: func() any { return newSearcher() }}

// text is a text being searched, s, whose first stable bytes are
// src[off:off+stable]. s may lie in a buffer that is reused after the
// search: the values of groups are taken from src when they lie in the
// stable part, so that they outlive the buffer (and cost no copy).
type text struct {
	s           string
	src         string
	off, stable int
}

// lineText returns the text fail2ban searches for a line: the line and
// "\n", written into *buf.
func lineText(buf *[]byte, line string) text {
	*buf = append(append((*buf)[:0], line...), '\n')
	return text{s: unsafe.String(unsafe.SliceData(*buf), len(*buf)), src: line, stable: len(line)}
}

// stableText returns a text that outlives the search.
func stableText(s string) text { return text{s: s, src: s, stable: len(s)} }

// sub returns the text from a to b.
func (t *text) sub(a, b int) string {
	if b <= t.stable {
		return t.src[t.off+a : t.off+b]
	}
	return strings.Clone(t.s[a:b])
}

// suffix returns the text from a on.
func (t *text) suffix(a int) text {
	return text{s: t.s[a:], src: t.src, off: t.off + a, stable: max(t.stable-a, 0)}
}

// Search searches a prepared line with f, as a Matcher with CheckAll set
// to checkAll would. The filter must be Searchable. It is safe for
// concurrent use.
func (f *Filter) Search(l Line, checkAll bool) Search {
	sr := searchers.Get().(*searcher)
	defer searchers.Put(sr)
	s := f.search(sr, l.Text, checkAll)
	if s.cands != nil {
		// The searcher's scratch: kept apart, and cleared, so that the
		// scratch keeps no strings.
		cands := s.cands
		s.cands = sr.keep(cands)
		clear(cands)
	}
	return s
}

// search is fail2ban's findFailure for one line (line is its text, which
// is searched ended by "\n"), up to the point where state comes in. The
// candidates of the Search are sr's (valid until its next search).
func (f *Filter) search(sr *searcher, line string, checkAll bool) Search {
	mach := sr.m
	s := Search{checkAll: checkAll}
	ignored := func(text string) bool {
		found := false
		for k, ig := range f.ignore {
			if f.find(ig, mach, text) == nil {
				continue
			}
			s.ignoreHits = append(s.ignoreHits, k)
			found = true
			if !checkAll {
				break
			}
		}
		return found
	}
	if f.needs != nil && !f.needs.In(line) {
		return s
	}
	buf := lineText(&sr.line, line)
	if f.precheck && ignored(buf.s) {
		return s
	}
	// The prefregex's match, kept until a failregex matches (most lines
	// match none, and need no groups).
	var (
		prefText text
		prefCaps []int
		capBuf   [32]int
	)
	if f.pref != nil {
		caps := f.find(f.pref, mach, buf.s)
		if caps == nil {
			return s
		}
		prefText, prefCaps = buf, append(capBuf[:0], caps...)
		if start, end := groupSpan(caps, f.pref.content); start < end {
			if end == len(buf.s)-1 && buf.s[end] == '\n' {
				buf = buf.suffix(start) // the content and the line's "\n"
			} else {
				// The content and "\n", in the other buffer.
				b := append(append(sr.content[:0], buf.s[start:end]...), '\n')
				sr.content = b
				buf = text{s: unsafe.String(unsafe.SliceData(b), len(b)), src: line, off: start, stable: min(end, len(line)) - start}
			}
		}
	}
	cands := sr.cands[:0]
	try := f.candidates(buf.s)
	for try != 0 {
		i := bits.TrailingZeros64(try)
		try &= try - 1
		e := f.fail[i]
		caps := f.find(e, mach, buf.s)
		if caps == nil {
			continue
		}
		s.failHits |= 1 << i
		at := len(cands)
		cands = append(cands, slotVal{slot: -1 - i})
		cands = f.matchGroups(cands, e, &buf, caps, &prefText, prefCaps)
		if len(f.ignore) > 0 && ignored(buf.s) {
			cands = cands[:at]
			if !checkAll {
				break
			}
			continue
		}
		if !s.hasAddr {
			if ip, cidr, hasCIDR, ok := addrText(cands[at+1:]); ok {
				r := addrResult(ip, cidr, hasCIDR)
				s.addr, s.addrBits, s.hasAddr = r.Addr, int32(r.Bits), true
			}
		}
		if checkAll {
			continue
		}
		if decides(cands[at+1:]) {
			break // this match decides
		}
		// No identifier at all: fail2ban goes on with the next
		// failregex, on what is left of the line once the match is
		// taken out of it: nothing.
		buf = text{}
		try &= f.startAny
	}
	sr.cands = cands
	if len(cands) > 0 {
		s.cands = cands
	}
	return s
}

// addrText returns the address a match with groups gs names (ip4, else
// ip6) and its cidr, as Matcher.failure passes them to addrResult; ok is
// false if it names none.
func addrText(gs []slotVal) (ip, cidr string, hasCIDR, ok bool) {
	var ip4, ip6 string
	var has4, has6 bool
	for _, g := range gs { // the last value of a slot wins
		switch g.slot {
		case slotIP4:
			ip4, has4 = g.s, true
		case slotIP6:
			ip6, has6 = g.s, true
		case slotCIDR:
			cidr, hasCIDR = g.s, true
		}
	}
	ip = ip4
	if !has4 {
		if !has6 {
			return "", "", false, false
		}
		ip = ip6
	}
	return ip, cidr, hasCIDR && cidr != "", true
}

// preAddr returns, as an address memo, the address the search s parsed.
func (s *Search) preAddr() addrMemo {
	if !s.hasAddr {
		return addrMemo{}
	}
	for rest := s.cands; len(rest) > 0; {
		_, gs, next := nextCand(rest)
		rest = next
		if ip, cidr, hasCIDR, ok := addrText(gs); ok {
			return addrMemo{ip: ip, cidr: cidr, hasCIDR: hasCIDR, set: true, addr: s.addr, bits: int(s.addrBits)}
		}
	}
	return addrMemo{}
}

// decides reports whether a match with groups gs ends fail2ban's search
// of a line (CheckAll off): it has an identifier or an <F-MLFID>.
func decides(gs []slotVal) bool {
	for _, g := range gs {
		switch g.slot {
		case slotIP4, slotIP6, slotDNS, slotFID, slotMLFID:
			return true
		}
	}
	return false
}

// groupSpan returns where group k of a match lies (-1, -1 if it did not
// take part).
func groupSpan(caps []int, k int) (start, end int) {
	if k < 0 || 2*k+1 >= len(caps) || caps[2*k] < 0 {
		return -1, -1
	}
	return caps[2*k], caps[2*k+1]
}

// candidates returns the failregexes that may match text, a bit per
// failregex (Compile takes at most 64): those that must start with another
// byte are left out.
func (f *Filter) candidates(text string) uint64 {
	if len(text) == 0 {
		return f.startAny
	}
	return f.startWith[text[0]]
}

// matchGroups appends to out the groups of a failregex match (caps, over
// t) with those of the prefregex's match (prefCaps over prefText, if the
// filter has a prefregex) under them, as fail2ban merges them.
func (f *Filter) matchGroups(out []slotVal, e *expr, t *text, caps []int, prefText *text, prefCaps []int) []slotVal {
	if f.pref != nil {
		at := len(out)
		out = f.addGroups(out, f.pref, prefText, prefCaps)
		// The prefregex's content is no group of the failure. (A loop
		// rather than slices.DeleteFunc, which costs a call a group.)
		w := at
		for _, g := range out[at:] {
			if g.slot != slotContent {
				out[w] = g
				w++
			}
		}
		clear(out[w:]) // no string kept in the scratch
		out = out[:w]
	}
	return f.addGroups(out, e, t, caps)
}

// Apply completes, in log order, the matching of a line searched with
// Filter.Search: it returns the failures the line gives, as Match would.
// The search must have been made with the Matcher's CheckAll setting, and
// is applied once.
func (m *Matcher) Apply(l Line, s Search) []Failure {
	m.hasNow = false
	t, hasTime := m.lineTime(l)
	return m.apply(l.Raw, s, t, hasTime)
}

// apply is Apply with the line's time known.
func (m *Matcher) apply(raw string, s Search, t time.Time, hasTime bool) []Failure {
	if s.checkAll != m.opts.CheckAll {
		panic("match: Search made with another CheckAll setting than the Matcher's")
	}
	for hits := s.failHits; hits != 0; hits &= hits - 1 {
		m.failHits[bits.TrailingZeros64(hits)]++
	}
	for _, k := range s.ignoreHits {
		m.ignoreHits[k]++
	}
	m.pre = s.preAddr()
	m.arena = clearStrings(m.arena)
	var out []Failure
	for rest := s.cands; len(rest) > 0; {
		i, gs, next := nextCand(rest)
		rest = next
		cur := m.curVals(gs)
		var matched []string
		if cur.has(slotMLFID) || m.opts.Transient {
			// The connection keeps a copy, or the failure may use the
			// Matcher's array until the next call.
			m.raw[0] = raw
			matched = m.raw[:]
		} else {
			matched = []string{raw} // the failure's own
		}
		fl, st := m.failure(i, cur, matched, t, hasTime)
		switch st {
		case failSkip:
			continue
		case failStop:
			return out
		}
		if out == nil {
			n := 1
			if m.opts.CheckAll {
				n += countCands(rest)
			}
			if m.opts.Transient && cap(m.out) >= n {
				out = m.out[:0]
			} else {
				out = make([]Failure, 0, n)
			}
		}
		out = append(out, fl)
		if !m.opts.CheckAll {
			break
		}
	}
	if m.opts.Transient && out != nil {
		m.out = out
	}
	return out
}

// countCands returns the number of candidates in cands (a Search's).
func countCands(cands []slotVal) int {
	n := 0
	for _, g := range cands {
		if g.slot < 0 {
			n++
		}
	}
	return n
}
