// Package date finds and parses the timestamp in a log line the way
// fail2ban's date detector does.
//
// Without a date pattern, a Detector tries fail2ban's default templates
// (ISO 8601, BSD syslog, Apache, epoch seconds, TAI64N and a dozen more),
// each first anchored at the start of the line and then anywhere at a word
// boundary. A filter's datepattern replaces them: strptime-like patterns
// (%Y %m %d %H %M %S %f %z %b ... and fail2ban's %Ex* and %k %l), EPOCH,
// LEPOCH, TAI64N, {^LN-BEG} (the defaults anchored at the start of the
// line), {DATE} (the defaults inside a pattern) and {NONE}.
//
// Year inference, zones and the choice among several matching templates
// follow fail2ban: a year missing from the text is this year, or last year
// if that would put the time more than a day ahead; a date missing is
// today, or yesterday; a time without a zone is in the logtimezone if one is
// set, otherwise in the Detector's location; the template that matched
// last is tried first, and one that matches where it did before wins.
//
// The common formats (ISO 8601, syslog, Apache) are parsed by hand-written
// code that does what fail2ban's expression does, without allocating; the
// other templates run as expressions (package pyre).
package date

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gaol-project/gaol/internal/match/pyre"
)

// Match is a timestamp found in a line.
type Match struct {
	// Time is the instant the timestamp denotes, if HasTime.
	Time time.Time
	// HasTime is false when a template matched text that is no valid
	// date (Feb 30, an unknown zone): the text is still cut out of the
	// line, as fail2ban does.
	HasTime bool
	// Start and End are the byte offsets of the timestamp text in the
	// line: the text is line[Start:End] (empty for {NONE}).
	Start, End int
}

// Options configure a Detector.
type Options struct {
	// Pattern is a datepattern (one or more patterns, one per line); ""
	// selects fail2ban's default templates.
	Pattern string
	// Now is the clock used to infer missing years and dates (nil means
	// time.Now); it is called at most once per line.
	Now func() time.Time
	// Location is the zone of timestamps that name none (nil means
	// time.Local): the zone the logging host writes in.
	Location *time.Location
	// TimeZone is the jail's logtimezone ("UTC", "UTC+0200", "CET"...);
	// if set, it overrides Location for timestamps that name no zone.
	TimeZone string
}

// entry is a template of a Detector with its statistics.
type entry struct {
	t        template
	fast     *fastTmpl // t, if it is hand-written (called directly)
	anchored bool      // flags has flagLineBegin or flagLineEnd
	clock    bool      // a line without digit:digit cannot match
	hits     int
	distance int // where the template matched last
}

// Detector finds timestamps in log lines. It remembers which template
// matched last, so a Detector is meant to serve one log source: it is not
// safe for concurrent use.
type Detector struct {
	now     func() time.Time
	loc     *time.Location
	tz      *int // logtimezone offset, seconds east of UTC
	entries []entry
	m       *pyre.Machine

	// Where the last match was (fail2ban's lastPos, lastEndPos and
	// lastTemplIdx): the template that matched last is tried first, and
	// within these bounds when the text around them is the same.
	last                   int
	lastPos, lastEnd       int
	lastPosPrev, lastPosAt string // the character before the match and its first
	lastEndPrev, lastEndAt string // the last character of the match and the one after

	// The last time found, for {NONE}, if keepLast (a pattern is given:
	// only then can a template match empty text).
	lastTime time.Time
	hasLast  bool
	keepLast bool

	// Scratch space of match: the current hit and the best candidate.
	cur, found hit

	// The clock as setNow last read it: now as a wall clock time
	// (seconds), its date, which starts at civilFrom, and the days from
	// the epoch to January 1 of its year.
	lastNow   time.Time
	nowWall   int64
	civilFrom int64
	civilY    int
	civilM    time.Month
	civilD    int
	yearDays  int64
	// The last timestamp resolved: the text its template matched, the
	// template, the clock then, and the time (log lines come many to a
	// second, with the same text: it is resolved once).
	memoText [64]byte
	memoLen  int // 0: none
	memoTmpl int
	memoNow  time.Time
	memoTime time.Time
	memoOK   bool
	// The offset of loc from zoneFrom to zoneTo (Unix seconds).
	zoneOff, zoneFrom, zoneTo int64
	// The year yearStart last computed and its first day.
	ysYear int
	ysDays int64
	ysSet  bool
}

