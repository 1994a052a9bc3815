package date

import (
	"strings"
	"time"
)

// Hand-written parsers for the default templates most logs use: ISO 8601
// (rsyslog, journald exports, most applications), BSD syslog and Apache's
// access log. Each does exactly what fail2ban's expression for that
// template does (the same alternatives, tried in the same order, with the
// same boundaries), a few times faster; FuzzFastTemplates compares them
// with the expressions.

// The patterns they stand for.
const (
	isoPattern    = `%ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?`
	syslogPattern = `(?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?`
	apachePattern = `%d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?`
)

// fastKind selects a hand-written parser.
type fastKind int

const (
	fastISO fastKind = iota
	fastSyslog
	fastApache
	fastEpoch // seconds since the epoch (fail2ban's EPOCH)
)

// fastTmpl is a template with a hand-written parser.
type fastTmpl struct {
	kind      fastKind
	lineBegin bool
	nm        string
	decadeSet [16]uint64 // bit d: %ExY accepts the years 10*d to 10*d+9
}

// fastTemplate returns the hand-written template for pattern (with or
// without {^LN-BEG}), or nil if there is none.
func fastTemplate(pattern string, now time.Time) template {
	lineBegin := false
	p := pattern
	if len(p) > len("{^LN-BEG}") && p[:len("{^LN-BEG}")] == "{^LN-BEG}" {
		p, lineBegin = p[len("{^LN-BEG}"):], true
	}
	var kind fastKind
	switch p {
	case isoPattern:
		kind = fastISO
	case syslogPattern:
		kind = fastSyslog
	case apachePattern:
		kind = fastApache
	default:
		return nil
	}
	built, err := patternRegex(pattern, now)
	if err != nil {
		return nil
	}
	t := &fastTmpl{kind: kind, lineBegin: lineBegin, nm: built.name}
	for d := 200; d <= min(lastYear(now)/10, 1023); d++ {
		t.decadeSet[d>>6] |= 1 << (d & 63)
	}
	return t
}

func (t *fastTmpl) name() string { return t.nm }

func (t *fastTmpl) needsClock() bool { return t.kind != fastEpoch }

// newFastEpoch returns the hand-written EPOCH template: anywhere
// (fail2ban's expression lets the digits start at the start of the line,
// after a "[" there, or after "audit("; its conditional parts never
// fail), or, with lineBegin, at the start of the line.
func newFastEpoch(lineBegin bool) *fastTmpl {
	name := "Epoch"
	if lineBegin {
		name = "{^LN-BEG}Epoch"
	}
	return &fastTmpl{kind: fastEpoch, lineBegin: lineBegin, nm: name}
}

func (t *fastTmpl) flags() int {
	switch {
	case t.lineBegin:
		return flagLineBegin | flagWordEnd
	case t.kind == fastEpoch:
		return flagWordEnd
	}
	return flagWordBegin | flagWordEnd
}

func (t *fastTmpl) search(d *Detector, line string, pos, end int, h *hit) bool {
	s := line[:end]
	if t.lineBegin {
		if pos > 0 {
			return false
		}
		if len(s) > 0 && s[0] < 0x80 && isASCIIWord(s[0]) {
			// Nothing to skip: ^(?:\W{0,2})? matches empty only.
			if t.parseAt(s, 0, h) {
				h.start0 = 0
				return true
			}
			return false
		}
		ps, n := lineStarts(s)
		for _, p := range ps[:n] {
			if t.parseAt(s, p, h) {
				h.start0 = 0
				return true
			}
		}
		return false
	}
	if t.kind == fastEpoch {
		if pos == 0 && t.parseAt(s, 0, h) || pos <= 1 && at(s, 0, '[') && t.parseAt(s, 1, h) {
			return true
		}
		for p := max(pos-6, 0); ; {
			k := strings.Index(s[p:], "audit(")
			if k < 0 {
				return false
			}
			p += k
			if p+6 >= pos && boundaryAt(s, p) && t.parseAt(s, p+6, h) {
				return true
			}
			p++
		}
	}
	for p := pos; p < len(s); p++ {
		if !t.first(s[p]) || !wordStartOK(s, p) {
			continue
		}
		if t.parseAt(s, p, h) {
			return true
		}
	}
	return false
}

