package pyre

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// Engine names the engine that finishes a search the fast matcher gives up
// on (its step budget ran out, or it does not handle the expression).
type Engine int

const (
	// RE2 is Go's regexp package: linear time.
	RE2 Engine = iota
	// Backtrack is github.com/dlclark/regexp2, with a match timeout: for
	// expressions that need lookaround, backreferences, conditional or
	// atomic groups.
	Backtrack
)

// String returns "re2" or "regexp2".
func (e Engine) String() string {
	if e == RE2 {
		return "re2"
	}
	return "regexp2"
}

// DefaultTimeout is the match timeout of the regexp2 engine when Options
// give none.
const DefaultTimeout = 100 * time.Millisecond

// Options control compilation.
type Options struct {
	// Flags are flags in effect from the start (Python's re.MULTILINE and
	// so on); the expression may add its own inline.
	Flags Flags
	// Timeout bounds one search of the regexp2 engine (DefaultTimeout
	// if 0). A search that times out finds nothing.
	Timeout time.Duration
}

// Regexp is a compiled expression. It is safe for concurrent use.
type Regexp struct {
	expr string
	tree *Tree
	fast *program // nil if the fast matcher does not handle it
	lit  string   // a literal every match contains, "" if none
	// prefix is a literal every match starts with, at the start of the
	// text ("" if none); litInPrefix: it holds lit.
	prefix      string
	litInPrefix bool
	// factor holds strings one of which every match contains (nil: none
	// known); see factor.
	factor []string
	// first, if not nil, holds the bytes the text must start with for a
	// match (bit c of first[c/64]): every match starts at the start of
	// the text and takes at least one byte.
	first *[4]uint64
	names []string // group names by number

	engine Engine
	// std is Go's regexp, for RE2. If the fast matcher runs the
	// expression, std is compiled the first time it is needed (seldom:
	// compiling the fallback of every expression was most of the time
	// loading fail2ban's filters took).
	std      *regexp.Regexp
	stdOnce  sync.Once
	stdMap   []int // group number of each group of std
	bt       *regexp2.Regexp
	btGroups []int  // number in bt of each group
	fallback string // the expression std or bt runs

	timeouts atomic.Int64
}

