package match

import (
	"errors"
	"regexp/syntax"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// This file is a backtracking matcher for the shapes filter expressions
// have in practice (literals, character classes, ".*", "\S+", groups,
// alternations, optional parts). On lines of a hundred bytes it is several
// times faster than Go's regexp package, whose engines pay for their
// linear-time guarantee on every byte. It keeps that guarantee in another
// way: every search has a step budget proportional to the line, and a
// search that runs out of it is redone by the regexp package. Its results
// are those of regexp (leftmost-first, Perl-like preferences, the same
// submatch positions); FuzzFastMatch checks that.
//
// Expressions it does not handle (a repetition of something that can match
// the empty string, and the few syntax operators not listed in build) are
// left to the regexp package.

// errUnsupported reports an expression the fast matcher does not handle.
var errUnsupported = errors.New("expression not supported by the fast matcher")

// Step budget of one search: stepsPerByte per byte of input plus
// stepsBase, at most stepsMax (which also bounds the recursion depth).
const (
	stepsPerByte = 16
	stepsBase    = 1024
	stepsMax     = 1 << 14
)

// program is an expression compiled for the fast matcher.
type program struct {
	start    node
	anchored bool // the expression starts with ^: only position 0 is tried
	ncap     int  // number of submatch slots: 2 * (groups + 1)
}

// machine is the state of one search.
type machine struct {
	s      string
	caps   []int
	steps  int   // left in the budget
	stack  []int // positions saved by runeLoop over non-ASCII text
	failed bool  // the budget ran out
}

// node is one step of a compiled expression; it matches at s[i:] and then
// calls its continuation.
type node interface {
	match(m *machine, i int) bool
}

// compileFast compiles a regular expression (in Go syntax) for the fast
// matcher.
func compileFast(expr string) (*program, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, err
	}
	start, err := build(re, &matchNode{})
	if err != nil {
		return nil, err
	}
	return &program{start: start, anchored: anchoredAtStart(re), ncap: 2 * (re.MaxCap() + 1)}, nil
}

// anchoredAtStart reports whether every match of re starts at position 0.
func anchoredAtStart(re *syntax.Regexp) bool {
	for {
		switch re.Op {
		case syntax.OpBeginText:
			return true
		case syntax.OpConcat:
			if len(re.Sub) == 0 {
				return false
			}
			re = re.Sub[0]
		case syntax.OpCapture:
			re = re.Sub[0]
		default:
			return false
		}
	}
}

// machines recycles search state.
var machines = sync.Pool{New: func() any { return new(machine) }}

// find searches s and fills m.caps (resized to ncap) with the submatch
// positions, -1 for groups that did not take part. ok reports a match; done
// is false if the budget ran out, and then neither ok nor m.caps mean
// anything.
func (p *program) find(m *machine, s string) (ok, done bool) {
	if cap(m.caps) < p.ncap {
		m.caps = make([]int, p.ncap)
	}
	caps := m.caps[:p.ncap]
	m.caps, m.s, m.failed = caps, s, false
	m.steps = min(stepsPerByte*len(s)+stepsBase, stepsMax)
	m.stack = m.stack[:0]
	for pos := 0; pos <= len(s); {
		for k := range caps {
			caps[k] = -1
		}
		caps[0] = pos
		if p.start.match(m, pos) {
			return true, true
		}
		if m.failed {
			return false, false
		}
		if p.anchored || pos == len(s) {
			break
		}
		_, w := decodeRune(s, pos)
		pos += w
	}
	return false, true
}

// step spends one step of the budget and reports whether any is left.
func (m *machine) step() bool {
	m.steps--
	if m.steps < 0 {
		m.failed = true
		return false
	}
	return true
}