// first reports whether a match can start with c.
func (t *fastTmpl) first(c byte) bool {
	switch t.kind {
	case fastISO:
		return c == '2'
	case fastApache:
		return c >= '0' && c <= '9' || c == ' '
	}
	switch c | 0x20 {
	case 'm', 't', 'w', 'f', 's', 'j', 'a', 'o', 'n', 'd':
		return true
	}
	return false
}

func (t *fastTmpl) parseAt(s string, p int, h *hit) bool {
	h.f = fields{}
	var end int
	var ok bool
	switch t.kind {
	case fastISO:
		end, ok = t.iso(s, p, &h.f)
	case fastSyslog:
		end, ok = t.syslog(s, p, &h.f)
	case fastApache:
		end, ok = t.apache(s, p, &h.f)
	case fastEpoch:
		end, ok = epoch(s, p, &h.f)
	}
	if !ok {
		return false
	}
	h.start0, h.start, h.end, h.end0 = p, p, end, end
	return true
}

// The parsers below take, at each choice point of the expression, the one
// way that the text right after it allows: every part is followed by a
// character its other alternatives cannot be followed by (a digit field by
// a separator, a one-digit field by a digit that makes the rest fail), so
// the first success of a backtracking search is the only candidate.

func isDigitAt(s string, i int) bool { return i < len(s) && s[i] >= '0' && s[i] <= '9' }

func in(s string, i int, lo, hi byte) bool { return i < len(s) && s[i] >= lo && s[i] <= hi }

func at(s string, i int, c byte) bool { return i < len(s) && s[i] == c }

func val2(s string, i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }

// monthNum matches %m (0?[1-9]|1[0-2]) at s[i] followed by sep.
func monthNum(s string, i int, sep byte) (int, int, bool) {
	switch {
	case at(s, i, '0') && in(s, i+1, '1', '9') && at(s, i+2, sep):
		return int(s[i+1] - '0'), i + 2, true
	case in(s, i, '1', '9') && at(s, i+1, sep):
		return int(s[i] - '0'), i + 1, true
	case at(s, i, '1') && in(s, i+1, '0', '2') && at(s, i+2, sep):
		return val2(s, i), i + 2, true
	}
	return 0, 0, false
}

// dayNum matches %d ([1-2]\d|[0 ]?[1-9]|3[0-1]) at s[i] followed by a or b.
func dayNum(s string, i int, a, b byte) (int, int, bool) {
	follows := func(k int) bool { return at(s, k, a) || at(s, k, b) }
	switch {
	case in(s, i, '1', '2') && isDigitAt(s, i+1) && follows(i+2):
		return val2(s, i), i + 2, true
	case (at(s, i, '0') || at(s, i, ' ')) && in(s, i+1, '1', '9') && follows(i+2):
		return int(s[i+1] - '0'), i + 2, true
	case in(s, i, '1', '9') && follows(i+1):
		return int(s[i] - '0'), i + 1, true
	case at(s, i, '3') && in(s, i+1, '0', '1') && follows(i+2):
		return val2(s, i), i + 2, true
	}
	return 0, 0, false
}

// hourColon matches the hour at s[i] followed by ":": %H
// ([0-1]?\d|2[0-3]) or, with k, %k's [0-2]?\d.
func hourColon(s string, i int, k bool) (int, int, bool) {
	hi := byte('1')
	if k {
		hi = '2'
	}
	switch {
	case in(s, i, '0', hi) && isDigitAt(s, i+1) && at(s, i+2, ':'):
		return val2(s, i), i + 2, true
	case isDigitAt(s, i) && at(s, i+1, ':'):
		return int(s[i] - '0'), i + 1, true
	case !k && at(s, i, '2') && in(s, i+1, '0', '3') && at(s, i+2, ':'):
		return val2(s, i), i + 2, true
	}
	return 0, 0, false
}

