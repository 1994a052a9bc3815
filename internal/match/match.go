// Package match compiles fail2ban filters (prefregex, failregex,
// ignoreregex, datepattern, maxlines) and applies them to log lines with
// fail2ban's semantics.
//
// A log line is first prepared once (Prepare): its timestamp is found and
// cut out, as fail2ban does, and the rest is offered to the filter of every
// jail that watches the file. Expressions are written in Python's syntax
// with fail2ban's tags (<HOST>, <ADDR>, <IP4>, <IP6>, <DNS>, <CIDR>,
// <SUBNET>, <SKIPLINES>, <F-ID/>, <F-PORT/>, <F-NAME>...</F-NAME>); the
// tags are expanded to expressions of our own that RE2 can run, and package
// pyre compiles the result: Go's regexp where the expression allows it,
// regexp2 with a timeout where it needs lookaround, backreferences or
// conditionals, with a fast backtracking matcher in front of both.
//
// Filter.Match is the stateless single-line path the daemon runs for
// every line. A Matcher adds what fail2ban keeps per jail: the buffer of a
// multi-line filter (maxlines), the failures of <F-MLFID> connections, the
// filter's own date pattern, and the captured fields of every failure.
package match

import (
	"errors"
	"fmt"
	"math/bits"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gaol-project/gaol/internal/litset"
	"github.com/gaol-project/gaol/internal/match/date"
	"github.com/gaol-project/gaol/internal/match/pyre"
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
	// order. Each must capture a failure identifier (<HOST>, <ADDR>,
	// <IP4>, <IP6>, <DNS>, <F-ID> or <F-MLFID>), itself or in PrefRegex.
	FailRegex []string
	// IgnoreRegex are expressions that veto a failure: a line that matches
	// a failregex and one of these is ignored.
	IgnoreRegex []string
	// DatePattern is the filter's datepattern (one pattern per line), ""
	// for fail2ban's default date templates. Matchers use it; Prepare
	// with a shared date.Detector does not.
	DatePattern string
	// MaxLines is the number of lines a failregex may span; 0 or 1 means
	// single lines. Only Matchers buffer lines.
	MaxLines int
	// UseDNS is the jail's usedns setting: "yes", "warn" (the default
	// when empty), "no" (<HOST> matches addresses only) or "raw".
	UseDNS string
	// Category names the kind of attack the filter's failures are, for
	// example "ssh-bruteforce" or "web-probe:git" (gaol's own filters
	// say it with "category =" in [Definition]). A failregex may name its
	// own with a <CAT=name> tag, which is removed before it is compiled.
	Category string
}

// Filter is a compiled filter. It is safe for concurrent use.
type Filter struct {
	spec   Spec
	pref   *expr
	fail   []*expr
	ignore []*expr
	// precheck: the ignoreregexes are tried on the whole line before
	// anything else (fail2ban does so when there are fewer than
	// len(failregex)-2 of them).
	precheck bool
	maxLines int
	useDNS   string
	// slow runs every search on the fallback engines only (for tests
	// that compare the engines).
	slow bool
	// startWith[c] has bit i set if failregex i may match a text that
	// starts with byte c; startAny, if it may match one that starts with
	// any byte, or is empty.
	startWith [256]uint64
	startAny  uint64
	// needs, if not nil, holds literals one of which every match of a
	// failregex or ignoreregex contains: a line that contains none of
	// them matches nothing (most lines of a busy log), and needs no
	// search at all, not even of the prefregex.
	needs *litset.Set
	// names holds the group name of each slot of the groups of a match
	// (groupVals), slotOf the slot of each name.
	names  []string
	slotOf map[string]int
}

// maxFailRegex is the most failregexes a filter may have (fail2ban's
// stock filters have at most 30 or so).
const maxFailRegex = 64

var (
	errEmpty    = errors.New("empty expression")
	errCatPlace = errors.New("a <CAT=...> tag belongs in a failregex")
)

