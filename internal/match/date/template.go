package date

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gaol-project/gaol/internal/match/pyre"
)

// hit is where a template matched a line: the whole match (start0, end0:
// what fail2ban measures distances with), the text to cut (group 1:
// start, end) and the parts of the timestamp.
type hit struct {
	start0, end0 int
	start, end   int
	f            fields
}

// template finds one timestamp format.
type template interface {
	// name identifies the template (a detector has no two of one name).
	name() string
	// flags are the template's flag* bits.
	flags() int
	// search finds the leftmost match in line[pos:end] (the text before
	// pos is context, the text from end on is not seen) and fills h.
	search(d *Detector, line string, pos, end int, h *hit) bool
}

// regexTemplate is a template run as an expression: a date pattern
// (fail2ban's DatePatternRegex), epoch seconds (DateEpoch) or TAI64N.
type regexTemplate struct {
	nm  string
	fl  int
	re  *pyre.Regexp
	src string // the expression, Python syntax
	// keys are the strptime directive of each group (by number), "" for
	// other groups.
	keys []string
	kind int
	// value is the group of an epoch or TAI64N value.
	value int
	long  bool // LEPOCH: milliseconds or microseconds allowed
	// clock: every match has a digit, ":" and a digit (an hour and its
	// minutes), so a line without one is not searched.
	clock bool
}

// Kinds of regexTemplate.
const (
	kindPattern = iota
	kindEpoch
	kindTAI64N
)

// newRegexTemplate compiles a built expression.
func newRegexTemplate(b builtRegex, kind int) (*regexTemplate, error) {
	re, err := pyre.Compile(b.regex, pyre.Options{})
	if err != nil {
		return nil, fmt.Errorf("date pattern %q: %w", b.name, err)
	}
	t := &regexTemplate{nm: b.name, fl: b.flags, re: re, src: b.regex, kind: kind, value: 1}
	t.keys = make([]string, len(re.GroupNames()))
	for k, n := range re.GroupNames() {
		switch n {
		case "Y", "y", "m", "b", "B", "d", "H", "I", "M", "S", "f", "p", "a", "A", "w", "j", "U", "W", "z", "Z":
			t.keys[k] = n
		}
	}
	return t, nil
}

func (t *regexTemplate) name() string { return t.nm }

func (t *regexTemplate) needsClock() bool { return t.clock }
func (t *regexTemplate) flags() int       { return t.fl }

func (t *regexTemplate) search(d *Detector, line string, pos, end int, h *hit) bool {
	var caps []int
	if pos == 0 && end == len(line) {
		caps = t.re.Find(d.m, line)
	} else {
		caps = t.re.FindRange(d.m, line, pos, end)
	}
	if caps == nil {
		return false
	}
	*h = hit{start0: caps[0], end0: caps[1]}
	if len(caps) > 3 && caps[2] >= 0 {
		h.start, h.end = caps[2], caps[3]
	}
	switch t.kind {
	case kindPattern:
		for k, key := range t.keys {
			if key != "" && caps[2*k] >= 0 {
				h.f.setField(key, line[caps[2*k]:caps[2*k+1]])
			}
		}
	case kindEpoch:
		v := groupText(line, caps, t.value)
		sec, nsec, ok := parseEpoch(v, t.long)
		h.f.isEpoch, h.f.epochSec, h.f.epochNsec, h.f.invalid = true, sec, nsec, !ok
	case kindTAI64N:
		v := groupText(line, caps, t.value)
		// "@4000000037c219bf2ef02e94": the 15 hex digits after "@4" are
		// the seconds, as fail2ban reads them.
		sec, err := strconv.ParseInt(v[2:17], 16, 64)
		h.f.isEpoch, h.f.epochSec, h.f.invalid = true, sec, err != nil
	}
	return true
}

func groupText(s string, caps []int, k int) string {
	if 2*k+1 >= len(caps) || caps[2*k] < 0 {
		return ""
	}
	return s[caps[2*k]:caps[2*k+1]]
}

