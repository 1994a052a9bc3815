package match

import (
	"maps"
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
	vals  map[string]string // its groups, over the prefregex's
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
	var pre map[string]string
	if f.pref != nil {
		caps := f.find(f.pref, mach, buf)
		if caps == nil {
			return s
		}
		pre = f.pref.groups(buf, caps)
		if c := pre[groupContent]; c != "" {
			buf = c + "\n"
		}
		delete(pre, groupContent)
	}
	for i, e := range f.fail {
		caps := f.find(e, mach, buf)
		if caps == nil {
			continue
		}
		s.failHits = append(s.failHits, i)
		cur := e.groups(buf, caps)
		if len(f.ignore) > 0 && ignored(buf) {
			if !checkAll {
				break
			}
			continue
		}
		if pre != nil {
			merged := maps.Clone(pre)
			maps.Copy(merged, cur)
			cur = merged
		}
		s.cands = append(s.cands, candidate{regex: i, vals: cur})
		if checkAll {
			continue
		}
		if hasIdentifier(cur) || hasKey(cur, groupMLFID) {
			break // this match decides
		}
		// No identifier at all: fail2ban goes on with the next
		// failregex, on what is left of the line once the match is
		// taken out of it: nothing.
		buf = ""
	}
	return s
}

func hasKey(m map[string]string, k string) bool {
	_, ok := m[k]
	return ok
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