// clock matches %H:%M:%S (the hour %k with k) and the tail at s[i].
func (t *fastTmpl) clock(s string, i int, k bool, tl tail, f *fields) (int, bool) {
	h, j, ok := hourColon(s, i, k)
	if !ok {
		return 0, false
	}
	j++
	var m int
	switch {
	case in(s, j, '0', '5') && isDigitAt(s, j+1) && at(s, j+2, ':'):
		m, j = val2(s, j), j+2
	case isDigitAt(s, j) && at(s, j+1, ':'):
		m, j = int(s[j]-'0'), j+1
	default:
		return 0, false
	}
	j++
	// %S = [0-5]?\d|6[0-1]: followed by a digit, one digit leaves the
	// tail nothing to match.
	var sec int
	switch {
	case isDigitAt(s, j+1):
		switch {
		case in(s, j, '0', '5'), at(s, j, '6') && in(s, j+1, '0', '1'):
			sec, j = val2(s, j), j+2
		default:
			return 0, false
		}
	case isDigitAt(s, j):
		sec, j = int(s[j]-'0'), j+1
	default:
		return 0, false
	}
	end, ok := t.fracTail(s, j, tl, f)
	if ok {
		f.hour, f.min, f.sec = h, m, sec
	}
	return end, ok
}

// tail is what follows the seconds of a hand-written template.
type tail int

const (
	tailISO    tail = iota // (?:[.,]%f)?(?:\s*%z)?
	tailSyslog             // (?:\.%f)?(?: %ExY)?
	tailApache             // (?:\.%f)?(?: %z)?, ignoring case
)

// fracTail matches the optional fraction of seconds, then the rest of the
// tail. A fraction of more than six digits, or whose rest fails, is left
// out: the shorter ones are followed by a digit.
func (t *fastTmpl) fracTail(s string, i int, tl tail, f *fields) (int, bool) {
	if i < len(s) && (s[i] == '.' || tl == tailISO && s[i] == ',') {
		n := 0
		for i+1+n < len(s) && isDigit(s[i+1+n]) {
			n++
		}
		if n >= 1 && n <= 6 {
			if end, ok := t.rest(s, i+1+n, tl, f); ok {
				f.nsec = fractionNanos(s[i+1 : i+1+n])
				return end, true
			}
		}
	}
	f.nsec = 0
	return t.rest(s, i, tl, f)
}

// rest matches what follows the fraction of seconds, and the end boundary.
func (t *fastTmpl) rest(s string, i int, tl tail, f *fields) (int, bool) {
	switch tl {
	case tailISO:
		return zone(s, i, true, false, f)
	case tailApache:
		return zone(s, i, false, true, f)
	}
	if at(s, i, ' ') {
		if y, ok := t.year(s, i+1); ok && wordEndOK(s, i+5) {
			f.year, f.hasYear = y, true
			return i + 5, true
		}
	}
	f.hasYear = false
	return i, wordEndOK(s, i)
}

// year returns %ExY at s[i:].
func (t *fastTmpl) year(s string, i int) (int, bool) {
	if i+4 > len(s) || !isDigit(s[i]) || !isDigit(s[i+1]) || !isDigit(s[i+2]) || !isDigit(s[i+3]) {
		return 0, false
	}
	y := val2(s, i)*100 + val2(s, i+2)
	return y, t.decade(y / 10)
}

// decade reports whether %ExY accepts the years of decade d (the first
// three digits).
func (t *fastTmpl) decade(d int) bool {
	return d >= 0 && d < 1024 && t.decadeSet[d>>6]&(1<<(d&63)) != 0
}