// New returns a Detector configured by o.
func New(o Options) (*Detector, error) {
	// Before the first match, a template that matches further than the
	// second character is only a candidate (fail2ban starts at 1).
	d := &Detector{now: o.Now, loc: o.Location, last: -1, lastPos: 1, lastEnd: 1<<31 - 1, m: pyre.NewMachine(), civilFrom: -1 << 62}
	if d.now == nil {
		d.now = time.Now
	}
	if d.loc == nil {
		d.loc = time.Local
	}
	if o.TimeZone != "" {
		off, ok := zoneOffset(o.TimeZone)
		if !ok {
			return nil, &zoneError{o.TimeZone}
		}
		d.tz = &off
	}
	now := d.now()
	var ts []template
	d.keepLast = o.Pattern != ""
	if o.Pattern == "" {
		ts = defaultTemplates(now).all
	} else {
		var err error
		if ts, err = buildTemplates(o.Pattern, now); err != nil {
			return nil, err
		}
	}
	d.entries = make([]entry, len(ts))
	for i, t := range ts {
		d.entries[i] = entry{t: t, anchored: t.flags()&(flagLineBegin|flagLineEnd) != 0, distance: 1<<31 - 1}
		if c, ok := t.(interface{ needsClock() bool }); ok {
			d.entries[i].clock = c.needsClock()
		}
		if ft, ok := t.(*fastTmpl); ok {
			d.entries[i].fast = ft
		}
	}
	return d, nil
}

type zoneError struct{ zone string }

func (e *zoneError) Error() string { return "unknown or unsupported time zone " + e.zone }

// RE2 reports whether every template of the Detector runs on hand-written
// code or on Go's regexp (none needs regexp2 as its fallback).
func (d *Detector) RE2() bool {
	for _, e := range d.entries {
		if t, ok := e.t.(*regexTemplate); ok && t.re.Engine() != pyre.RE2 {
			return false
		}
	}
	return true
}

// NewDetector returns a Detector for fail2ban's default templates. now is
// the clock used to infer the year of timestamps that do not carry one
// (nil means time.Now); it is called at most once for each line, so a
// caller that handles lines in batches may pass a clock read once per
// batch. loc is the time zone of timestamps that do not name their zone
// (nil means time.Local).
func NewDetector(now func() time.Time, loc *time.Location) *Detector {
	d, err := New(Options{Now: now, Location: loc})
	if err != nil {
		panic(err) // the defaults compile
	}
	return d
}

// Find returns the timestamp of line, chosen among the templates that
// match as fail2ban chooses.
func (d *Detector) Find(line string) (Match, bool) {
	var m Match
	ok := d.FindInto(line, &m)
	return m, ok
}

// FindInto is Find filling m (which it resets), for callers on a hot
// path.
func (d *Detector) FindInto(line string, m *Match) bool {
	h, ok := d.match(line)
	if !ok {
		*m = Match{}
		return false
	}
	m.Start, m.End = h.start, h.end
	if h.start == h.end {
		// Nothing to parse ({NONE}, an empty date group): the time of
		// the previous line if it is recent, or now.
		now := d.now()
		if d.hasLast && d.lastTime.After(now.Add(-time.Minute)) {
			m.Time = d.lastTime
		} else {
			m.Time = now.In(d.loc)
		}
		m.HasTime = true
		return true
	}
	var t time.Time
	text, now := line[h.start0:h.end0], d.now()
	if d.memoLen > 0 && string(d.memoText[:d.memoLen]) == text && d.last == d.memoTmpl && now.Equal(d.memoNow) {
		t, ok = d.memoTime, d.memoOK
	} else {
		t, ok = d.resolve(&h.f)
		d.memoLen = 0
		if len(text) <= len(d.memoText) {
			d.memoLen = copy(d.memoText[:], text)
			d.memoTmpl, d.memoNow, d.memoTime, d.memoOK = d.last, now, t, ok
		}
	}
	m.Time, m.HasTime = t, ok
	if ok && d.keepLast {
		d.lastTime, d.hasLast = t, true
	}
	return true
}

