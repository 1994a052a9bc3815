package match

import (
	"math/bits"
	"time"

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
	// cands are the failregex matches not vetoed by an ignoreregex, in
	// order (with CheckAll off, the search stops at the first that may
	// give a failure).
	cands []candidate
	// The expressions that matched, for Matcher.Hits.
	failHits, ignoreHits []int
}

// candidate is a failregex match.
type candidate struct {
	regex int
	vals  groupVals // its groups, over the prefregex's
}

// Empty reports whether the search found nothing: applying it changes no
// state and gives no failure, so the line can skip the ordered pass.
func (s *Search) Empty() bool {
	return len(s.cands) == 0 && len(s.failHits) == 0 && len(s.ignoreHits) == 0
}

// Searchable reports whether the filter's lines can be searched apart
// from their order (it reads single lines; see Search).
func (f *Filter) Searchable() bool { return f.maxLines == 1 }

// Search searches a prepared line with f, as a Matcher with CheckAll set
// to checkAll would. The filter must be Searchable. It is safe for
// concurrent use.
func (f *Filter) Search(l Line, checkAll bool) Search {
	m := machines.Get().(*pyre.Machine)
	defer machines.Put(m)
	return f.search(m, l.Text+"\n", checkAll)
}

// search is fail2ban's findFailure for one line, up to the point where
// state comes in.
func (f *Filter) search(mach *pyre.Machine, buf string, checkAll bool) Search {
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
	if f.precheck && ignored(buf) {
		return s
	}
	// The prefregex's match, kept until a failregex matches (most lines
	// match none, and need no groups).
	var (
		prefText string
		prefCaps []int
		capBuf   [32]int
	)
	if f.pref != nil {
		caps := f.find(f.pref, mach, buf)
		if caps == nil {
			return s
		}
		prefText, prefCaps = buf, append(capBuf[:0], caps...)
		if c, ok := group(buf, caps, f.pref.content); ok && c != "" {
			if end := caps[2*f.pref.content+1]; end == len(buf)-1 && buf[end] == '\n' {
				buf = buf[caps[2*f.pref.content]:] // the content and the line's "\n"
			} else {
				buf = c + "\n"
			}
		}
	}
	try := f.candidates(buf)
	for try != 0 {
		i := bits.TrailingZeros64(try)
		try &= try - 1
		e := f.fail[i]
		caps := f.find(e, mach, buf)
		if caps == nil {
			continue
		}
		s.failHits = append(s.failHits, i)
		cur := f.matchGroups(e, buf, caps, prefText, prefCaps)
		if len(f.ignore) > 0 && ignored(buf) {
			if !checkAll {
				break
			}
			continue
		}
		s.cands = append(s.cands, candidate{regex: i, vals: cur})
		if checkAll {
			continue
		}
		if cur.hasIdentifier() || cur.has(slotMLFID) {
			break // this match decides
		}
		// No identifier at all: fail2ban goes on with the next
		// failregex, on what is left of the line once the match is
		// taken out of it: nothing.
		buf = ""
		try &= f.startAny
	}
	return s
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

// matchGroups returns the groups of a failregex match (caps, over text)
// with those of the prefregex's match (prefCaps over prefText, if the
// filter has a prefregex) under them, as fail2ban merges them.
func (f *Filter) matchGroups(e *expr, text string, caps []int, prefText string, prefCaps []int) groupVals {
	out := f.newVals()
	if f.pref != nil {
		f.addGroups(out, f.pref, prefText, prefCaps)
		out.del(slotContent)
	}
	f.addGroups(out, e, text, caps)
	return out
}

// Apply completes, in log order, the matching of a line searched with
// Filter.Search: it returns the failures the line gives, as Match would.
// The search must have been made with the Matcher's CheckAll setting, and
// is applied once (the failures take over what it captured).
func (m *Matcher) Apply(l Line, s Search) []Failure {
	t, hasTime := m.lineTime(l)
	return m.apply(l.Raw, s, t, hasTime)
}

// apply is Apply with the line's time known.
func (m *Matcher) apply(raw string, s Search, t time.Time, hasTime bool) []Failure {
	if s.checkAll != m.opts.CheckAll {
		panic("match: Search made with another CheckAll setting than the Matcher's")
	}
	for _, i := range s.failHits {
		m.failHits[i]++
	}
	for _, k := range s.ignoreHits {
		m.ignoreHits[k]++
	}
	var out []Failure
	for _, c := range s.cands {
		fl, st := m.failure(c.regex, c.vals, []string{raw}, t, hasTime)
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