// zone matches (?:<space>%z)? at s[i] and the end boundary: %z is
// Z|UTC|GMT|[+-][01]\d(?::?\d{2})?, after \s* (anySpace, ISO) or exactly
// one space (Apache); fold lets the names match in any case.
func zone(s string, i int, anySpace, fold bool, f *fields) (int, bool) {
	if i+1 < len(s) && s[i] == ' ' {
		// The usual case, a space and a word: no zone, and a space ends
		// the date.
		if c := s[i+1]; c > ' ' && c < 0x80 && c != '+' && c != '-' && c|0x20 != 'z' && c|0x20 != 'u' && c|0x20 != 'g' {
			f.hasZone, f.badZone = false, false
			return i, true
		}
	}
	if i < len(s) {
		switch c := s[i] | 0x20; {
		case c == ' ' || c == 'z' || c == 'u' || c == 'g' || c == '+'|0x20 || c == '-'|0x20 || s[i] == '\t' || s[i] >= 0x80 || s[i] < ' ':
		default:
			// No zone can start here.
			f.hasZone, f.badZone = false, false
			return i, wordEndOK(s, i)
		}
	}
	j := i
	if anySpace {
		// Fewer spaces leave a space where the zone must start.
		for j < len(s) {
			c := s[j]
			if c == ' ' || c == '\t' {
				j++
				continue
			}
			if c < 0x80 && !(c >= '\n' && c <= '\r' || c >= 0x1c && c <= 0x1f) {
				break
			}
			r, w := decodeRune(s, j)
			if !isPySpace(r) {
				break
			}
			j += w
		}
	} else if at(s, i, ' ') {
		j++
	} else {
		j = -1
	}
	if j >= 0 && j < len(s) {
		if end := zoneEnd(s, j, fold); end > 0 {
			var off int
			ok := true
			if c := s[j]; c == '+' || c == '-' {
				// [+-]hh, [+-]hhmm or [+-]hh:mm, as zoneOffset reads it.
				off = val2(s, j+1) * 3600
				switch end - j {
				case 5:
					off += val2(s, j+3) * 60
				case 6:
					off += val2(s, j+4) * 60
				}
				if c == '-' {
					off = -off
				}
			} else {
				off, ok = zoneOffset(s[j:end])
			}
			f.zone, f.hasZone, f.badZone = off, true, !ok
			return end, true
		}
	}
	f.hasZone, f.badZone = false, false
	return i, wordEndOK(s, i)
}

// zoneEnd returns where the first way %z matches at s[j] and is followed
// by the end boundary ends, or 0.
func zoneEnd(s string, j int, fold bool) int {
	switch c := s[j]; {
	case c == 'Z' || fold && c == 'z':
		if wordEndOK(s, j+1) {
			return j + 1
		}
	case j+3 <= len(s) && (s[j:j+3] == "UTC" || s[j:j+3] == "GMT" || fold && (equalFoldASCII(s[j:j+3], "UTC") || equalFoldASCII(s[j:j+3], "GMT"))):
		if wordEndOK(s, j+3) {
			return j + 3
		}
	case (c == '+' || c == '-') && in(s, j+1, '0', '1') && isDigitAt(s, j+2):
		k := j + 3
		if at(s, k, ':') && isDigitAt(s, k+1) && isDigitAt(s, k+2) && wordEndOK(s, k+3) {
			return k + 3
		}
		if isDigitAt(s, k) && isDigitAt(s, k+1) && wordEndOK(s, k+2) {
			return k + 2
		}
		if wordEndOK(s, k) {
			return k
		}
	}
	return 0
}

func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		if a[i]|0x20 != b[i]|0x20 {
			return false
		}
	}
	return true
}

// digits2 returns the value of two ASCII digits at s[i:i+2], or -1.
func digits2(s string, i int) int {
	a, b := s[i]-'0', s[i+1]-'0'
	if a > 9 || b > 9 {
		return -1
	}
	return int(a)*10 + int(b)
}