// match finds the winning template, as fail2ban's DateDetector.matchTime.
func (d *Detector) match(line string) (*hit, bool) {
	const none = 1<<31 - 1
	found, h := &d.found, &d.cur
	foundAt, foundDist := -1, none
	ignore := -1
	ok := false
	i := d.last
	if i >= 0 {
		e := &d.entries[i]
		if e.anchored && e.fast != nil {
			// The usual case: a hand-written template at the start of
			// the line.
			ok = e.fast.search(d, line, 0, len(line), h)
			ignore = i
		} else if e.anchored {
			ok = e.t.search(d, line, 0, len(line), h)
			ignore = i
		} else if d.sameBounds(line) {
			ok = e.t.search(d, line, d.lastPos, d.lastEnd, h)
		} else {
			ok = e.t.search(d, line, 0, len(line), h)
			ignore = i
		}
		if ok {
			if !(len(d.entries) == 1 || e.anchored ||
				h.start0 == d.lastPos && h.end0 == d.lastEnd) {
				// Matched elsewhere: a candidate, but look further.
				*found, foundAt, foundDist = *h, i, h.start0
				ok = false
			}
		}
	}
	if !ok {
		clock := -1 // unknown
		for k := range d.entries {
			if k == ignore {
				continue
			}
			e := &d.entries[k]
			if e.clock {
				if clock < 0 {
					clock = 0
					if hasClock(line) {
						clock = 1
					}
				}
				if clock == 0 {
					continue
				}
			}
			if ok = e.t.search(d, line, 0, len(line), h); !ok {
				continue
			}
			i = k
			if k+1 >= len(d.entries) || e.anchored {
				break
			}
			if h.start0 == 0 && e.hits > 0 && d.entries[k+1].hits == 0 {
				break
			}
			if h.start0 > e.distance || h.start0 > d.lastPos {
				// Further into the line than before: perhaps a date in
				// the message; keep the closest and look further.
				if h.start0 < foundDist {
					*found, foundAt, foundDist = *h, k, h.start0
				}
				ok = false
				continue
			}
			break
		}
		if !ok && foundAt >= 0 {
			h, i, ok = found, foundAt, true
		}
	}
	if !ok {
		return nil, false
	}
	e := &d.entries[i]
	e.hits++
	e.distance = h.start0
	d.lastPos, d.lastEnd = h.start0, h.end0
	if !e.anchored {
		// Only a template that is not anchored is searched within the
		// last bounds next time.
		d.lastPosPrev, d.lastPosAt = charBefore(line, h.start0), charAt(line, h.start0)
		d.lastEndPrev, d.lastEndAt = charBefore(line, h.end0), charAt(line, h.end0)
	}
	d.last = i
	return h, true
}

// hasClock reports whether line has a digit, ":" and a digit.
func hasClock(line string) bool {
	for i := 1; i+1 < len(line); i++ {
		k := strings.IndexByte(line[i:], ':')
		if k < 0 {
			return false
		}
		i += k
		if i+1 < len(line) && isDigit(line[i-1]) && isDigit(line[i+1]) {
			return true
		}
	}
	return false
}

// sameBounds reports whether the characters around the last match's place
// are the same in line (then the last template is searched there only).
func (d *Detector) sameBounds(line string) bool {
	p, e := d.lastPos, d.lastEnd
	if p > len(line) || e > len(line) || p > e {
		return false
	}
	left := charBefore(line, p) == d.lastPosPrev || charAt(line, p) == d.lastPosAt && !isAlnum(d.lastPosAt)
	right := charAt(line, e) == d.lastEndAt || charBefore(line, e) == d.lastEndPrev && !isAlnum(d.lastEndPrev)
	return left && right
}

// charBefore returns the character before s[i] ("" at the start).
func charBefore(s string, i int) string {
	if i <= 0 || i > len(s) {
		return ""
	}
	_, w := utf8.DecodeLastRuneInString(s[:i])
	return s[i-w : i]
}

// charAt returns the character at s[i] ("" at the end).
func charAt(s string, i int) string {
	if i < 0 || i >= len(s) {
		return ""
	}
	_, w := utf8.DecodeRuneInString(s[i:])
	return s[i : i+w]
}

// isAlnum reports whether a one-character string is a letter or digit.
func isAlnum(c string) bool {
	if c == "" {
		return false
	}
	r, _ := utf8.DecodeRuneInString(c)
	return r != '_' && isPyWord(r)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// daysIn returns the number of days of month m in year y.
func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// decodeRune decodes the rune at s[i:] (an invalid byte is
// utf8.RuneError of width 1).
func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}
