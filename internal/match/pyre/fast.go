package pyre

import (
	"errors"
	"math"
	"slices"
	"unicode"
	"unicode/utf8"
)

// This file is a backtracking matcher for the shapes filter expressions
// have in practice (literals, character classes, ".*", "\S+", groups,
// alternations, optional parts, lookaround, backreferences, conditional
// groups). On lines of a hundred bytes it is several times faster than Go's
// regexp package, whose engines pay for their linear-time guarantee on every
// byte. It keeps a time guarantee in another way: every search has a step
// budget proportional to the line, and a search that runs out of it is
// redone by the fallback engine. Its results are those of Python's re
// (leftmost-first, backtracking preferences, the same group positions);
// FuzzFast checks that against the regexp package.
//
// Expressions it does not handle (a repetition of something that can match
// the empty string) are left to the fallback engine.

// errUnsupported reports an expression the fast matcher does not handle.
var errUnsupported = errors.New("expression not supported by the fast matcher")

// Step budget of one search: stepsPerByte per byte of input plus
// stepsBase, at most stepsMax (which also bounds the backtracking stack).
const (
	stepsPerByte = 16
	stepsBase    = 1024
	stepsMax     = 1 << 14
)

// program is an expression compiled for the fast matcher.
type program struct {
	insts    []inst
	startPC  int32 // the instruction a match starts with
	anchored bool  // the expression starts with \A: only position 0 is tried
	ncap     int   // number of group slots: 2 * (groups + 1)
	// first, if not nil, holds the bytes a match can start with (bit c of
	// first[c/64]); other positions are not tried.
	first *[4]uint64
}

// Machine is the state of searches; it is reused to avoid allocations and
// must not be used by two searches at once.
type Machine struct {
	s      string
	caps   []int
	steps  int     // left in the budget
	bt     []frame // the backtracking stack
	stack  []int   // positions saved by loops over non-ASCII text
	saved  []int   // group slots saved by lookaround and atomic groups
	failed bool    // the budget ran out
	// runeIdx maps rune indexes to byte offsets for the regexp2 engine.
	runeIdx []int
	out     []int
}

// node is a part of a compiled expression with what follows it (its
// continuation): build makes a graph of them, which lower turns into the
// instructions that run.
type node interface {
	inst(l *lowerer) inst
}

// compileFast compiles a syntax tree for the fast matcher.
func compileFast(t *Tree) (*program, error) {
	markCondGroups(t.Root)
	start, err := build(t.Root, matchNode{})
	if err != nil {
		return nil, err
	}
	p := &program{ncap: 2 * len(t.Names), anchored: anchoredAtStart(t.Root)}
	p.insts, p.startPC = lower(start)
	if in := &p.insts[p.startPC]; p.anchored && in.op == opAssert && in.assert == OpBeginText && in.preCap == 0 {
		// Only position 0 is tried, where \A holds: start after it.
		p.startPC = in.next
	}
	if set, nullable := firstBytes(t.Root); !nullable {
		p.first = set
	}
	return p, nil
}

// anchoredAtStart reports whether every match of n starts at position 0.
func anchoredAtStart(n *Node) bool {
	for {
		switch n.Op {
		case OpBeginText:
			return true
		case OpConcat:
			if len(n.Sub) == 0 {
				return false
			}
			n = n.Sub[0]
		case OpCapture, OpAtomic:
			n = n.Sub[0]
		default:
			return false
		}
	}
}

// find searches s and fills m.caps (resized to ncap) with the group
// positions, -1 for groups that did not take part. ok reports a match; done
// is false if the budget ran out, and then neither ok nor m.caps mean
// anything.
func (p *program) find(m *Machine, s string) (ok, done bool) {
	return p.findFrom(m, s, 0)
}