// Compile compiles spec. The error names the expression that failed (for
// example "failregex #2") and shows it.
func Compile(spec Spec) (*Filter, error) {
	f := &Filter{spec: spec, maxLines: max(spec.MaxLines, 1), useDNS: strings.ToLower(strings.TrimSpace(spec.UseDNS))}
	switch f.useDNS {
	case "":
		f.useDNS = "warn"
	case "yes", "warn", "no", "raw":
	case "true", "on", "1":
		f.useDNS = "yes"
	case "false", "off", "0":
		f.useDNS = "no"
	default:
		return nil, fmt.Errorf("filter %s: usedns %q: want yes, warn, no or raw", spec.Name, spec.UseDNS)
	}
	var errs []error
	if spec.Category != "" && !validCategory(spec.Category) {
		errs = append(errs, fmt.Errorf("category %q: %w", spec.Category, errCategory))
	}
	if spec.PrefRegex != "" {
		e, err := compileExpr(spec.PrefRegex, f.useDNS, false)
		if err == nil && catTagRE.MatchString(spec.PrefRegex) {
			err = errCatPlace
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("prefregex %q: %w", spec.PrefRegex, err))
		} else {
			f.pref = e
		}
	}
	if len(spec.FailRegex) == 0 {
		errs = append(errs, errors.New("no failregex"))
	}
	if len(spec.FailRegex) > maxFailRegex {
		errs = append(errs, fmt.Errorf("%d failregexes: at most %d", len(spec.FailRegex), maxFailRegex))
	}
	for i, s := range spec.FailRegex {
		rest, cat, err := splitCategory(s)
		var e *expr
		if err == nil {
			e, err = compileExpr(rest, f.useDNS, f.maxLines > 1)
		}
		if err == nil {
			e.src, e.category = s, cat
			if e.category == "" {
				e.category = spec.Category
			}
		}
		if err == nil && !e.hasFailureID() && (f.pref == nil || !f.pref.hasFailureID()) {
			err = errors.New("no address group: use <HOST>, <ADDR>, <IP4>, <IP6>, <DNS>, <F-ID> or <F-MLFID>")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("failregex #%d %q: %w", i+1, s, err))
			continue
		}
		f.fail = append(f.fail, e)
	}
	for i, s := range spec.IgnoreRegex {
		e, err := compileExpr(s, f.useDNS, false)
		if err == nil && catTagRE.MatchString(s) {
			err = errCatPlace
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("ignoreregex #%d %q: %w", i+1, s, err))
			continue
		}
		f.ignore = append(f.ignore, e)
	}
	if spec.DatePattern != "" {
		if _, err := date.New(date.Options{Pattern: spec.DatePattern}); err != nil {
			errs = append(errs, fmt.Errorf("datepattern: %w", err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		if spec.Name != "" {
			return nil, fmt.Errorf("filter %s: %w", spec.Name, err)
		}
		return nil, err
	}
	f.precheck = len(f.ignore) > 0 && len(f.ignore) < len(f.fail)-2
	f.nameSlots()
	f.needs = needs(append(slices.Clip(f.fail), f.ignore...))
	for i, e := range f.fail {
		set := e.re.StartBytes()
		if set == nil {
			f.startAny |= 1 << i
		}
		for c := range 256 {
			if set == nil || set[c>>6]&(1<<(c&63)) != 0 {
				f.startWith[c] |= 1 << i
			}
		}
	}
	return f, nil
}

// needs returns the set of literals one of which every match of exprs
// contains, or nil if one of them has none worth looking for.
func needs(exprs []*expr) *litset.Set {
	var lits []string
	for _, e := range exprs {
		f := e.re.Factor()
		if f == nil {
			return nil
		}
		for _, l := range f {
			// A content searched after the prefregex ends with a "\n"
			// of its own, which the line may not have there: only the
			// text before a newline is sure to be in the line.
			l, _, _ = strings.Cut(l, "\n")
			if len(l) < 3 {
				// Too short to tell many lines apart.
				return nil
			}
			lits = append(lits, l)
		}
	}
	if len(lits) > maxNeeds {
		return nil
	}
	return litset.New(lits)
}

// maxNeeds bounds the literals needs looks for: with more, most lines
// would hold one anyway.
const maxNeeds = 256

// Name returns the name the filter was compiled with.
func (f *Filter) Name() string { return f.spec.Name }

// DatePattern returns the filter's datepattern ("" for the default date
// templates). Lines for a filter with its own pattern must be prepared
// with a detector for it (a Matcher does that).
func (f *Filter) DatePattern() string { return f.spec.DatePattern }

// UseDNS returns the filter's usedns setting: "yes", "warn", "no" or
// "raw".
func (f *Filter) UseDNS() string { return f.useDNS }

// ResolvesNames reports whether a failure that names a host counts for
// each address of the name (usedns "yes" or "warn").
func (f *Filter) ResolvesNames() bool { return f.useDNS == "yes" || f.useDNS == "warn" }

// MaxLines returns the number of lines a failregex may span.
func (f *Filter) MaxLines() int { return f.maxLines }

// Expr describes one expression of a compiled filter, for tools that show
// how a filter runs.
type Expr struct {
	Kind   string // "prefregex", "failregex" or "ignoreregex"
	Index  int    // position among the expressions of its kind
	Source string // as written, with fail2ban's tags
	// Expanded is Source with the tags expanded (Python's syntax).
	Expanded string
	// Fallback is the expression Engine runs (Go's syntax for RE2, .NET's
	// for regexp2).
	Fallback string
	// Engine runs the expression when the fast matcher gives up or does
	// not handle it: pyre.RE2 or pyre.Backtrack (regexp2).
	Engine pyre.Engine
	// Fast reports whether the fast backtracking matcher runs it first.
	Fast bool
	// Category is the kind of attack a failregex's failures are ("" if
	// the filter does not say).
	Category string
}

// Exprs returns the filter's expressions: prefregex, failregexes,
// ignoreregexes.
func (f *Filter) Exprs() []Expr {
	var out []Expr
	add := func(kind string, i int, e *expr) {
		out = append(out, Expr{Kind: kind, Index: i, Source: e.src, Expanded: e.re.String(), Fallback: e.re.Fallback(), Engine: e.re.Engine(), Fast: e.re.Fast(), Category: e.category})
	}
	if f.pref != nil {
		add("prefregex", 0, f.pref)
	}
	for i, e := range f.fail {
		add("failregex", i, e)
	}
	for i, e := range f.ignore {
		add("ignoreregex", i, e)
	}
	return out
}

// Stateful reports whether the filter needs a Matcher to be applied as
// fail2ban does: it spans several lines (maxlines) or follows connections
// across lines (<F-MLFID>). Match applies such a filter line by line
// without that state.
func (f *Filter) Stateful() bool {
	if f.maxLines > 1 || f.pref != nil && f.pref.mlfid >= 0 {
		return true
	}
	for _, e := range f.fail {
		if e.mlfid >= 0 {
			return true
		}
	}
	return false
}

// RE2 reports whether every expression of the filter, and the templates
// of its date pattern, run on RE2 (none needs regexp2).
func (f *Filter) RE2() bool {
	for _, e := range f.Exprs() {
		if e.Engine != pyre.RE2 {
			return false
		}
	}
	d, err := date.New(date.Options{Pattern: f.spec.DatePattern})
	return err == nil && d.RE2()
}

// Line is a log line prepared for matching.
type Line struct {
	// Raw is the line as read, without its line terminator.
	Raw string
	// Text is Raw with the timestamp cut out (the text before it joined to
	// the text after it) and a trailing "\r" removed: what filters see.
	Text string
	// Time is the instant of the timestamp, if HasTime.
	Time time.Time
	// HasTime reports whether a timestamp was found (or, for a journal
	// entry, given).
	HasTime bool
}

// Prepare finds the timestamp of raw with d (which may be nil: no date
// detection) and cuts it out. A line is prepared once and can then be
// offered to any number of filters that use the same date detection.
func Prepare(raw string, d *date.Detector) Line {
	l := Line{Raw: raw, Text: raw}
	if d != nil {
		var m date.Match
		if d.FindInto(raw, &m) {
			l.Time, l.HasTime = m.Time, m.HasTime
			switch {
			case m.Start == m.End:
			case m.Start == 0:
				l.Text = raw[m.End:]
			case m.End == len(raw):
				l.Text = raw[:m.Start]
			default:
				l.Text = raw[:m.Start] + raw[m.End:]
			}
		}
	}
	l.Text = strings.TrimSuffix(l.Text, "\r")
	return l
}

// Result is the outcome of matching one line with Filter.Match.
type Result struct {
	// Matched reports a failure with an address: a failregex matched, its
	// failure identifier is an IP address (in Addr), and no ignoreregex
	// vetoed it.
	Matched bool
	// Ignored reports that an ignoreregex vetoed the line (Regex is -1 if
	// it did so before any failregex was tried).
	Ignored bool
	// Unresolved reports that a failregex matched but its identifier is
	// not an IP address: a host name (which only usedns "yes" or "warn"
	// would resolve) or another failure ID; Host holds it.
	Unresolved bool
	// Addr is the address of the failure (IPv4-mapped IPv6 addresses are
	// unmapped; masked to Bits if the filter captured a <CIDR>), set when
	// Matched or Ignored.
	Addr netip.Addr
	// Bits is the prefix length a <CIDR> or <SUBNET> gave, 0 if none.
	Bits int
	// Host is the failure identifier as captured: the address, host name
	// or <F-ID> text.
	Host string
	// HostName reports that Host is a host name (<HOST> or <DNS> matched
	// one, rather than an address), which usedns "yes" or "warn" resolves;
	// an <F-ID> that is no address is no host name.
	HostName bool
	// Regex is the index in Spec.FailRegex of the failregex that matched.
	Regex int
	// Category is the kind of attack, as the failregex that matched (or
	// the filter) names it; "" if neither does.
	Category string
}

// machines recycles search state.
var machines = sync.Pool{New: func() any { return pyre.NewMachine() }}

// Match applies the filter to a prepared line with fail2ban's semantics:
// the prefregex (if any) must match, the failregexes are tried in order on
// its content and the first that matches decides; a line that also matches
// an ignoreregex is Ignored rather than Matched. Match keeps no state:
// multi-line filters and <F-MLFID> connection tracking need a Matcher.
func (f *Filter) Match(l Line) Result {
	m := machines.Get().(*pyre.Machine)
	defer machines.Put(m)
	text := l.Text
	if f.needs != nil && !f.needs.In(text) {
		return Result{}
	}
	if f.precheck {
		for _, ig := range f.ignore {
			if f.find(ig, m, text) != nil {
				return Result{Ignored: true, Regex: -1}
			}
		}
	}
	// The groups of the prefregex stay available to the failregexes
	// (an address may be captured there).
	var prefBuf [24]int
	var prefCaps []int
	prefText := text
	if f.pref != nil {
		caps := f.find(f.pref, m, text)
		if caps == nil {
			return Result{}
		}
		prefCaps = append(prefBuf[:0], caps...)
		if c, ok := group(text, prefCaps, f.pref.content); ok && c != "" {
			text = c
		}
	}
	for try := f.candidates(text); try != 0; try &= try - 1 {
		i := bits.TrailingZeros64(try)
		e := f.fail[i]
		caps := f.find(e, m, text)
		if caps == nil {
			continue
		}
		if e.noFail(text, caps) {
			// A helper match (<F-NOFAIL>, <F-MLFGAINED>): no failure.
			return Result{Regex: i}
		}
		r := f.identify(e, text, caps, prefText, prefCaps)
		r.Regex, r.Category = i, e.category
		for _, ig := range f.ignore {
			if f.find(ig, m, text) != nil {
				r.Ignored, r.Matched, r.Unresolved = true, false, false
				return r
			}
		}
		return r
	}
	return Result{}
}

// find searches s with e.
func (f *Filter) find(e *expr, m *pyre.Machine, s string) []int {
	if f.slow {
		return e.re.FindSlow(m, s)
	}
	return e.re.Find(m, s)
}

// identify finds the failure identifier of a match of e (falling back to
// the groups of the prefregex), as fail2ban's findFailure does: ip4, ip6,
// dns, then fid.
func (f *Filter) identify(e *expr, text string, caps []int, prefText string, prefCaps []int) Result {
	get := func(k int, pk func(*expr) int) (string, bool) {
		if v, ok := group(text, caps, k); ok {
			return v, true
		}
		if f.pref != nil {
			return group(prefText, prefCaps, pk(f.pref))
		}
		return "", false
	}
	cidr, hasCIDR := get(e.cidr, func(p *expr) int { return p.cidr })
	if v, ok := get(e.ip4, func(p *expr) int { return p.ip4 }); ok {
		return addrResult(v, cidr, hasCIDR)
	}
	if v, ok := get(e.ip6, func(p *expr) int { return p.ip6 }); ok {
		return addrResult(v, cidr, hasCIDR)
	}
	if v, ok := get(e.dns, func(p *expr) int { return p.dns }); ok {
		// As fail2ban's textToIp: a name that is an address literal is
		// that address; a real name needs DNS.
		if r := addrResult(strings.Trim(v, "[]"), "", false); r.Matched {
			return r
		}
		return Result{Unresolved: true, Host: v, HostName: true}
	}
	if v, ok := get(e.fid, func(p *expr) int { return p.fid }); ok {
		if r := addrResult(v, "", false); r.Matched {
			return r
		}
		return Result{Unresolved: true, Host: v}
	}
	return Result{}
}

// addrResult parses an address capture.
func addrResult(s, cidr string, hasCIDR bool) Result {
	r := Result{Host: s}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		r.Unresolved = true
		return r
	}
	if a.Is4In6() {
		a = a.Unmap()
	}
	if hasCIDR {
		bits := atoi(cidr)
		if bits >= 0 && bits < a.BitLen() {
			if p, err := a.Prefix(bits); err == nil {
				a, r.Bits = p.Addr(), bits
			}
		}
	}
	r.Addr, r.Matched = a, true
	return r
}

// atoi parses a non-negative decimal number (-1 if it is not one).
func atoi(s string) int {
	if s == "" || len(s) > 9 {
		return -1
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}
