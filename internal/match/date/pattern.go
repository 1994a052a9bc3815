package date

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/gaol-project/gaol/internal/match/pyre"
)

// Template flags, as fail2ban's DateTemplate has them.
const (
	flagLineBegin = 8 // only at the start of a line (after at most two non-word characters)
	flagLineEnd   = 4
	flagWordBegin = 2
	flagWordEnd   = 1
)

// directives are the regular expressions of the strptime directives a
// date pattern may use, as fail2ban defines them (Python's _strptime with
// fail2ban's changes and extensions: %k, %l, %Ex*). Digits are ASCII.
var directives = map[string]string{
	"%":   `%`,
	"A":   `(?P<A>wednesday|thursday|saturday|tuesday|monday|friday|sunday)`,
	"B":   `(?P<B>september|february|november|december|january|october|august|march|april|june|july|may)`,
	"ExH": `(?P<H>[0-1][0-9]|2[0-3])`,
	"ExM": `(?P<M>[0-5][0-9])`,
	"ExS": `(?P<S>[0-5][0-9]|6[0-1])`,
	"ExZ": `(?P<Z>[A-Z](?:[A-Z]{2,4})?)`,
	"Exd": `(?P<d>[1-2][0-9]|0[1-9]|3[0-1])`,
	"Exk": ` ?(?P<H>[0-1]?[0-9]|2[0-3])`,
	"Exl": ` ?(?P<I>1[0-2]|[0-9])`,
	"Exm": `(?P<m>0[1-9]|1[0-2])`,
	"Exy": `(?P<y>[0-9]{2})`,
	"Exz": `(?P<z>(?:[A-Z](?:[A-Z]{2,4})?)?[+-][01][0-9](?::?[0-9]{2})?|[A-Z](?:[A-Z]{2,4})?)`,
	"G":   `(?P<G>[0-9][0-9][0-9][0-9])`,
	"H":   `(?P<H>[0-1]?[0-9]|2[0-3])`,
	"I":   `(?P<I>1[0-2]|0[1-9]|[1-9])`,
	"M":   `(?P<M>[0-5]?[0-9])`,
	"S":   `(?P<S>[0-5]?[0-9]|6[0-1])`,
	"U":   `(?P<U>5[0-3]|[0-4][0-9]|[0-9])`,
	"V":   `(?P<V>5[0-3]|0[1-9]|[1-4][0-9]|[0-9])`,
	"W":   `(?P<W>5[0-3]|[0-4][0-9]|[0-9])`,
	"X":   `(?P<H>2[0-3]|[0-1][0-9]|[0-9]):(?P<M>[0-5][0-9]|[0-9]):(?P<S>6[0-1]|[0-5][0-9]|[0-9])`,
	"Y":   `(?P<Y>[0-9]{4})`,
	"Z":   `(?P<Z>Z|[A-Z]{3,5})`,
	"a":   `(?P<a>mon|tue|wed|thu|fri|sat|sun)`,
	"b":   `(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)`,
	"c":   `(?P<a>mon|tue|wed|thu|fri|sat|sun)\s+(?P<b>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\s+(?P<d>3[0-1]|[1-2][0-9]|0[1-9]|[1-9]| [1-9])\s+(?P<H>2[0-3]|[0-1][0-9]|[0-9]):(?P<M>[0-5][0-9]|[0-9]):(?P<S>6[0-1]|[0-5][0-9]|[0-9])\s+(?P<Y>[0-9][0-9][0-9][0-9])`,
	"d":   `(?P<d>[1-2][0-9]|[0 ]?[1-9]|3[0-1])`,
	"f":   `(?P<f>[0-9]{1,6})`,
	"j":   `(?P<j>36[0-6]|3[0-5][0-9]|[1-2][0-9][0-9]|0[1-9][0-9]|00[1-9]|[1-9][0-9]|0[1-9]|[1-9])`,
	"k":   ` ?(?P<H>[0-2]?[0-9])`,
	"l":   ` ?(?P<I>1?[0-9])`,
	"m":   `(?P<m>0?[1-9]|1[0-2])`,
	"p":   `(?P<p>am|pm)`,
	"u":   `(?P<u>[1-7])`,
	"w":   `(?P<w>[0-6])`,
	"x":   `(?P<m>1[0-2]|0[1-9]|[1-9])/(?P<d>3[0-1]|[1-2][0-9]|0[1-9]|[1-9]| [1-9])/(?P<y>[0-9][0-9])`,
	"y":   `(?P<y>[0-9][0-9])`,
	"z":   `(?P<z>Z|UTC|GMT|[+-][01][0-9](?::?[0-9]{2})?)`,
}