// iso: %ExY(?P<_sep>[-/.])%m(?P=_sep)%d(?:T|  ?)%H:%M:%S(?:[.,]%f)?(?:\s*%z)?
func (t *fastTmpl) iso(s string, i int, f *fields) (int, bool) {
	// The usual form, "YYYY-MM-DDThh:mm:ss": with two digits everywhere
	// the expression takes the values as they are (a one-digit field
	// would be followed by a digit, not its separator).
	if i+19 <= len(s) {
		sep := s[i+4]
		if (sep == '-' || sep == '/' || sep == '.') && s[i+7] == sep && (s[i+10] == 'T' || s[i+10] == ' ') && s[i+13] == ':' && s[i+16] == ':' {
			y1, y2 := digits2(s, i), digits2(s, i+2)
			mon, day := digits2(s, i+5), digits2(s, i+8)
			h, m, sec := digits2(s, i+11), digits2(s, i+14), digits2(s, i+17)
			if y1 >= 0 && y2 >= 0 && t.decade(y1*10+y2/10) && mon >= 1 && mon <= 12 && day >= 1 && day <= 31 &&
				h >= 0 && h <= 23 && m >= 0 && m <= 59 && sec >= 0 && sec <= 61 {
				end, ok := t.fracTail(s, i+19, tailISO, f)
				if !ok {
					return 0, false
				}
				f.year, f.month, f.day, f.hour, f.min, f.sec = y1*100+y2, mon, day, h, m, sec
				f.hasYear, f.hasMonth, f.hasDay = true, true, true
				return end, true
			}
		}
	}
	y, ok := t.year(s, i)
	if !ok {
		return 0, false
	}
	j := i + 4
	if j >= len(s) || (s[j] != '-' && s[j] != '/' && s[j] != '.') {
		return 0, false
	}
	sep := s[j]
	mon, j, ok := monthNum(s, j+1, sep)
	if !ok {
		return 0, false
	}
	day, j, ok := dayNum(s, j+1, 'T', ' ')
	if !ok {
		return 0, false
	}
	j++
	if s[j-1] == ' ' && at(s, j, ' ') {
		j++ // the hour cannot start with a space
	}
	end, ok := t.clock(s, j, false, tailISO, f)
	if !ok {
		return 0, false
	}
	f.year, f.hasYear = y, true
	f.month, f.hasMonth = mon, true
	f.day, f.hasDay = day, true
	return end, true
}

// syslog: (?:%a )?%b %d %k:%M:%S(?:\.%f)?(?: %ExY)?, ignoring case. No
// weekday abbreviation is a month's, so with a weekday the month must
// follow it.
func (t *fastTmpl) syslog(s string, i int, f *fields) (int, bool) {
	// The usual form, "Mmm dd hh:mm:ss" (or " d"), as in iso.
	if i+15 <= len(s) && s[i+3] == ' ' && s[i+6] == ' ' && s[i+9] == ':' && s[i+12] == ':' {
		if mon, ok := month3(s[i], s[i+1], s[i+2]); ok {
			day := -1
			if s[i+4] == ' ' {
				if c := s[i+5] - '0'; c >= 1 && c <= 9 {
					day = int(c)
				}
			} else {
				day = digits2(s, i+4)
			}
			h, m, sec := digits2(s, i+7), digits2(s, i+10), digits2(s, i+13)
			if day >= 1 && day <= 31 && h >= 0 && h <= 29 && m >= 0 && m <= 59 && sec >= 0 && sec <= 61 {
				end, ok := t.fracTail(s, i+15, tailSyslog, f)
				if !ok {
					return 0, false
				}
				f.month, f.day, f.hour, f.min, f.sec = int(mon), day, h, m, sec
				f.hasMonth, f.hasDay = true, true
				return end, true
			}
		}
	}
	if i+4 <= len(s) && s[i+3] == ' ' {
		if _, ok := weekday3(s[i], s[i+1], s[i+2]); ok {
			i += 4
		}
	}
	if i+4 > len(s) || s[i+3] != ' ' {
		return 0, false
	}
	mon, ok := month3(s[i], s[i+1], s[i+2])
	if !ok {
		return 0, false
	}
	day, j, ok := dayNum(s, i+4, ' ', ' ')
	if !ok {
		return 0, false
	}
	j++
	if at(s, j, ' ') {
		j++ // %k's optional space: the hour cannot start with one
	}
	end, ok := t.clock(s, j, true, tailSyslog, f)
	if !ok {
		return 0, false
	}
	f.month, f.hasMonth = int(mon), true
	f.day, f.hasDay = day, true
	return end, true
}