// Compile parses expr with Python's syntax and compiles it.
func Compile(expr string, o Options) (*Regexp, error) {
	t, err := Parse(expr, o.Flags)
	if err != nil {
		return nil, err
	}
	re := &Regexp{expr: expr, tree: t, names: t.Names, lit: requiredLiteral(t.Root), prefix: anchoredPrefix(t.Root)}
	re.litInPrefix = strings.Contains(re.prefix, re.lit)
	re.factor = factor(t.Root)
	if set, nullable := firstBytes(t.Root); !nullable && anchoredAtStart(t.Root) {
		re.first = set
	}
	if p, err := compileFast(t); err == nil {
		re.fast = p
	}
	if goExpr, groups, err := printGo(t); err == nil {
		re.engine, re.stdMap, re.fallback = RE2, groups, goExpr
		if re.fast == nil {
			if re.std, err = regexp.Compile(goExpr); err != nil {
				return nil, fmt.Errorf("compiling %q for RE2: %w", goExpr, err)
			}
		}
		return re, nil
	}
	netExpr := printNET(t)
	bt, err := regexp2.Compile(netExpr, regexp2.None)
	if err != nil {
		return nil, fmt.Errorf("compiling %q for regexp2: %w", netExpr, err)
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	bt.MatchTimeout = timeout
	re.engine, re.bt, re.fallback = Backtrack, bt, netExpr
	re.btGroups = make([]int, len(t.Names))
	for k := 1; k < len(t.Names); k++ {
		re.btGroups[k] = bt.GroupNumberFromName(fmt.Sprintf("g%d", k))
	}
	return re, nil
}

// MustCompile is Compile for expressions known to be valid; it panics on
// an error.
func MustCompile(expr string, o Options) *Regexp {
	re, err := Compile(expr, o)
	if err != nil {
		panic(fmt.Sprintf("pyre: Compile(%q): %v", expr, err))
	}
	return re
}

// String returns the expression as written.
func (re *Regexp) String() string { return re.expr }

// Engine returns the engine that backs the fast matcher.
func (re *Regexp) Engine() Engine { return re.engine }

// Fast reports whether the fast matcher handles the expression (if not,
// every search runs on Engine).
func (re *Regexp) Fast() bool { return re.fast != nil }

// Fallback returns the expression as the engine runs it (Go syntax for
// RE2, .NET syntax for regexp2).
func (re *Regexp) Fallback() string { return re.fallback }

// NumGroups returns the number of capturing groups.
func (re *Regexp) NumGroups() int { return len(re.names) - 1 }

// GroupNames returns the names of the groups by number ("" for unnamed
// groups and for group 0). The slice must not be modified.
func (re *Regexp) GroupNames() []string { return re.names }

// GroupIndex returns the number of the group called name, or -1.
func (re *Regexp) GroupIndex(name string) int {
	for i, n := range re.names {
		if n == name && i > 0 {
			return i
		}
	}
	return -1
}

// Literal returns a string every match contains ("" if there is none worth
// checking).
func (re *Regexp) Literal() string { return re.lit }

// Factor returns strings one of which every match contains, or nil if no
// such set is known: a text that contains none of them cannot match. The
// caller must not modify the slice.
func (re *Regexp) Factor() []string { return re.factor }

// StartBytes returns the bytes a text must start with to match (bit c of
// set[c/64]), or nil if a match may start elsewhere or be empty.
func (re *Regexp) StartBytes() *[4]uint64 { return re.first }

// Timeouts returns how many searches of the regexp2 engine timed out.
func (re *Regexp) Timeouts() int64 { return re.timeouts.Load() }

// machines recycles search state for the methods that take none.
var machines = sync.Pool{New: func() any { return new(Machine) }}

// NewMachine returns search state for Find.
func NewMachine() *Machine { return new(Machine) }

// MatchString reports whether s contains a match.
func (re *Regexp) MatchString(s string) bool {
	m := machines.Get().(*Machine)
	defer machines.Put(m)
	return re.Find(m, s) != nil
}

// FindStringSubmatchIndex returns the positions of the leftmost match and
// its groups, as regexp.Regexp.FindStringSubmatchIndex does, or nil.
func (re *Regexp) FindStringSubmatchIndex(s string) []int {
	m := machines.Get().(*Machine)
	defer machines.Put(m)
	if caps := re.Find(m, s); caps != nil {
		return append([]int(nil), caps...)
	}
	return nil
}

// Find searches s for the leftmost match with Python's semantics and
// returns the positions of the match and of its groups (2 per group,
// start and end, -1 for a group that did not take part), or nil. The slice
// belongs to m and is valid until m's next use.
func (re *Regexp) Find(m *Machine, s string) []int {
	if re.prefix != "" && !strings.HasPrefix(s, re.prefix) ||
		re.lit != "" && !re.litInPrefix && !strings.Contains(s, re.lit) {
		return nil
	}
	return re.FindNoLiteral(m, s)
}

// FindNoLiteral is Find without the literal pre-check (for callers that
// made it already).
func (re *Regexp) FindNoLiteral(m *Machine, s string) []int {
	if re.fast != nil {
		if ok, done := re.fast.find(m, s); done {
			if ok {
				return m.caps
			}
			return nil
		}
	}
	return re.slowFind(m, s)
}

// FindRange is Find for a match within s[pos:end]: the text before pos is
// seen by lookbehind, \b and ^ (which does not match at pos), the text
// from end on is not seen at all, as Python's Pattern.search(s, pos,
// endpos). If the fast matcher gives up, the fallback engine searches
// s[:end] and a match before pos counts as none.
func (re *Regexp) FindRange(m *Machine, s string, pos, end int) []int {
	s = s[:end]
	if re.prefix != "" && (pos > 0 || !strings.HasPrefix(s, re.prefix)) ||
		re.lit != "" && !strings.Contains(s[pos:], re.lit) {
		return nil
	}
	if re.fast != nil {
		if ok, done := re.fast.findFrom(m, s, pos); done {
			if ok {
				return m.caps
			}
			return nil
		}
	}
	caps := re.slowFind(m, s)
	if caps == nil || caps[0] < pos {
		return nil
	}
	return caps
}

// FindSlow is Find run by the fallback engine alone, for tests and
// comparison.
func (re *Regexp) FindSlow(m *Machine, s string) []int {
	return re.slowFind(m, s)
}

// goRegexp returns the RE2 fallback, compiled on first use. printGo's
// expressions are RE2 (FuzzParse checks it): failing to compile one is a
// bug.
func (re *Regexp) goRegexp() *regexp.Regexp {
	re.stdOnce.Do(func() {
		if re.std == nil {
			re.std = regexp.MustCompile(re.fallback)
		}
	})
	return re.std
}

func (re *Regexp) slowFind(m *Machine, s string) []int {
	n := 2 * len(re.names)
	if cap(m.out) < n {
		m.out = make([]int, n)
	}
	out := m.out[:n]
	for k := range out {
		out[k] = -1
	}
	if re.engine == RE2 {
		loc := re.goRegexp().FindStringSubmatchIndex(s)
		if loc == nil {
			return nil
		}
		out[0], out[1] = loc[0], loc[1]
		for g := 1; 2*g+1 < len(loc); g++ {
			if loc[2*g] < 0 {
				continue
			}
			k := re.stdMap[g]
			out[2*k], out[2*k+1] = loc[2*g], loc[2*g+1]
		}
		return out
	}
	match, err := re.bt.FindStringMatch(s)
	if err != nil {
		// regexp2 reports nothing but timeouts as errors.
		re.timeouts.Add(1)
		return nil
	}
	if match == nil {
		return nil
	}
	idx := runeOffsets(m, s)
	for k, num := range re.btGroups {
		g := match.GroupByNumber(num)
		if g == nil || len(g.Captures) == 0 {
			continue
		}
		out[2*k], out[2*k+1] = idx(g.Index), idx(g.Index+g.Length)
	}
	return out
}

// runeOffsets returns a function from rune index in s to byte offset.
func runeOffsets(m *Machine, s string) func(int) int {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return func(i int) int { return i }
	}
	m.runeIdx = m.runeIdx[:0]
	for i := range s {
		m.runeIdx = append(m.runeIdx, i)
	}
	m.runeIdx = append(m.runeIdx, len(s))
	idx := m.runeIdx
	return func(i int) int {
		if i < len(idx) {
			return idx[i]
		}
		return len(s)
	}
}