// decodeRune decodes the rune at s[i:] as the regexp package does (an
// invalid byte is utf8.RuneError of width 1).
func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// build compiles re into nodes that continue with next.
func build(re *syntax.Regexp, next node) (node, error) {
	switch re.Op {
	case syntax.OpEmptyMatch:
		return next, nil
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return &foldLitNode{runes: re.Rune, next: next}, nil
		}
		return &litNode{lit: string(re.Rune), next: next}, nil
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return &runeNode{set: newRuneSet(re), next: next}, nil
	case syntax.OpBeginText, syntax.OpEndText, syntax.OpBeginLine, syntax.OpEndLine,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return &assertNode{op: re.Op, next: next}, nil
	case syntax.OpCapture:
		end := &capNode{slot: 2*re.Cap + 1, next: next}
		body, err := build(re.Sub[0], end)
		if err != nil {
			return nil, err
		}
		return &capNode{slot: 2 * re.Cap, next: body}, nil
	case syntax.OpConcat:
		n := next
		for k := len(re.Sub) - 1; k >= 0; k-- {
			var err error
			if n, err = build(re.Sub[k], n); err != nil {
				return nil, err
			}
		}
		return n, nil
	case syntax.OpAlternate:
		alt := &altNode{alts: make([]node, len(re.Sub))}
		for k, sub := range re.Sub {
			var err error
			if alt.alts[k], err = build(sub, next); err != nil {
				return nil, err
			}
		}
		return alt, nil
	case syntax.OpQuest:
		body, err := build(re.Sub[0], next)
		if err != nil {
			return nil, err
		}
		return &questNode{body: body, next: next, greedy: re.Flags&syntax.NonGreedy == 0}, nil
	case syntax.OpStar:
		return buildRepeat(re.Sub[0], 0, -1, re.Flags&syntax.NonGreedy == 0, next)
	case syntax.OpPlus:
		return buildRepeat(re.Sub[0], 1, -1, re.Flags&syntax.NonGreedy == 0, next)
	case syntax.OpRepeat:
		return buildRepeat(re.Sub[0], re.Min, re.Max, re.Flags&syntax.NonGreedy == 0, next)
	}
	return nil, errUnsupported
}

// buildRepeat compiles sub{lo,hi} (hi < 0: unbounded) continuing with next,
// with the preferences of syntax.Regexp.Simplify's expansion: lo copies of
// sub, then hi-lo nested optional copies, x{2,4} = xx(x(x)?)?, or a loop.
func buildRepeat(sub *syntax.Regexp, lo, hi int, greedy bool, next node) (node, error) {
	if set, ok := singleRune(sub); ok {
		l := &runeLoop{set: set, min: lo, max: hi, greedy: greedy, next: next}
		if hi < 0 {
			l.hint = literalAfter(next)
		}
		return l, nil
	}
	n := next
	if hi < 0 {
		if matchesEmpty(sub) {
			return nil, errUnsupported
		}
		loop := &loopNode{next: next, greedy: greedy}
		body, err := build(sub, loop)
		if err != nil {
			return nil, err
		}
		loop.body = body
		n = loop
	} else {
		for range hi - lo {
			body, err := build(sub, n)
			if err != nil {
				return nil, err
			}
			n = &questNode{body: body, next: next, greedy: greedy}
		}
	}
	for range lo {
		var err error
		if n, err = build(sub, n); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// singleRune returns the rune set of an expression that matches exactly one
// rune.
func singleRune(re *syntax.Regexp) (*runeSet, bool) {
	switch re.Op {
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return newRuneSet(re), true
	case syntax.OpLiteral:
		if len(re.Rune) == 1 && re.Flags&syntax.FoldCase == 0 {
			r := re.Rune[0]
			return newRuneSet(&syntax.Regexp{Op: syntax.OpCharClass, Rune: []rune{r, r}}), true
		}
	}
	return nil, false
}

// matchesEmpty reports whether re can match the empty string.
func matchesEmpty(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpLiteral:
		return len(re.Rune) == 0
	case syntax.OpCharClass, syntax.OpAnyCharNotNL, syntax.OpAnyChar, syntax.OpNoMatch:
		return false
	case syntax.OpPlus, syntax.OpCapture:
		return matchesEmpty(re.Sub[0])
	case syntax.OpRepeat:
		return re.Min == 0 || matchesEmpty(re.Sub[0])
	case syntax.OpConcat:
		for _, sub := range re.Sub {
			if !matchesEmpty(sub) {
				return false
			}
		}
		return true
	case syntax.OpAlternate:
		for _, sub := range re.Sub {
			if matchesEmpty(sub) {
				return true
			}
		}
		return false
	}
	// Empty-width assertions, empty match, star, quest.
	return true
}

// runeSet is a set of runes: a character class, "." or "(?s:.)".
type runeSet struct {
	ascii  [2]uint64 // bit c set if ASCII c is in the set
	ranges []rune    // all ranges, as syntax.Regexp.Rune holds them
	// anyButNL: the set is every rune but "\n"; any: every rune.
	anyButNL, any bool
}

func newRuneSet(re *syntax.Regexp) *runeSet {
	var ranges []rune
	switch re.Op {
	case syntax.OpAnyChar:
		ranges = []rune{0, unicode.MaxRune}
	case syntax.OpAnyCharNotNL:
		ranges = []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}
	default:
		ranges = re.Rune
	}
	rs := &runeSet{ranges: ranges, any: re.Op == syntax.OpAnyChar, anyButNL: re.Op == syntax.OpAnyCharNotNL}
	for k := 0; k+1 < len(ranges); k += 2 {
		for r := ranges[k]; r <= ranges[k+1] && r < utf8.RuneSelf; r++ {
			rs.ascii[r/64] |= 1 << (r % 64)
		}
	}
	return rs
}