// apache: %d(?P<_sep>[-/])%b(?P=_sep)%ExY[ :]?%H:%M:%S(?:\.%f)?(?: %z)?,
// ignoring case.
func (t *fastTmpl) apache(s string, i int, f *fields) (int, bool) {
	day, j, ok := dayNum(s, i, '-', '/')
	if !ok || j+5 > len(s) {
		return 0, false
	}
	sep := s[j]
	mon, ok := month3(s[j+1], s[j+2], s[j+3])
	if !ok || s[j+4] != sep {
		return 0, false
	}
	y, ok := t.year(s, j+5)
	if !ok {
		return 0, false
	}
	k := j + 9
	if at(s, k, ' ') || at(s, k, ':') {
		k++ // the hour cannot start with either
	}
	end, ok := t.clock(s, k, false, tailApache, f)
	if !ok {
		return 0, false
	}
	f.year, f.hasYear = y, true
	f.month, f.hasMonth = int(mon), true
	f.day, f.hasDay = day, true
	return end, true
}

// epoch: [0-9]{10,11}\b(?:\.[0-9]{3,6})? and the end boundary. The
// digits end at a boundary, so only a run of exactly 10 or 11 matches; a
// fraction of other lengths, or not followed by the boundary, is left out
// (the shorter ones are followed by a digit).
func epoch(s string, i int, f *fields) (int, bool) {
	n := 0
	for i+n < len(s) && isDigit(s[i+n]) {
		n++
	}
	if n < 10 || n > 11 || !boundaryAt(s, i+n) {
		return 0, false
	}
	end := i + n
	if at(s, end, '.') {
		k := 0
		for end+1+k < len(s) && isDigit(s[end+1+k]) {
			k++
		}
		if k >= 3 && k <= 6 && wordEndOK(s, end+1+k) {
			end += 1 + k
		}
	}
	sec, nsec, ok := parseEpoch(s[i:end], false)
	f.isEpoch, f.epochSec, f.epochNsec, f.invalid = true, sec, nsec, !ok
	return end, true
}

// month3 parses an English three-letter month abbreviation, in any case.
func month3(a, b, c byte) (time.Month, bool) {
	k := uint32(a|0x20)<<16 | uint32(b|0x20)<<8 | uint32(c|0x20)
	switch k {
	case 'j'<<16 | 'a'<<8 | 'n':
		return time.January, true
	case 'f'<<16 | 'e'<<8 | 'b':
		return time.February, true
	case 'm'<<16 | 'a'<<8 | 'r':
		return time.March, true
	case 'a'<<16 | 'p'<<8 | 'r':
		return time.April, true
	case 'm'<<16 | 'a'<<8 | 'y':
		return time.May, true
	case 'j'<<16 | 'u'<<8 | 'n':
		return time.June, true
	case 'j'<<16 | 'u'<<8 | 'l':
		return time.July, true
	case 'a'<<16 | 'u'<<8 | 'g':
		return time.August, true
	case 's'<<16 | 'e'<<8 | 'p':
		return time.September, true
	case 'o'<<16 | 'c'<<8 | 't':
		return time.October, true
	case 'n'<<16 | 'o'<<8 | 'v':
		return time.November, true
	case 'd'<<16 | 'e'<<8 | 'c':
		return time.December, true
	}
	return 0, false
}

// weekday3 parses an English three-letter weekday abbreviation, in any
// case (0 = Monday).
func weekday3(a, b, c byte) (int, bool) {
	k := uint32(a|0x20)<<16 | uint32(b|0x20)<<8 | uint32(c|0x20)
	switch k {
	case 'm'<<16 | 'o'<<8 | 'n':
		return 0, true
	case 't'<<16 | 'u'<<8 | 'e':
		return 1, true
	case 'w'<<16 | 'e'<<8 | 'd':
		return 2, true
	case 't'<<16 | 'h'<<8 | 'u':
		return 3, true
	case 'f'<<16 | 'r'<<8 | 'i':
		return 4, true
	case 's'<<16 | 'a'<<8 | 't':
		return 5, true
	case 's'<<16 | 'u'<<8 | 'n':
		return 6, true
	}
	return 0, false
}
