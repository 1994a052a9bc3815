// Package date finds and parses the timestamp in a log line.
//
// A Detector tries a list of templates, each a hand-written parser for one
// timestamp format, at the start of the line first and then at every later
// word boundary. The template that matched last is tried first, so that a
// file written in one format costs a single parse per line. The fast path
// does not allocate.
//
// Formats understood today:
//
//   - BSD syslog "Mmm dd hh:mm:ss" and "Mmm  d hh:mm:ss", optionally with
//     fractional seconds ("Nov 22 02:15:46.123456"). The year is not in the
//     text: it is inferred from the clock the way fail2ban does it (this year,
//     or last year if that would put the time more than a day in the future).
//   - ISO 8601 / RFC 3339 as rsyslog writes it
//     ("2026-11-22T02:15:46.123456+00:00", "...Z", "2026-11-22 02:15:46"),
//     with or without fractional seconds (after "." or ","); a time without
//     a zone is in the Detector's location.
//
// Further formats (fail2ban's whole template list, datepattern directives,
// EPOCH, TAI64N, {^LN-BEG}) are meant to be added as more templates behind
// the same Detector.
package date

import "time"

// Match is a timestamp found in a line.
type Match struct {
	// Time is the instant the timestamp denotes.
	Time time.Time
	// Start and End are the byte offsets of the timestamp text in the line:
	// the text is line[Start:End].
	Start, End int
}

// template parses one timestamp format.
type template interface {
	// first reports whether c can be the first byte of a timestamp in
	// this format; it is a cheap filter before parse.
	first(c byte) bool
	// parse parses a timestamp that starts exactly at line[i]. It returns
	// the instant and the offset just after the timestamp text.
	parse(d *Detector, line string, i int) (t time.Time, end int, ok bool)
}

// Detector finds timestamps in log lines. It remembers which format matched
// last, so a Detector is meant to serve one log source: it is not safe for
// concurrent use.
type Detector struct {
	now       func() time.Time
	loc       *time.Location
	templates []template
	last      int
	// start[c] has bit k set if template k can begin with byte c.
	start [256]uint64
}

// NewDetector returns a Detector for the default formats. now is the clock
// used to infer the year of timestamps that do not carry one (nil means
// time.Now); it is called once for each such line, so a caller that handles
// lines in batches may pass a clock read once per batch. loc is the time
// zone of timestamps that do not name their zone (nil means time.Local).
func NewDetector(now func() time.Time, loc *time.Location) *Detector {
	if now == nil {
		now = time.Now
	}
	if loc == nil {
		loc = time.Local
	}
	d := &Detector{
		now:       now,
		loc:       loc,
		templates: []template{syslogTemplate{}, isoTemplate{}},
	}
	for c := range 256 {
		for k, t := range d.templates {
			if t.first(byte(c)) {
				d.start[c] |= 1 << k
			}
		}
	}
	return d
}

// Find returns the first timestamp in line: the one at the start of the
// line if there is one, otherwise the leftmost one that begins at a word
// boundary (for example after "[" or after a host name).
func (d *Detector) Find(line string) (Match, bool) {
	if len(line) == 0 {
		return Match{}, false
	}
	if mask := d.start[line[0]]; mask != 0 {
		if m, ok := d.findAt(line, 0, mask); ok {
			return m, true
		}
	}
	for i := 1; i < len(line); i++ {
		mask := d.start[line[i]]
		if mask == 0 || isWord(line[i-1]) {
			continue
		}
		if m, ok := d.findAt(line, i, mask); ok {
			return m, true
		}
	}
	return Match{}, false
}

// findAt tries the templates in mask at line[i], the one that matched last
// first.
func (d *Detector) findAt(line string, i int, mask uint64) (Match, bool) {
	if mask&(1<<d.last) != 0 {
		if tm, end, ok := d.templates[d.last].parse(d, line, i); ok {
			return Match{Time: tm, Start: i, End: end}, true
		}
		mask &^= 1 << d.last
	}
	for k := 0; mask != 0; k++ {
		if mask&(1<<k) == 0 {
			continue
		}
		mask &^= 1 << k
		if tm, end, ok := d.templates[k].parse(d, line, i); ok {
			d.last = k
			return Match{Time: tm, Start: i, End: end}, true
		}
	}
	return Match{}, false
}

// isWord reports whether c is an ASCII letter, digit or underscore, the
// characters of a regular-expression word.
func isWord(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// digits2 parses two ASCII digits at s[i:i+2].
func digits2(s string, i int) (int, bool) {
	if i+2 > len(s) || !isDigit(s[i]) || !isDigit(s[i+1]) {
		return 0, false
	}
	return int(s[i]-'0')*10 + int(s[i+1]-'0'), true
}

// fraction parses the digits of fractional seconds at s[i:], returning
// nanoseconds and the offset after the digits. Digits past the ninth are
// consumed and ignored.
func fraction(s string, i int) (ns int, end int) {
	scale := 100000000
	for end = i; end < len(s) && isDigit(s[end]); end++ {
		ns += int(s[end]-'0') * scale
		scale /= 10
	}
	return ns, end
}

// clock parses "hh:mm:ss" at s[i:] and validates the ranges (a leap second
// 60 is accepted).
func clock(s string, i int) (h, m, sec int, ok bool) {
	var okH, okM, okS bool
	h, okH = digits2(s, i)
	m, okM = digits2(s, i+3)
	sec, okS = digits2(s, i+6)
	if !okH || !okM || !okS || s[i+2] != ':' || s[i+5] != ':' {
		return 0, 0, 0, false
	}
	if h > 23 || m > 59 || sec > 60 {
		return 0, 0, 0, false
	}
	return h, m, sec, true
}

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