// parseEpoch parses seconds since the epoch ("1124013600",
// "1124013600.123"); with long, also milliseconds (13 digits, optionally
// with a fraction) and microseconds (16 digits).
func parseEpoch(v string, long bool) (sec, nsec int64, ok bool) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, 0, false
	}
	if long && len(v) >= 13 {
		if len(v) >= 16 && !strings.Contains(v, ".") {
			f /= 1e6
		} else {
			f /= 1e3
		}
	}
	s, frac := math.Modf(f)
	return int64(s), int64(math.Round(frac*1e6)) * 1000, true
}

// Expressions of epoch templates, as fail2ban's DateEpoch.
const (
	epochRE     = `[0-9]{10,11}\b(?:\.[0-9]{3,6})?`
	longEpochRE = `[0-9]{10,11}(?:[0-9]{3}(?:\.[0-9]{1,6}|[0-9]{3})?)?`
)

// newEpochTemplate builds an epoch template: anywhere (at the start of
// the line, after "[" at the start, or in "audit(...)"), at the start only
// (lineBegin), or inside a pattern with {EPOCH} or {LEPOCH}.
func newEpochTemplate(lineBegin, long bool, pattern string, now time.Time) (*regexTemplate, error) {
	re := epochRE
	name := "Epoch"
	if long {
		re, name = longEpochRE, "LongEpoch"
	}
	if pattern != "" {
		name = pattern
		loc := 0
		var b strings.Builder
		b.WriteString("(")
		for {
			m := reEpochPattern.FindStringSubmatchIndex(pattern[loc:])
			if m == nil {
				break
			}
			b.WriteString(pattern[loc : loc+m[0]])
			b.WriteString("(" + re + ")")
			loc += m[1]
		}
		b.WriteString(pattern[loc:])
		b.WriteString(")")
		t, err := newRegexTemplate(setRegex(b.String(), name, beginWord, true), kindEpoch)
		if err != nil {
			return nil, err
		}
		t.value, t.long = 2, long
		return t, nil
	}
	var built builtRegex
	if lineBegin {
		built = setRegex(`((?P<square>(?<=^\[))?`+re+`)(?(square)(?=\]))`, name, beginStart, true)
	} else {
		built = setRegex(`((?:^|(?P<square>(?<=^\[))|(?P<selinux>(?<=\baudit\()))`+re+`)(?:(?(selinux)(?=:[0-9]+\)))|(?(square)(?=\])))`, name, beginNone, true)
	}
	t, err := newRegexTemplate(built, kindEpoch)
	if err != nil {
		return nil, err
	}
	t.long = long
	return t, nil
}

// newTAI64NTemplate builds a TAI64N template ("@" and 24 hex digits).
func newTAI64NTemplate(lineBegin bool) (*regexTemplate, error) {
	begin := beginNone
	if lineBegin {
		begin = beginStart
	}
	return newRegexTemplate(setRegex(`@[0-9a-f]{24}`, "TAI64N", begin, true), kindTAI64N)
}

// newPatternTemplate builds the template of one datepattern line, as
// fail2ban's _getPatternTemplate: EPOCH, LEPOCH and TAI64N (optionally
// {^LN-BEG} or ^ before them) are special; a pattern with {EPOCH} or
// {LEPOCH} embeds epoch seconds; anything else is a strptime pattern.
func newPatternTemplate(pattern string, now time.Time) (template, error) {
	key := pattern
	if !strings.Contains(pattern, "%") {
		key = strings.ToUpper(pattern)
	}
	if strings.Contains(key, "EPOCH") {
		switch {
		case reEpochPattern.MatchString(pattern):
			return newEpochTemplate(false, strings.Contains(key, "LEPOCH"), pattern, now)
		case key == "EPOCH" || key == "{^LN-BEG}EPOCH" || key == "^EPOCH":
			return newFastEpoch(key != "EPOCH"), nil
		case key == "LEPOCH" || key == "{^LN-BEG}LEPOCH" || key == "^LEPOCH":
			return newEpochTemplate(key != "LEPOCH", true, "", now)
		}
	}
	if key == "TAI64N" || key == "{^LN-BEG}TAI64N" || key == "^TAI64N" {
		return newTAI64NTemplate(key != "TAI64N")
	}
	if fast := fastTemplate(pattern, now); fast != nil {
		return fast, nil
	}
	built, err := patternRegex(pattern, now)
	if err != nil {
		return nil, err
	}
	t, err := newRegexTemplate(built, kindPattern)
	if err != nil {
		return nil, err
	}
	t.clock = requiresClock(pattern)
	return t, nil
}