// directiveNames are the names fail2ban gives directives in template
// names (which identify templates: a detector has no two of one name).
var directiveNames = map[string]string{
	"a": "DAY", "A": "DAYNAME", "b": "MON", "B": "MONTH", "d": "Day",
	"H": "24hour", "I": "12hour", "j": "Yearday", "m": "Month",
	"M": "Minute", "p": "AMPM", "S": "Second", "U": "Yearweek",
	"w": "Weekday", "W": "Yearweek", "y": "Year2", "Y": "Year", "%": "%",
	"z": "Zone offset", "f": "Microseconds", "Z": "Zone name",
	"ExH": "Ex24hour", "ExM": "ExMinute", "ExS": "ExSecond", "ExY": "ExYear",
	"ExZ": "ExZone name", "Exd": "ExDay", "Exm": "ExMonth", "Exy": "ExYear2",
	"Exz": "ExZone offset",
}

// multiDirectives are the directives of more than one letter, tried first.
var multiDirectives = []string{"ExZ", "Exz", "Exd", "Exm", "ExH", "Exk", "Exl", "ExM", "ExS", "ExY", "Exy"}

// lastYear returns the last year %ExY accepts: three years after now, or
// after the real clock if that is later (fail2ban looks at both the
// clock its tests set and the real one).
func lastYear(now time.Time) int {
	return max(now.Year(), time.Now().Year(), 2000) + 3
}

// yearPattern returns fail2ban's %ExY: a year from 2000 to lastYear, to
// the decade ("20[0-2]\d" until 2026).
func yearPattern(now time.Time) string {
	last := lastYear(now)
	var decades []string
	for y := 2000; y/10 <= last/10; y += 10 {
		decades = append(decades, strconv.Itoa(y/10))
	}
	// Group by century, as "20[0-2]" or "(?:20[0-9]|21[0-3])".
	var parts []string
	for i := 0; i < len(decades); {
		j := i
		for j < len(decades) && decades[j][:2] == decades[i][:2] {
			j++
		}
		lo, hi := decades[i][2], decades[j-1][2]
		if lo == hi {
			parts = append(parts, decades[i])
		} else {
			parts = append(parts, fmt.Sprintf("%s[%c-%c]", decades[i][:2], lo, hi))
		}
		i = j
	}
	p := parts[0]
	if len(parts) > 1 {
		p = "(?:" + strings.Join(parts, "|") + ")"
	}
	return `(?P<Y>` + p + `[0-9])`
}

// convertPattern replaces the %-directives of a date pattern by their
// expressions; it also returns the template's name.
func convertPattern(pattern string, now time.Time) (regex, name string, err error) {
	var re, nm strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' {
			re.WriteByte(c)
			nm.WriteByte(c)
			continue
		}
		key := ""
		for _, k := range multiDirectives {
			if strings.HasPrefix(pattern[i+1:], k) {
				key = k
				break
			}
		}
		if i+1 < len(pattern) && pattern[i+1] == '%' {
			key = "%"
		}
		if key == "" && i+1 < len(pattern) && strings.IndexByte("dfHIGjmMSUwuVyYzAaBbpZWcxXkl", pattern[i+1]) >= 0 {
			key = pattern[i+1 : i+2]
		}
		if key == "" {
			return "", "", fmt.Errorf("date pattern %q: invalid directive or unescaped %% at offset %d", pattern, i)
		}
		expr := directives[key]
		if key == "ExY" {
			expr = yearPattern(now)
		}
		re.WriteString(expr)
		if n, ok := directiveNames[key]; ok {
			nm.WriteString(n)
		} else {
			nm.WriteString("%" + key)
		}
		i += len(key)
	}
	return re.String(), nm.String(), nil
}

// Helpers of fail2ban's DateTemplate.setRegex, run on the text of the
// expression being built.
var (
	reNoWordBoundBeg = pyre.MustCompile(`^\(*(?:\(\?\w+\))?(?:\^|\(*\*\*|\((?:\?:)?\^)`, pyre.Options{})
	reNoWordBoundEnd = pyre.MustCompile(`(?<!\\)(?:\$\)?|\\b|\\s|\*\*\)*)$`, pyre.Options{})
	reGrouped        = pyre.MustCompile(`(?<!(?:\(\?))(?<!\\)\((?!\?)`, pyre.Options{})
	reGroup          = pyre.MustCompile(`^((?:\(\?\w+\))?\^?(?:\(\?\w+\))?)(.*?)(\$?)$`, pyre.Options{})
	reGlobalFlags    = pyre.MustCompile(`((?:^|(?!<\\))\(\?[a-z]+\))`, pyre.Options{})
	reLineBoundBeg   = pyre.MustCompile(`^(?:\(\?\w+\))?(?:\^|\((?:\?:)?\^(?!\|))`, pyre.Options{})
	reLineBoundEnd   = pyre.MustCompile(`(?<![\\\|])(?:\$\)?)$`, pyre.Options{})
	reDelBoundsBeg   = pyre.MustCompile(`^\(*(?:\(\?\w+\))?\(*\*\*`, pyre.Options{})
	reDelBoundsEnd   = pyre.MustCompile(`(?<!\\)\*\*\)*$`, pyre.Options{})
	reAlphaPattern   = pyre.MustCompile(`(?<!\%)\%[aAbBpc]`, pyre.Options{})
	reEpochPattern   = pyre.MustCompile(`(?i)(?<!\\)\{L?EPOCH\}`, pyre.Options{})
)