// printGo prints t in Go's syntax, after the rewrites that remove Python
// constructs RE2 lacks. groups maps each group of the printed expression
// to the group of t it stands for (a rewrite may copy a group).
func printGo(t *Tree) (string, []int, error) {
	root, err := rewriteRE2(t)
	if err != nil {
		return "", nil, err
	}
	if !repeatsValid(root, 1000) {
		return "", nil, errors.New("repetitions too large for RE2")
	}
	var b strings.Builder
	p := printer{b: &b, dialect: dialectGo}
	groups := []int{0}
	p.onCapture = func(n *Node) { groups = append(groups, n.Cap) }
	p.node(root)
	if p.err != nil {
		return "", nil, p.err
	}
	return b.String(), groups, nil
}

// repeatsValid reports whether the repetitions of n, nested ones
// multiplied, make at most max copies of what they repeat: the limit Go's
// regexp/syntax sets (its repeatIsValid, with max 1000).
func repeatsValid(n *Node, max int) bool {
	if n.Op == OpRepeat {
		m := n.Max
		if m == 0 {
			return true
		}
		if m < 0 {
			m = n.Min
		}
		if m > max {
			return false
		}
		if m > 0 {
			max /= m
		}
	}
	for _, sub := range n.Sub {
		if !repeatsValid(sub, max) {
			return false
		}
	}
	return true
}

// printNET prints t in the syntax of regexp2 (.NET's). Every group is
// named "g" and its number.
func printNET(t *Tree) string {
	var b strings.Builder
	p := printer{b: &b, dialect: dialectNET, names: make([]string, len(t.Names))}
	for k := 1; k < len(t.Names); k++ {
		p.names[k] = fmt.Sprintf("g%d", k)
	}
	p.node(t.Root)
	return b.String()
}