// requiresClock reports whether every match of a pattern has a digit,
// ":" and a digit: it has an hour and minutes separated by ":" outside of
// any group (and so not in an optional part) and no alternation at the top.
func requiresClock(pattern string) bool {
	depth, clock := 0, false
	for i := 0; i < len(pattern); i++ {
		switch c := pattern[i]; {
		case c == '\\':
			i++
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == '[':
			// Skip the class.
			j := i + 1
			if j < len(pattern) && pattern[j] == '^' {
				j++
			}
			if j < len(pattern) && pattern[j] == ']' {
				j++
			}
			for j < len(pattern) && pattern[j] != ']' {
				if pattern[j] == '\\' {
					j++
				}
				j++
			}
			i = j
		case c == '|' && depth == 0:
			return false // then neither branch is required
		case c == '%' && i+1 < len(pattern) && pattern[i+1] == '%':
			i++ // a literal %
		case c == '%' && depth == 0:
			for _, h := range []string{"%H:%M", "%k:%M", "%I:%M", "%l:%M", "%ExH:%ExM", "%Exk:%M", "%Exl:%M", "%H:%ExM"} {
				if strings.HasPrefix(pattern[i:], h) {
					clock = true
				}
			}
		}
	}
	return clock
}

// Character classes of Python's re (Unicode), as the expressions see them.

// isPyWord reports whether r is a word character (\w).
func isPyWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// isASCIIWord reports whether c is an ASCII word character (\b looks at
// these, as in Go's regexp).
func isASCIIWord(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// isPySpace reports whether r is \s.
func isPySpace(r rune) bool {
	switch r {
	case '\t', '\n', '\v', '\f', '\r', ' ', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// nonWordAt reports whether s[i] is a \W character.
func nonWordAt(s string, i int) bool {
	if i >= len(s) {
		return false
	}
	if c := s[i]; c < utf8.RuneSelf {
		return !isASCIIWord(c)
	}
	r, _ := utf8.DecodeRuneInString(s[i:])
	return !isPyWord(r)
}

// boundaryAt reports whether \b holds at s[i].
func boundaryAt(s string, i int) bool {
	before := i > 0 && isASCIIWord(s[i-1])
	after := i < len(s) && isASCIIWord(s[i])
	return before != after
}

// wordStartOK is fail2ban's (?=^|\b|\W) at s[i].
func wordStartOK(s string, i int) bool {
	return i == 0 || boundaryAt(s, i) || nonWordAt(s, i)
}

// wordEndOK is fail2ban's (?=\b|\W|$) at s[i].
func wordEndOK(s string, i int) bool {
	return i == len(s) || i == len(s)-1 && s[i] == '\n' || boundaryAt(s, i) || nonWordAt(s, i)
}

// lineStarts returns the positions ^(?:\W{0,2})? lets a line-start
// template begin at, in the order they are tried (most skipped first).
func lineStarts(s string) (ps [3]int, n int) {
	var after [3]int
	k := 0
	for k < 2 && nonWordAt(s, after[k]) {
		_, w := utf8.DecodeRuneInString(s[after[k]:])
		after[k+1] = after[k] + w
		k++
	}
	for j := k; j >= 0; j-- {
		ps[n] = after[j]
		n++
	}
	return ps, n
}