// run returns the end of the longest run of at most max (< 0: any number
// of) runes of the set at s[i:], and whether the run is all ASCII.
func (rs *runeSet) run(s string, i, max int) (end int, ascii bool) {
	j, n := i, 0
	for ; j < len(s) && n != max; j, n = j+1, n+1 {
		c := s[j]
		if c >= utf8.RuneSelf {
			for j < len(s) && n != max {
				r, w := decodeRune(s, j)
				if !rs.contains(r) {
					break
				}
				j, n = j+w, n+1
			}
			return j, false
		}
		if rs.ascii[c>>6]&(1<<(c&63)) == 0 {
			break
		}
	}
	return j, true
}

// contains reports whether r is in the set.
func (rs *runeSet) contains(r rune) bool {
	if r < utf8.RuneSelf {
		return rs.ascii[r/64]&(1<<(r%64)) != 0
	}
	for k := 0; k+1 < len(rs.ranges); k += 2 {
		if r < rs.ranges[k] {
			return false
		}
		if r <= rs.ranges[k+1] {
			return true
		}
	}
	return false
}

// matchNode ends a successful match.
type matchNode struct{}

func (matchNode) match(m *machine, i int) bool {
	m.caps[1] = i
	return true
}

// litNode matches a literal string.
type litNode struct {
	lit  string
	next node
}

func (n *litNode) match(m *machine, i int) bool {
	if !m.step() || !strings.HasPrefix(m.s[i:], n.lit) {
		return false
	}
	return n.next.match(m, i+len(n.lit))
}

// foldLitNode matches a literal string ignoring case (Unicode simple
// folding, as the regexp package does).
type foldLitNode struct {
	runes []rune
	next  node
}

func (n *foldLitNode) match(m *machine, i int) bool {
	if !m.step() {
		return false
	}
	for _, want := range n.runes {
		if i >= len(m.s) {
			return false
		}
		r, w := decodeRune(m.s, i)
		if !equalFold(r, want) {
			return false
		}
		i += w
	}
	return n.next.match(m, i)
}

// equalFold reports whether r and want are equal under simple case folding.
func equalFold(r, want rune) bool {
	if r == want {
		return true
	}
	for f := unicode.SimpleFold(want); f != want; f = unicode.SimpleFold(f) {
		if f == r {
			return true
		}
	}
	return false
}

// runeNode matches one rune of a set.
type runeNode struct {
	set  *runeSet
	next node
}

func (n *runeNode) match(m *machine, i int) bool {
	if !m.step() || i >= len(m.s) {
		return false
	}
	r, w := decodeRune(m.s, i)
	if !n.set.contains(r) {
		return false
	}
	return n.next.match(m, i+w)
}

// literalAfter returns the literal that n must match first (looking
// through submatch boundaries), or "".
func literalAfter(n node) string {
	for {
		switch x := n.(type) {
		case *capNode:
			n = x.next
		case *litNode:
			return x.lit
		default:
			return ""
		}
	}
}

// runeLoop matches a repetition of one rune of a set (".*", "\S+",
// "[0-9]{1,3}", "\d*?"), without recursing per rune.
type runeLoop struct {
	set      *runeSet
	min, max int // max < 0: unbounded
	greedy   bool
	next     node
	// hint is the literal the continuation starts with, if any: only
	// positions where it occurs need to be tried.
	hint string
}

func (n *runeLoop) match(m *machine, i int) bool {
	if !m.step() {
		return false
	}
	s := m.s
	if n.hint != "" && n.hint[0] < utf8.RuneSelf && (n.set.any || n.set.anyButNL) {
		// ".*" and the like, followed by a literal: the run ends at the
		// first newline (or the end), and since an ASCII byte is always
		// a rune boundary the literal can be searched for directly.
		j := len(s)
		if n.set.anyButNL {
			if k := strings.IndexByte(s[i:], '\n'); k >= 0 {
				j = i + k
			}
		}
		lo := i
		if n.min > 0 {
			if i >= j {
				return false
			}
			_, w := decodeRune(s, i)
			lo += w
		}
		return n.matchHint(m, lo, j)
	}
	j, ascii := n.set.run(s, i, n.max)
	if !ascii {
		return n.matchRunes(m, i, j)
	}
	lo := i + n.min // over ASCII a rune is a byte
	if lo > j {
		return false
	}
	if n.hint != "" {
		return n.matchHint(m, lo, j)
	}
	if n.greedy {
		for p := j; p >= lo; p-- {
			if n.next.match(m, p) {
				return true
			}
			if m.failed || !m.step() {
				return false
			}
		}
		return false
	}
	for p := lo; p <= j; p++ {
		if n.next.match(m, p) {
			return true
		}
		if m.failed || !m.step() {
			return false
		}
	}
	return false
}

