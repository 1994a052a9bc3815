// Package match compiles fail2ban filters (prefregex, failregex,
// ignoreregex) and applies them to log lines.
//
// A log line is first prepared once (Prepare): its timestamp is found and
// cut out, as fail2ban does, and the rest is offered to the filter of every
// jail that watches the file. Expressions are Go regular expressions (RE2,
// linear time); fail2ban's tags (<HOST>, <ADDR>, <IP4>, <IP6>, <DNS>,
// <F-NAME>...</F-NAME>) are expanded to RE2-safe patterns first.
//
// Matching is made cheap in two ways: each expression carries a literal
// that every match contains (found with regexp/syntax), so most lines are
// rejected by strings.Contains alone; and the expressions are run by a
// backtracking matcher with a step budget (fastre.go) that gives the same
// results as the regexp package several times faster, falling back to the
// regexp package when the budget runs out.
package match

import (
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/gaol-project/gaol/internal/match/date"
)

// Spec is the text of a filter, as a configuration defines it.
type Spec struct {
	// Name names the filter in errors.
	Name string
	// PrefRegex, if not empty, must match a line before any failregex is
	// tried; if it has an <F-CONTENT> group, the failregexes are matched
	// against that group's text only.
	PrefRegex string
	// FailRegex are the expressions that recognize a failure, tried in
	// order. Each must capture an address (<HOST>, <ADDR>, <IP4>, <IP6>
	// or <DNS>).
	FailRegex []string
	// IgnoreRegex are expressions that veto a failure: a line that matches
	// a failregex and one of these is ignored.
	IgnoreRegex []string
}

// Filter is a compiled filter. It is safe for concurrent use.
type Filter struct {
	name    string
	pref    *expr
	content int // index of the content group of pref, or -1
	fail    []*expr
	ignore  []*expr
}

// expr is one compiled expression.
type expr struct {
	re *regexp.Regexp
	// fast is the expression compiled for the fast matcher, nil if it
	// does not handle it.
	fast *program
	// lit is a literal every match contains; "" if none.
	lit string
	// addrs are the indexes of the capture groups that hold an address,
	// in the order of the expression.
	addrs []int
}

// mayMatch reports whether s can match at all, by the cheap literal test.
func (e *expr) mayMatch(s string) bool {
	return e.lit == "" || strings.Contains(s, e.lit)
}

// find returns the submatch positions of the leftmost match in s, as
// regexp.FindStringSubmatchIndex does, or nil. The slice may belong to m and
// is valid until m's next use.
func (e *expr) find(m *machine, s string) []int {
	if !e.mayMatch(s) {
		return nil
	}
	if e.fast != nil {
		if ok, done := e.fast.find(m, s); done {
			if ok {
				return m.caps
			}
			return nil
		}
	}
	return e.re.FindStringSubmatchIndex(s)
}

// Compile compiles spec. The error names the expression that failed (for
// example "failregex #2") and shows it.
func Compile(spec Spec) (*Filter, error) {
	f := &Filter{name: spec.Name, content: -1}
	var errs []error
	if spec.PrefRegex != "" {
		e, err := compile(spec.PrefRegex)
		if err != nil {
			errs = append(errs, fmt.Errorf("prefregex %q: %w", spec.PrefRegex, err))
		} else {
			f.pref = e
			f.content = e.re.SubexpIndex(contentGroup)
		}
	}
	if len(spec.FailRegex) == 0 {
		errs = append(errs, errors.New("no failregex"))
	}
	for i, s := range spec.FailRegex {
		e, err := compile(s)
		if err == nil && len(e.addrs) == 0 {
			err = errors.New("no address group: use <HOST>, <ADDR>, <IP4>, <IP6> or <DNS>")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("failregex #%d %q: %w", i+1, s, err))
			continue
		}
		f.fail = append(f.fail, e)
	}
	for i, s := range spec.IgnoreRegex {
		e, err := compile(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("ignoreregex #%d %q: %w", i+1, s, err))
			continue
		}
		f.ignore = append(f.ignore, e)
	}
	if err := errors.Join(errs...); err != nil {
		if spec.Name != "" {
			return nil, fmt.Errorf("filter %s: %w", spec.Name, err)
		}
		return nil, err
	}
	return f, nil
}