// wordBegin says how a template is bounded at its start.
type wordBegin int

const (
	beginNone  wordBegin = iota // no boundary
	beginWord                   // at a word boundary: (?=^|\b|\W)
	beginStart                  // at the start of the line: ^(?:\W{0,2})?
)

// builtRegex is the expression of a template and its flags.
type builtRegex struct {
	regex string // Python syntax
	name  string
	flags int
}

// setRegex finishes a template's expression as fail2ban's
// DateTemplate.setRegex: it makes sure group 1 holds the date, adds the
// word or line boundaries (unless the expression anchors itself or "**"
// at an end disables them) and computes the template's flags.
func setRegex(regex, name string, begin wordBegin, wordEnd bool) builtRegex {
	regex = strings.TrimSpace(regex)
	var gf string
	if loc := reGlobalFlags.FindStringSubmatchIndex(regex); loc != nil {
		gf = regex[loc[2]:loc[3]]
		regex = regex[:loc[0]] + regex[loc[1]:]
	}
	boundBegin := begin != beginNone && !reNoWordBoundBeg.MatchString(regex)
	boundEnd := wordEnd && !reNoWordBoundEnd.MatchString(regex)
	if !reGrouped.MatchString(regex) {
		if loc := reGroup.FindStringSubmatchIndex(regex); loc != nil {
			regex = regex[loc[2]:loc[3]] + "(" + regex[loc[4]:loc[5]] + ")" + regex[loc[6]:loc[7]]
		}
	}
	flags := 0
	if boundBegin {
		if begin == beginStart {
			flags |= flagLineBegin
			regex = `^(?:\W{0,2})?` + regex
			if !strings.HasPrefix(name, "{^LN-BEG}") {
				name = "{^LN-BEG}" + name
			}
		} else {
			flags |= flagWordBegin
			regex = `(?=^|\b|\W)` + regex
		}
	}
	if boundEnd {
		flags |= flagWordEnd
		regex += `(?=\b|\W|$)`
	}
	if flags&flagLineBegin == 0 && reLineBoundBeg.MatchString(regex) {
		flags |= flagLineBegin
	}
	if flags&flagLineEnd == 0 && reLineBoundEnd.MatchString(regex) {
		flags |= flagLineEnd
	}
	if loc := reDelBoundsBeg.FindStringSubmatchIndex(regex); loc != nil {
		regex = strings.ReplaceAll(regex[:loc[1]], "**", "") + regex[loc[1]:]
	}
	if loc := reDelBoundsEnd.FindStringSubmatchIndex(regex); loc != nil {
		regex = regex[:loc[0]] + strings.ReplaceAll(regex[loc[0]:], "**", "")
	}
	return builtRegex{regex: gf + regex, name: name, flags: flags}
}

// patternRegex builds the expression of a date pattern as fail2ban's
// DatePatternRegex: {UNB} removes the boundaries, {^LN-BEG} anchors it at
// the start of the line, a pattern with %a, %A, %b, %B, %p or %c ignores
// case.
func patternRegex(pattern string, now time.Time) (builtRegex, error) {
	begin, wordEnd := beginWord, true
	p := pattern
	if strings.HasPrefix(p, "{UNB}") {
		p = p[len("{UNB}"):]
		begin, wordEnd = beginNone, false
	}
	if begin != beginNone && strings.HasPrefix(p, "{^LN-BEG}") {
		p = p[len("{^LN-BEG}"):]
		begin = beginStart
	}
	regex, name, err := convertPattern(p, now)
	if err != nil {
		return builtRegex{}, err
	}
	if reAlphaPattern.MatchString(p) {
		regex = `(?iu)` + regex
	}
	return setRegex(regex, name, begin, wordEnd), nil
}

// unboundPattern removes the boundary marks of a pattern, to put it
// inside another ({DATE}).
func unboundPattern(p string) string {
	p = strings.TrimPrefix(p, "{UNB}")
	p = strings.TrimPrefix(p, "{^LN-BEG}")
	for _, pre := range []string{`(?:^|\b|\W)`, `(^|\b|\W)`} {
		p = strings.TrimPrefix(p, pre)
	}
	return strings.TrimSuffix(p, `(?=\b|\W|$)`)
}

var errEmptyPattern = errors.New("empty date pattern")