// findFrom is find with the match starting at from or later (the text
// before from is still seen by lookbehind and \b).
func (p *program) findFrom(m *Machine, s string, from int) (ok, done bool) {
	if len(s) > math.MaxInt32 {
		return false, false // positions are kept in 32 bits
	}
	if cap(m.caps) < p.ncap {
		m.caps = make([]int, p.ncap)
	}
	caps := m.caps[:p.ncap]
	m.caps, m.s, m.failed = caps, s, false
	m.steps = min(stepsPerByte*len(s)+stepsBase, stepsMax)
	m.stack, m.saved, m.bt = m.stack[:0], m.saved[:0], m.bt[:0]
	if p.anchored && (from > 0 || p.first != nil && (len(s) == 0 || p.first[s[0]>>6]&(1<<(s[0]&63)) == 0)) {
		return false, true
	}
	for pos := from; pos <= len(s); {
		if p.first != nil && !p.anchored {
			// Skip to a byte a match can start with.
			for pos < len(s) && p.first[s[pos]>>6]&(1<<(s[pos]&63)) == 0 {
				pos++
			}
			if pos == len(s) {
				break
			}
		}
		for k := range caps {
			caps[k] = -1
		}
		caps[0] = pos
		if _, ok := m.run(p.insts, p.startPC, pos, -1); ok {
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

// save pushes a copy of the group slots and returns its position.
func (m *Machine) save() int {
	at := len(m.saved)
	m.saved = append(m.saved, m.caps...)
	return at
}

// restore sets the group slots back to the copy at at and drops it.
func (m *Machine) restore(at int) {
	copy(m.caps, m.saved[at:at+len(m.caps)])
	m.saved = m.saved[:at]
}

// decodeRune decodes the rune at s[i:] as the regexp package does (an
// invalid byte is utf8.RuneError of width 1).
func decodeRune(s string, i int) (rune, int) {
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// build compiles n into nodes that continue with next.
func build(n *Node, next node) (node, error) {
	switch n.Op {
	case OpEmpty:
		return next, nil
	case OpLiteral:
		if n.Fold || slices.Contains(n.Runes, utf8.RuneError) {
			// Rune by rune: an invalid byte of the text reads as
			// RuneError, as in Go's regexp.
			return &foldLitNode{runes: n.Runes, fold: n.Fold, next: next}, nil
		}
		return &litNode{lit: string(n.Runes), next: next}, nil
	case OpClass, OpAnyNotNL, OpAny:
		return &runeNode{set: newRuneSet(n), next: next}, nil
	case OpBeginText, OpBeginLine, OpEndText, OpEndTextNL, OpEndLine, OpWordBoundary, OpNoWordBoundary:
		return &assertNode{op: n.Op, ascii: n.ASCII, next: next}, nil
	case OpCapture:
		end := &capNode{slot: 2*n.Cap + 1, next: next}
		body, err := build(n.Sub[0], end)
		if err != nil {
			return nil, err
		}
		if k := nativeFor(n.Sub[0]); k != nativeNone {
			body = &nativeNode{kind: k, body: body, next: end}
		}
		if n.after != nil {
			return &capNode{slot: 2 * n.Cap, next: &needNode{lits: n.after, next: body}}, nil
		}
		return &capNode{slot: 2 * n.Cap, next: body}, nil
	case OpConcat:
		x := next
		for k := len(n.Sub) - 1; k >= 0; k-- {
			var err error
			if x, err = build(n.Sub[k], x); err != nil {
				return nil, err
			}
		}
		return x, nil
	case OpAlternate:
		alt := &altNode{alts: make([]node, len(n.Sub)), first: make([]*[4]uint64, len(n.Sub))}
		for k, sub := range n.Sub {
			var err error
			if alt.alts[k], err = build(sub, next); err != nil {
				return nil, err
			}
			if set, nullable := firstBytes(sub); !nullable {
				alt.first[k] = set
			}
		}
		return alt, nil
	case OpRepeat:
		if n.Min == 0 && n.Max == 1 {
			body, err := build(n.Sub[0], next)
			if err != nil {
				return nil, err
			}
			q := &questNode{body: body, next: next, greedy: n.Greedy}
			if set, nullable := firstBytes(n.Sub[0]); !nullable {
				q.first = set
			}
			return q, nil
		}
		return buildRepeat(n.Sub[0], n.Min, n.Max, n.Greedy, next)
	case OpLook:
		if !n.Behind {
			if alts, ok := simpleLook(n.Sub[0]); ok {
				return &lookPredNode{alts: alts, negate: n.Negate, next: next}, nil
			}
		}
		if n.Width > math.MaxInt16 {
			return nil, errUnsupported // wider than an instruction holds
		}
		body, err := build(n.Sub[0], acceptNode{behind: n.Behind})
		if err != nil {
			return nil, err
		}
		return &lookNode{body: body, behind: n.Behind, negate: n.Negate, width: n.Width, next: next, caps: hasCapture(n.Sub[0])}, nil
	case OpBackref:
		return &backrefNode{slot: 2 * n.Cap, fold: n.Fold, next: next}, nil
	case OpCond:
		yes, err := build(n.Sub[0], next)
		if err != nil {
			return nil, err
		}
		no, err := build(n.Sub[1], next)
		if err != nil {
			return nil, err
		}
		return &condNode{slot: 2*n.Cap + 1, yes: yes, no: no}, nil
	case OpAtomic:
		body, err := build(n.Sub[0], atomicEnd{})
		if err != nil {
			return nil, err
		}
		return &atomicNode{body: body, next: next}, nil
	}
	return nil, errUnsupported
}

// buildRepeat compiles sub{lo,hi} (hi < 0: unbounded) continuing with next,
// with the preferences of a backtracking engine: lo copies of sub, then
// hi-lo nested optional copies, x{2,4} = xx(x(x)?)?, or a loop.
func buildRepeat(sub *Node, lo, hi int, greedy bool, next node) (node, error) {
	set, ok := singleRune(sub)
	stop := ""
	if !ok {
		set, stop, ok = temperedRune(sub)
	}
	if ok && lo <= math.MaxInt16 && hi <= math.MaxInt16 {
		l := &runeLoop{set: set, stop: stop, min: lo, max: hi, greedy: greedy, next: next}
		if hi < 0 {
			l.hint = literalAfter(next)
		}
		if f := firstOf(next); f != nil {
			// Only the ASCII part counts: the shortcut is taken on runs
			// of ASCII only.
			l.possessive = f[0]&set.ascii[0] == 0 && f[1]&set.ascii[1] == 0
		}
		return l, nil
	}
	if lo > 100 || hi > 100 {
		return nil, errUnsupported
	}
	x := next
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
		x = loop
	} else {
		if hi > lo && matchesEmpty(sub) {
			// Python stops repeating a part that matched empty; the
			// nested form does not.
			return nil, errUnsupported
		}
		for range hi - lo {
			body, err := build(sub, x)
			if err != nil {
				return nil, err
			}
			x = &questNode{body: body, next: next, greedy: greedy}
		}
	}
	for range lo {
		var err error
		if x, err = build(sub, x); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// singleRune returns the rune set of an expression that matches exactly one
// rune.
func singleRune(n *Node) (*runeSet, bool) {
	switch n.Op {
	case OpClass, OpAnyNotNL, OpAny:
		return newRuneSet(n), true
	case OpLiteral:
		if len(n.Runes) == 1 && !n.Fold {
			r := n.Runes[0]
			return newRuneSet(&Node{Op: OpClass, Ranges: []rune{r, r}}), true
		}
	}
	return nil, false
}

// temperedRune recognizes a single character that must not start a
// literal, (?!lit)x, as fail2ban's "(?:(?! from ).)*?" has it: a run of
// them is a run of x that ends where lit first occurs.
func temperedRune(n *Node) (*runeSet, string, bool) {
	if n.Op != OpConcat || len(n.Sub) != 2 {
		return nil, "", false
	}
	look, x := n.Sub[0], n.Sub[1]
	if look.Op != OpLook || look.Behind || !look.Negate || !plainLiteral(look.Sub[0]) || len(look.Sub[0].Runes) == 0 {
		return nil, "", false
	}
	set, ok := singleRune(x)
	return set, string(look.Sub[0].Runes), ok
}

// matchesEmpty reports whether n can match the empty string.
func matchesEmpty(n *Node) bool {
	switch n.Op {
	case OpLiteral:
		return len(n.Runes) == 0
	case OpClass, OpAnyNotNL, OpAny:
		return false
	case OpCapture, OpAtomic:
		return matchesEmpty(n.Sub[0])
	case OpRepeat:
		return n.Min == 0 || matchesEmpty(n.Sub[0])
	case OpConcat:
		for _, sub := range n.Sub {
			if !matchesEmpty(sub) {
				return false
			}
		}
		return true
	case OpAlternate, OpCond:
		for _, sub := range n.Sub {
			if matchesEmpty(sub) {
				return true
			}
		}
		return false
	}
	// Assertions, lookaround, empty, backreferences.
	return true
}

// firstBytes returns the set of bytes a match of n can start with, and
// whether n can match the empty string (then the set means nothing).
func firstBytes(n *Node) (*[4]uint64, bool) {
	set := new([4]uint64)
	nullable := addFirst(set, n)
	return set, nullable
}

// addFirst adds the first bytes of n to set and reports whether n can
// match the empty string.
func addFirst(set *[4]uint64, n *Node) bool {
	add := func(c byte) { set[c>>6] |= 1 << (c & 63) }
	addRune := func(r rune) {
		var buf [utf8.UTFMax]byte
		utf8.EncodeRune(buf[:], r)
		add(buf[0])
	}
	addRanges := func(ranges []rune) {
		for i := 0; i+1 < len(ranges); i += 2 {
			lo, hi := ranges[i], ranges[i+1]
			for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
				add(byte(r))
			}
			if hi >= utf8.RuneSelf {
				// Any lead byte of a multi-byte sequence, and the byte
				// of an invalid sequence (RuneError).
				set[2], set[3] = ^uint64(0), ^uint64(0)
			}
		}
	}
	switch n.Op {
	case OpLiteral:
		if len(n.Runes) == 0 {
			return true
		}
		r := n.Runes[0]
		addRune(r)
		if n.Fold {
			for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
				addRune(f)
			}
		}
		if r == utf8.RuneError {
			addRanges([]rune{0x80, 0x80})
		}
		return false
	case OpClass:
		addRanges(n.Ranges)
		return false
	case OpAnyNotNL, OpAny:
		addRanges([]rune{0, unicode.MaxRune})
		return false
	case OpCapture, OpAtomic:
		return addFirst(set, n.Sub[0])
	case OpConcat:
		for _, sub := range n.Sub {
			if !addFirst(set, sub) {
				return false
			}
		}
		return true
	case OpAlternate, OpCond:
		nullable := false
		for _, sub := range n.Sub {
			if addFirst(set, sub) {
				nullable = true
			}
		}
		return nullable
	case OpRepeat:
		return addFirst(set, n.Sub[0]) || n.Min == 0
	case OpBackref:
		return true
	}
	// Assertions and lookaround take no byte.
	return true
}

// runeSet is a set of runes: a character class, "." or "(?s:.)".
type runeSet struct {
	ascii [2]uint64 // bit c set if ASCII c is in the set
	// bytes holds the bytes a rune of the set can start with: its ASCII
	// runes, and every byte from 0x80 if it has others.
	bytes  [4]uint64
	ranges []rune // all ranges, as Node.Ranges holds them
	// anyButNL: the set is every rune but "\n"; any: every rune.
	anyButNL, any bool
}

func newRuneSet(n *Node) *runeSet {
	var ranges []rune
	switch n.Op {
	case OpAny:
		ranges = []rune{0, unicode.MaxRune}
	case OpAnyNotNL:
		ranges = []rune{0, '\n' - 1, '\n' + 1, unicode.MaxRune}
	default:
		ranges = n.Ranges
	}
	rs := &runeSet{ranges: ranges, any: n.Op == OpAny, anyButNL: n.Op == OpAnyNotNL}
	for k := 0; k+1 < len(ranges); k += 2 {
		for r := ranges[k]; r <= ranges[k+1] && r < utf8.RuneSelf; r++ {
			rs.ascii[r/64] |= 1 << (r % 64)
		}
		if ranges[k+1] >= utf8.RuneSelf {
			rs.bytes[2], rs.bytes[3] = ^uint64(0), ^uint64(0)
		}
	}
	rs.bytes[0], rs.bytes[1] = rs.ascii[0], rs.ascii[1]
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
	lo, hi := 0, len(rs.ranges)/2
	for lo < hi {
		mid := (lo + hi) / 2
		switch {
		case r < rs.ranges[2*mid]:
			hi = mid
		case r > rs.ranges[2*mid+1]:
			lo = mid + 1
		default:
			return true
		}
	}
	return false
}

// matchNode ends a successful match.
type matchNode struct{}

// litNode matches a literal string.
type litNode struct {
	lit  string
	next node
}

// foldLitNode matches a literal string rune by rune, ignoring case
// (Unicode simple folding) if fold.
type foldLitNode struct {
	runes []rune
	fold  bool
	next  node
}

// equalFold reports whether r and want are equal under simple case folding.
func equalFold(r, want rune) bool {
	if r == want {
		return true
	}
	if r < utf8.RuneSelf && want < utf8.RuneSelf && want != 'k' && want != 'K' && want != 's' && want != 'S' {
		// ASCII letters fold to each other only (k and s also fold to
		// the Kelvin sign and the long s).
		lr, lw := r|0x20, want|0x20
		return lr == lw && lw >= 'a' && lw <= 'z'
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

// literalAfter returns the literal that n must match first (looking
// through group boundaries), or "".
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

// firstOf returns the bytes a match of the continuation n can start with
// at a position before the end of the text, or nil if it may start with
// any (or take no text there, or it would take long to tell).
func firstOf(n node) *[4]uint64 {
	w := firstWalk{budget: 1000}
	return w.first(n)
}

// firstWalk is the state of firstOf: the loops it is in, and how many more
// nodes it may look at (a continuation with optional parts is looked at
// once per way into it).
type firstWalk struct {
	seen   map[node]bool
	budget int
}

func (w *firstWalk) first(n node) *[4]uint64 {
	if w.seen[n] {
		return new([4]uint64) // adds nothing to what the loop adds
	}
	if w.budget--; w.budget < 0 {
		return nil
	}
	union := func(ns ...node) *[4]uint64 {
		out := new([4]uint64)
		for _, x := range ns {
			f := w.first(x)
			if f == nil {
				return nil
			}
			for k := range out {
				out[k] |= f[k]
			}
		}
		return out
	}
	one := func(c byte) *[4]uint64 {
		out := new([4]uint64)
		out[c>>6] |= 1 << (c & 63)
		return out
	}
	switch x := n.(type) {
	case *litNode:
		if x.lit == "" {
			return w.first(x.next)
		}
		return one(x.lit[0])
	case *runeNode:
		return &x.set.bytes
	case *runeLoop:
		if x.min >= 1 {
			return &x.set.bytes
		}
		f := w.first(x.next)
		if f == nil {
			return nil
		}
		out := *f
		for k := range out {
			out[k] |= x.set.bytes[k]
		}
		return &out
	case *capNode:
		return w.first(x.next)
	case *nativeNode:
		return w.first(x.body)
	case *needNode:
		return w.first(x.next)
	case *questNode:
		return union(x.body, x.next)
	case *altNode:
		return union(x.alts...)
	case *condNode:
		return union(x.yes, x.no)
	case *loopNode:
		if x.body == nil {
			return nil // being built
		}
		if w.seen == nil {
			w.seen = map[node]bool{}
		}
		w.seen[x] = true
		defer delete(w.seen, x)
		return union(x.body, x.next)
	case *assertNode:
		switch x.op {
		case OpEndTextNL, OpEndLine:
			return one('\n')
		case OpEndText:
			return new([4]uint64)
		case OpWordBoundary, OpNoWordBoundary:
			return w.first(x.next)
		}
	}
	return nil
}

// runeLoop matches a repetition of one rune of a set (".*", "\S+",
// "[0-9]{1,3}", "\d*?"), trying the ends of its run without a frame per rune.
type runeLoop struct {
	set *runeSet
	// stop, if not empty, is a literal the run must not reach: each rune
	// is taken only where stop does not start ((?!stop)x).
	stop     string
	min, max int // max < 0: unbounded
	greedy   bool
	next     node
	// hint is the literal the continuation starts with, if any: only
	// positions where it occurs need to be tried.
	hint string
	// possessive: the continuation cannot start with an ASCII rune of the
	// set, so a run of ASCII runes can only end where the set's runes do
	// (where the longest run ends, at most max): no other end need be
	// tried ("\d+\]", "\S+\s", "[0-9a-f]{1,4}:").
	possessive bool
}

// assertNode matches an empty-width assertion.
type assertNode struct {
	op    Op
	ascii bool // \b, \B: ASCII word characters only
	next  node
}

// isBoundary reports whether \b holds at s[i]: between a word character
// (\w: a letter, a number or "_", as Python's str patterns have it; with
// ascii, an ASCII one) and another character or an end. (The RE2
// fallback's \b knows ASCII word characters only.)
func isBoundary(s string, i int, ascii bool) bool {
	before := false
	if i > 0 {
		if c := s[i-1]; c < utf8.RuneSelf || ascii {
			before = isWordByte(c)
		} else {
			r, _ := utf8.DecodeLastRuneInString(s[:i])
			before = isWordRune(r)
		}
	}
	after := false
	if i < len(s) {
		if c := s[i]; c < utf8.RuneSelf || ascii {
			after = isWordByte(c)
		} else {
			r, _ := decodeRune(s, i)
			after = isWordRune(r)
		}
	}
	return before != after
}

// isWordByte reports whether c is an ASCII word character.
func isWordByte(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
}

// isWordRune reports whether r is a word character (in \w).
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return isWordByte(byte(r))
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}

// capNode records a group boundary.
type capNode struct {
	slot int
	next node
}

// needNode fails at once unless the literals follow, in order: what a
// match through it needs (see markCondGroups).
type needNode struct {
	lits []string
	next node
}

// altNode tries alternatives in order.
type altNode struct {
	alts []node
	// first holds the bytes each alternative can start with (nil if it
	// can match empty): the others need not be tried.
	first []*[4]uint64
}

// questNode matches an optional part.
type questNode struct {
	body, next node
	greedy     bool
	// first holds the bytes the part can start with (nil if it can match
	// empty): at any other byte only next is tried.
	first *[4]uint64
}

// loopNode matches a repetition of a part that cannot match the empty
// string; the part continues with the loop node itself.
type loopNode struct {
	body, next node
	greedy     bool
}

// acceptNode ends the body of a lookaround: a lookahead body succeeds
// wherever it ends, a lookbehind body only where the lookbehind started.
type acceptNode struct{ behind bool }

// lookNode matches a lookaround: its body is matched without consuming
// text, once (no backtracking into it), and its groups are kept if it is
// positive.
type lookNode struct {
	body   node
	behind bool
	negate bool
	width  int  // lookbehind: width of the body in runes
	caps   bool // the body has groups, which must be saved and restored
	next   node
}

// hasCapture reports whether n has a capturing group.
func hasCapture(n *Node) bool {
	found := false
	walk(n, func(x *Node) bool {
		found = found || x.Op == OpCapture
		return !found
	})
	return found
}

// simpleLook returns the branches of a lookahead body that is an
// alternation of zero-width assertions, single characters and literals (as
// fail2ban's (?=^|\b|\W) and (?! from )), which can be checked without
// backtracking.
func simpleLook(n *Node) ([]*Node, bool) {
	alts := []*Node{n}
	if n.Op == OpAlternate {
		alts = n.Sub
	}
	for _, a := range alts {
		switch a.Op {
		case OpBeginText, OpBeginLine, OpEndText, OpEndTextNL, OpEndLine, OpWordBoundary, OpNoWordBoundary, OpClass, OpAny, OpAnyNotNL:
		case OpLiteral:
			if len(a.Runes) == 0 {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return alts, true
}

// lookPredNode is a lookahead made of assertions, single characters and
// literals.
type lookPredNode struct {
	alts   []*Node
	negate bool
	next   node
}

// lookPred reports whether one of alts holds at s[i].
func lookPred(s string, i int, alts []*Node) bool {
	for _, a := range alts {
		switch a.Op {
		case OpBeginText:
			if i == 0 {
				return true
			}
		case OpBeginLine:
			if i == 0 || s[i-1] == '\n' {
				return true
			}
		case OpEndText:
			if i == len(s) {
				return true
			}
		case OpEndTextNL:
			if i == len(s) || i == len(s)-1 && s[i] == '\n' {
				return true
			}
		case OpEndLine:
			if i == len(s) || s[i] == '\n' {
				return true
			}
		case OpWordBoundary:
			if isBoundary(s, i, a.ASCII) {
				return true
			}
		case OpNoWordBoundary:
			if !isBoundary(s, i, a.ASCII) {
				return true
			}
		case OpLiteral:
			if _, ok := literalAt(s, i, a.Runes, a.Fold); ok {
				return true
			}
		default:
			if i < len(s) {
				r, _ := decodeRune(s, i)
				if a.Op == OpAny || a.Op == OpAnyNotNL && r != '\n' ||
					a.Op == OpClass && inRanges(a.Ranges, r) {
					return true
				}
			}
		}
	}
	return false
}

// literalAt reports whether runes match at s[i:], rune by rune (an invalid
// byte of s reads as utf8.RuneError, as in Go's regexp), ignoring case if
// fold, and returns where they end.
func literalAt(s string, i int, runes []rune, fold bool) (int, bool) {
	for _, want := range runes {
		if i >= len(s) {
			return 0, false
		}
		r, w := decodeRune(s, i)
		if r != want && (!fold || !equalFold(r, want)) {
			return 0, false
		}
		i += w
	}
	return i, true
}

// inRanges reports whether r is in sorted ranges.
func inRanges(ranges []rune, r rune) bool {
	lo, hi := 0, len(ranges)/2
	for lo < hi {
		mid := (lo + hi) / 2
		switch {
		case r < ranges[2*mid]:
			hi = mid
		case r > ranges[2*mid+1]:
			lo = mid + 1
		default:
			return true
		}
	}
	return false
}

// backrefNode matches the text a group matched.
type backrefNode struct {
	slot int
	fold bool
	next node
}

// condNode matches yes if a group has matched, no otherwise.
type condNode struct {
	slot    int // the group's end slot
	yes, no node
}

// atomicEnd ends the body of an atomic group: the group goes on from there.
type atomicEnd struct{}

// atomicNode matches its body once, without backtracking into it.
type atomicNode struct {
	body, next node
}