// compile expands the tags of a filter expression and compiles it.
func compile(s string) (*expr, error) {
	src := expandTags(s)
	re, err := regexp.Compile(src)
	if err != nil {
		return nil, err
	}
	e := &expr{re: re, lit: requiredLiteral(src)}
	if p, err := compileFast(src); err == nil {
		e.fast = p
	}
	for i, name := range re.SubexpNames() {
		if addrGroups[name] {
			e.addrs = append(e.addrs, i)
		}
	}
	return e, nil
}

// Name returns the name the filter was compiled with.
func (f *Filter) Name() string { return f.name }

// Line is a log line prepared for matching.
type Line struct {
	// Raw is the line as read, without its line terminator.
	Raw string
	// Text is Raw with the timestamp cut out (the text before it joined to
	// the text after it) and a trailing "\r" removed: what filters see.
	Text string
	// Time is the instant of the timestamp, if HasTime.
	Time time.Time
	// HasTime reports whether a timestamp was found.
	HasTime bool
}

// Prepare finds the timestamp of raw with d (which may be nil: no date
// detection) and cuts it out. A line is prepared once and can then be
// offered to any number of filters.
func Prepare(raw string, d *date.Detector) Line {
	l := Line{Raw: raw, Text: raw}
	if d != nil {
		if m, ok := d.Find(raw); ok {
			l.Time, l.HasTime = m.Time, true
			if m.Start == 0 {
				l.Text = raw[m.End:]
			} else {
				l.Text = raw[:m.Start] + raw[m.End:]
			}
		}
	}
	l.Text = strings.TrimSuffix(l.Text, "\r")
	return l
}

// Result is the outcome of matching one line.
type Result struct {
	// Matched reports a failure: a failregex matched, with a valid
	// address, and no ignoreregex did.
	Matched bool
	// Ignored reports that a failregex matched but an ignoreregex vetoed
	// it.
	Ignored bool
	// Addr is the address of the failure (IPv4-mapped IPv6 addresses are
	// unmapped), set when Matched or Ignored.
	Addr netip.Addr
	// Regex is the index in Spec.FailRegex of the failregex that matched,
	// set when Matched or Ignored.
	Regex int
}

// Match applies the filter to a prepared line, with fail2ban's semantics:
// the prefregex (if any) must match, the failregexes are tried in order on
// its content and the first that matches decides; if its address capture is
// not a valid address the line does not match; a line that also matches an
// ignoreregex is Ignored rather than Matched.
func (f *Filter) Match(l Line) Result {
	m := machines.Get().(*machine)
	defer machines.Put(m)
	text := l.Text
	if f.pref != nil {
		caps := f.pref.find(m, text)
		if caps == nil {
			return Result{}
		}
		if c := f.content; c > 0 && caps[2*c] >= 0 {
			text = text[caps[2*c]:caps[2*c+1]]
		}
	}
	for i, e := range f.fail {
		caps := e.find(m, text)
		if caps == nil {
			continue
		}
		addr, ok := address(text, caps, e.addrs)
		if !ok {
			return Result{}
		}
		r := Result{Addr: addr, Regex: i}
		for _, ig := range f.ignore {
			if ig.find(m, l.Text) != nil {
				r.Ignored = true
				return r
			}
		}
		r.Matched = true
		return r
	}
	return Result{}
}

// address returns the first address group of a match that took part in it,
// parsed.
func address(text string, m []int, groups []int) (netip.Addr, bool) {
	for _, g := range groups {
		if m[2*g] < 0 {
			continue
		}
		a, err := netip.ParseAddr(text[m[2*g]:m[2*g+1]])
		if err != nil || a.Zone() != "" {
			return netip.Addr{}, false
		}
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}