// matchHint tries the continuation at the positions lo..hi where the hint
// occurs, in the order of preference.
func (n *runeLoop) matchHint(m *machine, lo, hi int) bool {
	s := m.s
	for lo <= hi {
		var p int
		if n.greedy {
			p = strings.LastIndex(s[lo:min(hi+len(n.hint), len(s))], n.hint)
		} else {
			p = strings.Index(s[lo:min(hi+len(n.hint), len(s))], n.hint)
		}
		if p < 0 {
			return false
		}
		p += lo
		if n.next.match(m, p) {
			return true
		}
		if m.failed || !m.step() {
			return false
		}
		if n.greedy {
			hi = p - 1
		} else {
			lo = p + 1
		}
	}
	return false
}

// matchRunes is match for a run s[i:j] that is not all ASCII: rune
// boundaries are irregular, so they are remembered.
func (n *runeLoop) matchRunes(m *machine, i, j int) bool {
	s := m.s
	base := len(m.stack)
	for p := i; p < j; {
		m.stack = append(m.stack, p)
		_, w := decodeRune(s, p)
		p += w
	}
	m.stack = append(m.stack, j)
	defer func() { m.stack = m.stack[:base] }()
	first, last, dir := base+n.min, len(m.stack)-1, 1
	if n.greedy {
		first, last, dir = last, first, -1
	}
	if base+n.min > len(m.stack)-1 {
		return false
	}
	for k := first; ; k += dir {
		if p := m.stack[k]; strings.HasPrefix(s[p:], n.hint) {
			if n.next.match(m, p) {
				return true
			}
			if m.failed || !m.step() {
				return false
			}
		}
		if k == last {
			return false
		}
	}
}

// assertNode matches an empty-width assertion.
type assertNode struct {
	op   syntax.Op
	next node
}

func (n *assertNode) match(m *machine, i int) bool {
	if !m.step() {
		return false
	}
	s := m.s
	var ok bool
	switch n.op {
	case syntax.OpBeginText:
		ok = i == 0
	case syntax.OpEndText:
		ok = i == len(s)
	case syntax.OpBeginLine:
		ok = i == 0 || s[i-1] == '\n'
	case syntax.OpEndLine:
		ok = i == len(s) || s[i] == '\n'
	case syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		before := i > 0 && isWordByte(s[i-1])
		after := i < len(s) && isWordByte(s[i])
		ok = (before != after) == (n.op == syntax.OpWordBoundary)
	}
	return ok && n.next.match(m, i)
}

// isWordByte reports whether c is an ASCII word character, as \b sees it.
func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// capNode records a submatch boundary.
type capNode struct {
	slot int
	next node
}

func (n *capNode) match(m *machine, i int) bool {
	old := m.caps[n.slot]
	m.caps[n.slot] = i
	if n.next.match(m, i) {
		return true
	}
	m.caps[n.slot] = old
	return false
}

// altNode tries alternatives in order.
type altNode struct {
	alts []node
}

func (n *altNode) match(m *machine, i int) bool {
	if !m.step() {
		return false
	}
	for _, a := range n.alts {
		if a.match(m, i) {
			return true
		}
		if m.failed {
			return false
		}
	}
	return false
}

// questNode matches an optional part.
type questNode struct {
	body, next node
	greedy     bool
}

func (n *questNode) match(m *machine, i int) bool {
	if !m.step() {
		return false
	}
	first, second := n.body, n.next
	if !n.greedy {
		first, second = second, first
	}
	return first.match(m, i) || !m.failed && second.match(m, i)
}

// loopNode matches a repetition of a part that cannot match the empty
// string; the part continues with the loop node itself.
type loopNode struct {
	body, next node
	greedy     bool
}

func (n *loopNode) match(m *machine, i int) bool {
	if !m.step() {
		return false
	}
	first, second := n.body, n.next
	if !n.greedy {
		first, second = second, first
	}
	return first.match(m, i) || !m.failed && second.match(m, i)
}
