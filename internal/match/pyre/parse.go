package pyre

import (
	"fmt"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Flags are Python's regular expression flags that change the meaning of
// the syntax.
type Flags uint8

// The flags, as Python spells them inline.
const (
	IgnoreCase Flags = 1 << iota // (?i)
	Multiline                    // (?m): ^ and $ at line boundaries
	DotAll                       // (?s): . matches "\n"
	Verbose                      // (?x): blanks and # comments ignored
	ASCII                        // (?a): \w \d \s \b are ASCII only
)

// Error is a syntax error in an expression.
type Error struct {
	Expr string // the expression
	Pos  int    // byte offset of the error in Expr
	Msg  string
}

// Error returns the message and where in the expression it applies.
func (e *Error) Error() string {
	return fmt.Sprintf("%s at position %d", e.Msg, e.Pos)
}

// Tree is a parsed expression.
type Tree struct {
	Root *Node
	// Names holds the name of each group, by number; Names[0] is "".
	Names []string
	// Flags are the flags in effect at the top level (given and inline).
	Flags Flags
}

// NumGroups returns the number of capturing groups.
func (t *Tree) NumGroups() int { return len(t.Names) - 1 }

// Parse parses expr with Python's syntax and the given flags.
func Parse(expr string, flags Flags) (*Tree, error) {
	p := &parser{src: expr, names: []string{""}, byName: map[string]int{}}
	// Global flags may appear anywhere in the expression (Python before
	// 3.11 applied them to the whole expression; 3.11 requires them at
	// the start): collect them first.
	flags |= p.globalFlags()
	p.flags = flags
	root, err := p.alternation(flags, 0)
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.src) {
		return nil, p.errorf("unbalanced parenthesis")
	}
	for _, ref := range p.refs {
		if ref.Cap >= len(p.names) {
			return nil, &Error{expr, len(expr), fmt.Sprintf("invalid group reference %d", ref.Cap)}
		}
	}
	return &Tree{Root: root, Names: p.names, Flags: flags}, nil
}

type parser struct {
	src    string
	pos    int
	flags  Flags
	names  []string // by group number
	byName map[string]int
	refs   []*Node // backreferences and conditionals, checked at the end
	open   []int   // groups being parsed (a backreference to one is an error)
}

func (p *parser) errorf(format string, args ...any) error {
	return &Error{Expr: p.src, Pos: p.pos, Msg: fmt.Sprintf(format, args...)}
}

// globalFlags scans the expression for "(?flags)" groups (not scoped
// "(?flags:...)") and returns their flags.
func (p *parser) globalFlags() Flags {
	var f Flags
	s := p.src
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '[':
			// Skip a class: its "(" are literal.
			j := i + 1
			if j < len(s) && s[j] == '^' {
				j++
			}
			if j < len(s) && s[j] == ']' {
				j++
			}
			for j < len(s) && s[j] != ']' {
				if s[j] == '\\' {
					j++
				}
				j++
			}
			i = j
		case '(':
			if !strings.HasPrefix(s[i:], "(?") {
				continue
			}
			j := i + 2
			var g Flags
			for j < len(s) {
				fl, ok := flagOf(s[j])
				if !ok {
					break
				}
				g |= fl
				j++
			}
			if j > i+2 && j < len(s) && s[j] == ')' {
				f |= g
			}
		}
	}
	return f
}

func flagOf(c byte) (Flags, bool) {
	switch c {
	case 'i':
		return IgnoreCase, true
	case 'm':
		return Multiline, true
	case 's':
		return DotAll, true
	case 'x':
		return Verbose, true
	case 'a':
		return ASCII, true
	case 'u', 'L':
		return 0, true
	}
	return 0, false
}

func (p *parser) more() bool { return p.pos < len(p.src) }

func (p *parser) peek() byte { return p.src[p.pos] }

func (p *parser) lookingAt(s string) bool { return strings.HasPrefix(p.src[p.pos:], s) }

// skipVerbose skips blanks and comments in verbose mode.
func (p *parser) skipVerbose(flags Flags) {
	if flags&Verbose == 0 {
		return
	}
	for p.more() {
		c := p.peek()
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			p.pos++
		case c == '#':
			for p.more() && p.peek() != '\n' {
				p.pos++
			}
		default:
			return
		}
	}
}

// alternation parses branches separated by "|" up to ")" or the end.
func (p *parser) alternation(flags Flags, depth int) (*Node, error) {
	if depth > 1000 {
		return nil, p.errorf("expression nests too deeply")
	}
	var alts []*Node
	for {
		n, err := p.concat(flags, depth)
		if err != nil {
			return nil, err
		}
		alts = append(alts, n)
		if p.more() && p.peek() == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &Node{Op: OpAlternate, Sub: alts}, nil
}

// concat parses a sequence of quantified atoms up to "|", ")" or the end.
func (p *parser) concat(flags Flags, depth int) (*Node, error) {
	var items []*Node
	for {
		p.skipVerbose(flags)
		if !p.more() || p.peek() == '|' || p.peek() == ')' {
			break
		}
		atom, err := p.atom(flags, depth)
		if err != nil {
			return nil, err
		}
		if atom == nil {
			continue // a comment or flags
		}
		p.skipVerbose(flags)
		for p.more() {
			lo, hi, ok, err := p.quantifier()
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if isAssertion(atom) {
				// Python repeats an assertion as written; a repeated
				// assertion is the assertion.
				if lo == 0 {
					atom = &Node{Op: OpEmpty}
				}
			} else {
				atom = &Node{Op: OpRepeat, Sub: []*Node{atom}, Min: lo, Max: hi, Greedy: true}
			}
			if p.more() && p.peek() == '?' {
				p.pos++
				if atom.Op == OpRepeat {
					atom.Greedy = false
				}
			} else if p.more() && p.peek() == '+' {
				p.pos++
				if atom.Op == OpRepeat {
					atom = &Node{Op: OpAtomic, Sub: []*Node{atom}}
				}
			}
			p.skipVerbose(flags)
			if p.more() && strings.IndexByte("*+?{", p.peek()) >= 0 {
				if _, _, ok, _ := p.peekQuantifier(); ok {
					return nil, p.errorf("multiple repeat")
				}
			}
		}
		items = append(items, atom)
	}
	items = mergeLiterals(items)
	switch len(items) {
	case 0:
		return &Node{Op: OpEmpty}, nil
	case 1:
		return items[0], nil
	}
	return &Node{Op: OpConcat, Sub: items}, nil
}

// mergeLiterals joins adjacent literals with the same case folding.
func mergeLiterals(items []*Node) []*Node {
	out := items[:0]
	for _, n := range items {
		if k := len(out) - 1; k >= 0 && n.Op == OpLiteral && out[k].Op == OpLiteral && out[k].Fold == n.Fold {
			out[k] = &Node{Op: OpLiteral, Fold: n.Fold, Runes: append(slices.Clip(out[k].Runes), n.Runes...)}
			continue
		}
		out = append(out, n)
	}
	return out
}

func isAssertion(n *Node) bool {
	switch n.Op {
	case OpBeginText, OpBeginLine, OpEndText, OpEndTextNL, OpEndLine, OpWordBoundary, OpNoWordBoundary, OpLook:
		return true
	}
	return false
}

// quantifier parses "*", "+", "?", "{m}", "{m,}", "{,n}" or "{m,n}"; ok
// is false (and nothing consumed) if there is none. A "{" that does not
// start a valid repetition is a literal, as in Python.
func (p *parser) quantifier() (lo, hi int, ok bool, err error) {
	lo, hi, ok, n := p.peekQuantifier()
	if !ok {
		return 0, 0, false, nil
	}
	p.pos += n
	if hi >= 0 && lo > hi {
		return 0, 0, false, p.errorf("min repeat greater than max repeat")
	}
	if lo > 65535 || hi > 65535 {
		return 0, 0, false, p.errorf("the repetition number is too large")
	}
	return lo, hi, true, nil
}

// peekQuantifier reads a quantifier without consuming it; n is its length.
func (p *parser) peekQuantifier() (lo, hi int, ok bool, n int) {
	if !p.more() {
		return 0, 0, false, 0
	}
	switch p.peek() {
	case '*':
		return 0, -1, true, 1
	case '+':
		return 1, -1, true, 1
	case '?':
		return 0, 1, true, 1
	case '{':
	default:
		return 0, 0, false, 0
	}
	s := p.src[p.pos:]
	end := strings.IndexByte(s, '}')
	if end < 0 {
		return 0, 0, false, 0
	}
	body := s[1:end]
	a, b, comma := strings.Cut(body, ",")
	if !isDigits(a) && a != "" || !isDigits(b) && b != "" || a == "" && !comma {
		return 0, 0, false, 0
	}
	lo, hi = 0, -1
	if a != "" {
		lo = atoiSat(a)
	}
	switch {
	case !comma:
		hi = lo
	case b != "":
		hi = atoiSat(b)
	}
	return lo, hi, true, end + 1
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// atoiSat parses decimal digits, saturating at a large value.
func atoiSat(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
		if n > 1<<20 {
			return 1 << 20
		}
	}
	return n
}

// atom parses one atom. It returns nil for constructs that match nothing
// at all (comments, global flags).
func (p *parser) atom(flags Flags, depth int) (*Node, error) {
	c := p.peek()
	switch c {
	case '(':
		return p.group(flags, depth)
	case '[':
		return p.class(flags)
	case '.':
		p.pos++
		if flags&DotAll != 0 {
			return &Node{Op: OpAny}, nil
		}
		return &Node{Op: OpAnyNotNL}, nil
	case '^':
		p.pos++
		if flags&Multiline != 0 {
			return &Node{Op: OpBeginLine}, nil
		}
		return &Node{Op: OpBeginText}, nil
	case '$':
		p.pos++
		if flags&Multiline != 0 {
			return &Node{Op: OpEndLine}, nil
		}
		return &Node{Op: OpEndTextNL}, nil
	case '\\':
		return p.escape(flags)
	case '*', '+', '?':
		return nil, p.errorf("nothing to repeat")
	case '{':
		if _, _, ok, _ := p.peekQuantifier(); ok {
			return nil, p.errorf("nothing to repeat")
		}
	}
	r, w := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += w
	return literal(r, flags), nil
}

// literal returns a node for the rune r.
func literal(r rune, flags Flags) *Node {
	fold := flags&IgnoreCase != 0 && hasFold(r)
	return &Node{Op: OpLiteral, Runes: []rune{r}, Fold: fold}
}

// hasFold reports whether r has other case forms.
func hasFold(r rune) bool { return unicode.SimpleFold(r) != r }

// group parses a parenthesized construct.
func (p *parser) group(flags Flags, depth int) (*Node, error) {
	start := p.pos
	p.pos++ // "("
	if !p.lookingAt("?") {
		k := p.newGroup("")
		return p.groupBody(flags, depth, k, "")
	}
	p.pos++ // "?"
	if !p.more() {
		return nil, p.errorf("unexpected end of pattern")
	}
	switch c := p.peek(); {
	case c == ':':
		p.pos++
		return p.groupBody(flags, depth, 0, "")
	case c == 'P' && p.lookingAt("P<"):
		p.pos += 2
		name, err := p.groupName('>')
		if err != nil {
			return nil, err
		}
		if _, dup := p.byName[name]; dup {
			return nil, p.errorf("redefinition of group name %q", name)
		}
		k := p.newGroup(name)
		return p.groupBody(flags, depth, k, name)
	case c == 'P' && p.lookingAt("P="):
		p.pos += 2
		name, err := p.groupName(')')
		if err != nil {
			return nil, err
		}
		k, ok := p.byName[name]
		if !ok {
			return nil, p.errorf("unknown group name %q", name)
		}
		if slices.Contains(p.open, k) {
			return nil, p.errorf("cannot refer to an open group")
		}
		return p.backref(k, flags), nil
	case c == '#':
		end := strings.IndexByte(p.src[p.pos:], ')')
		if end < 0 {
			return nil, p.errorf("missing ), unterminated comment")
		}
		p.pos += end + 1
		return nil, nil
	case c == '=' || c == '!':
		p.pos++
		return p.look(flags, depth, false, c == '!')
	case c == '<' && (p.lookingAt("<=") || p.lookingAt("<!")):
		neg := p.src[p.pos+1] == '!'
		p.pos += 2
		return p.look(flags, depth, true, neg)
	case c == '>':
		p.pos++
		n, err := p.groupBody(flags, depth, 0, "")
		if err != nil {
			return nil, err
		}
		return &Node{Op: OpAtomic, Sub: []*Node{n}}, nil
	case c == '(':
		return p.conditional(flags, depth)
	default:
		// Flags: "(?imsx)" (global, already applied) or
		// "(?imsx-imsx:...)" (scoped).
		on, off := Flags(0), Flags(0)
		neg := false
		for p.more() {
			c := p.peek()
			if c == '-' && !neg {
				neg = true
				p.pos++
				continue
			}
			f, ok := flagOf(c)
			if !ok {
				break
			}
			if neg {
				off |= f
			} else {
				on |= f
			}
			p.pos++
		}
		if !p.more() {
			return nil, p.errorf("missing -, : or )")
		}
		switch p.peek() {
		case ')':
			if neg || p.pos == start+2 {
				return nil, p.errorf("unknown extension ?%c", p.src[start+2])
			}
			p.pos++
			return nil, nil
		case ':':
			p.pos++
			return p.groupBody(flags|on&^off, depth, 0, "")
		}
		if p.pos == start+2 {
			return nil, p.errorf("unknown extension ?%c", p.peek())
		}
		return nil, p.errorf("missing -, : or )")
	}
}

// newGroup allocates the next group number.
func (p *parser) newGroup(name string) int {
	k := len(p.names)
	p.names = append(p.names, name)
	if name != "" {
		p.byName[name] = k
	}
	return k
}

// groupName reads a group name up to the terminator.
func (p *parser) groupName(term byte) (string, error) {
	end := strings.IndexByte(p.src[p.pos:], term)
	if end < 0 {
		return "", p.errorf("missing %c, unterminated name", term)
	}
	name := p.src[p.pos : p.pos+end]
	if !isIdentifier(name) {
		return "", p.errorf("bad character in group name %q", name)
	}
	p.pos += end + 1
	return name, nil
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r) {
			continue
		}
		return false
	}
	return true
}

// groupBody parses the alternation of a group up to its ")"; k > 0 makes
// it capturing group k.
func (p *parser) groupBody(flags Flags, depth, k int, name string) (*Node, error) {
	if k > 0 {
		p.open = append(p.open, k)
	}
	n, err := p.alternation(flags, depth+1)
	if err != nil {
		return nil, err
	}
	if !p.more() || p.peek() != ')' {
		return nil, p.errorf("missing ), unterminated subpattern")
	}
	p.pos++
	if k > 0 {
		p.open = p.open[:len(p.open)-1]
		return &Node{Op: OpCapture, Cap: k, Name: name, Sub: []*Node{n}}, nil
	}
	return n, nil
}

func (p *parser) backref(k int, flags Flags) *Node {
	n := &Node{Op: OpBackref, Cap: k, Fold: flags&IgnoreCase != 0}
	p.refs = append(p.refs, n)
	return n
}

// look parses the body of a lookaround.
func (p *parser) look(flags Flags, depth int, behind, neg bool) (*Node, error) {
	body, err := p.groupBody(flags, depth, 0, "")
	if err != nil {
		return nil, err
	}
	n := &Node{Op: OpLook, Behind: behind, Negate: neg, Sub: []*Node{body}}
	if behind {
		w, ok := fixedWidth(body)
		if !ok {
			return nil, p.errorf("look-behind requires fixed-width pattern")
		}
		n.Width = w
	}
	return n, nil
}

// fixedWidth returns the width in runes of every match of n, if all have
// the same.
func fixedWidth(n *Node) (int, bool) {
	switch n.Op {
	case OpEmpty, OpBeginText, OpBeginLine, OpEndText, OpEndTextNL, OpEndLine,
		OpWordBoundary, OpNoWordBoundary, OpLook:
		return 0, true
	case OpLiteral:
		return len(n.Runes), true
	case OpClass, OpAny, OpAnyNotNL:
		return 1, true
	case OpCapture, OpAtomic:
		return fixedWidth(n.Sub[0])
	case OpConcat:
		w := 0
		for _, s := range n.Sub {
			sw, ok := fixedWidth(s)
			if !ok {
				return 0, false
			}
			w += sw
		}
		return w, true
	case OpAlternate, OpCond:
		w := -1
		for _, s := range n.Sub {
			sw, ok := fixedWidth(s)
			if !ok || w >= 0 && sw != w {
				return 0, false
			}
			w = sw
		}
		return max(w, 0), true
	case OpRepeat:
		if n.Min != n.Max {
			return 0, false
		}
		sw, ok := fixedWidth(n.Sub[0])
		return sw * n.Min, ok
	}
	return 0, false
}

// conditional parses "(?(id)yes|no)"; p is at the inner "(".
func (p *parser) conditional(flags Flags, depth int) (*Node, error) {
	p.pos++ // "("
	end := strings.IndexByte(p.src[p.pos:], ')')
	if end < 0 {
		return nil, p.errorf("missing ), unterminated name")
	}
	id := p.src[p.pos : p.pos+end]
	var k int
	switch {
	case isDigits(id):
		k = atoiSat(id)
		if k == 0 {
			return nil, p.errorf("bad group number")
		}
	case isIdentifier(id):
		var ok bool
		if k, ok = p.byName[id]; !ok {
			return nil, p.errorf("unknown group name %q", id)
		}
	default:
		return nil, p.errorf("bad character in group name %q", id)
	}
	p.pos += end + 1
	yes, err := p.concat(flags, depth+1)
	if err != nil {
		return nil, err
	}
	no := &Node{Op: OpEmpty}
	if p.more() && p.peek() == '|' {
		p.pos++
		if no, err = p.concat(flags, depth+1); err != nil {
			return nil, err
		}
		if p.more() && p.peek() == '|' {
			return nil, p.errorf("conditional backref with more than two branches")
		}
	}
	if !p.more() || p.peek() != ')' {
		return nil, p.errorf("missing ), unterminated subpattern")
	}
	p.pos++
	n := &Node{Op: OpCond, Cap: k, Sub: []*Node{yes, no}}
	p.refs = append(p.refs, n)
	return n, nil
}

// escape parses a backslash escape outside a class.
func (p *parser) escape(flags Flags) (*Node, error) {
	p.pos++ // "\"
	if !p.more() {
		return nil, p.errorf("bad escape (end of pattern)")
	}
	c := p.peek()
	switch c {
	case 'A':
		p.pos++
		return &Node{Op: OpBeginText}, nil
	case 'Z':
		p.pos++
		return &Node{Op: OpEndText}, nil
	case 'b':
		p.pos++
		return &Node{Op: OpWordBoundary, ASCII: flags&ASCII != 0}, nil
	case 'B':
		p.pos++
		return &Node{Op: OpNoWordBoundary, ASCII: flags&ASCII != 0}, nil
	case 'd', 'D', 'w', 'W', 's', 'S':
		p.pos++
		text, neg := perlClassText(c, flags)
		if !neg {
			text = "[" + text + "]"
		}
		return &Node{Op: OpClass, Ranges: perlClass(c, flags), Class: text}, nil
	}
	if c >= '1' && c <= '9' {
		// A backreference, or an octal escape of three digits.
		j := p.pos
		for j < len(p.src) && j < p.pos+3 && isOctal(p.src[j]) {
			j++
		}
		if j == p.pos+3 && isOctal(p.src[p.pos]) {
			v, _ := strconv.ParseUint(p.src[p.pos:j], 8, 32)
			if v > 0o377 {
				return nil, p.errorf("octal escape value out of range")
			}
			p.pos = j
			return literal(rune(v), flags), nil
		}
		j = p.pos
		for j < len(p.src) && j < p.pos+2 && p.src[j] >= '0' && p.src[j] <= '9' {
			j++
		}
		k := atoiSat(p.src[p.pos:j])
		if slices.Contains(p.open, k) {
			return nil, p.errorf("cannot refer to an open group")
		}
		if k >= len(p.names) {
			return nil, p.errorf("invalid group reference %d", k)
		}
		p.pos = j
		return p.backref(k, flags), nil
	}
	r, err := p.charEscape(false)
	if err != nil {
		return nil, err
	}
	return literal(r, flags), nil
}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }

// charEscape parses the escape of a single character at p.pos (after the
// backslash); inClass selects the meaning of \b (backspace in a class).
func (p *parser) charEscape(inClass bool) (rune, error) {
	c := p.peek()
	p.pos++
	switch c {
	case 'a':
		return '\a', nil
	case 'f':
		return '\f', nil
	case 'n':
		return '\n', nil
	case 'r':
		return '\r', nil
	case 't':
		return '\t', nil
	case 'v':
		return '\v', nil
	case 'b':
		if inClass {
			return '\b', nil
		}
	case 'x':
		return p.hexEscape(2)
	case 'u':
		return p.hexEscape(4)
	case 'U':
		return p.hexEscape(8)
	case '0':
		j := p.pos
		for j < len(p.src) && j < p.pos+2 && isOctal(p.src[j]) {
			j++
		}
		v, _ := strconv.ParseUint("0"+p.src[p.pos:j], 8, 32)
		p.pos = j
		return rune(v), nil
	case 'N':
		return 0, p.errorf("named Unicode escapes are not supported")
	}
	if c < utf8.RuneSelf && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
		p.pos--
		return 0, p.errorf("bad escape \\%c", c)
	}
	p.pos--
	r, w := utf8.DecodeRuneInString(p.src[p.pos:])
	p.pos += w
	return r, nil
}

func (p *parser) hexEscape(n int) (rune, error) {
	if p.pos+n > len(p.src) {
		return 0, p.errorf("incomplete escape")
	}
	v, err := strconv.ParseUint(p.src[p.pos:p.pos+n], 16, 32)
	if err != nil || v > unicode.MaxRune {
		return 0, p.errorf("bad escape")
	}
	p.pos += n
	return rune(v), nil
}

// class parses "[...]".
func (p *parser) class(flags Flags) (*Node, error) {
	start := p.pos
	p.pos++ // "["
	negate := false
	if p.more() && p.peek() == '^' {
		negate = true
		p.pos++
	}
	var ranges []rune
	// items is the class in a syntax Go and .NET share, for printing;
	// compact is false when it cannot be written that way.
	var items strings.Builder
	compact, nitems, negPerl := true, 0, false
	first := true
	for {
		if !p.more() {
			p.pos = start
			return nil, p.errorf("unterminated character set")
		}
		c := p.peek()
		if c == ']' && !first {
			p.pos++
			break
		}
		first = false
		nitems++
		var lo rune
		if c == '\\' {
			p.pos++
			if !p.more() {
				return nil, p.errorf("bad escape (end of pattern)")
			}
			switch e := p.peek(); e {
			case 'd', 'D', 'w', 'W', 's', 'S':
				p.pos++
				ranges = append(ranges, perlClass(e, flags)...)
				text, neg := perlClassText(e, flags)
				if neg {
					// Only a class of this item alone can be written
					// compactly (see below).
					negPerl = true
				}
				items.WriteString(text)
				continue
			}
			var err error
			if lo, err = p.charEscape(true); err != nil {
				return nil, err
			}
		} else {
			var w int
			lo, w = utf8.DecodeRuneInString(p.src[p.pos:])
			p.pos += w
		}
		hi := lo
		if p.lookingAt("-") && p.pos+1 < len(p.src) && p.src[p.pos+1] != ']' {
			p.pos++
			if p.peek() == '\\' {
				p.pos++
				if !p.more() {
					return nil, p.errorf("bad escape (end of pattern)")
				}
				if strings.IndexByte("dDwWsS", p.peek()) >= 0 {
					return nil, p.errorf("bad character range")
				}
				var err error
				if hi, err = p.charEscape(true); err != nil {
					return nil, err
				}
			} else {
				var w int
				hi, w = utf8.DecodeRuneInString(p.src[p.pos:])
				p.pos += w
			}
			if hi < lo {
				return nil, p.errorf("bad character range")
			}
		}
		ranges = append(ranges, lo, hi)
		writeClassRune(&items, lo)
		if hi != lo {
			items.WriteByte('-')
			writeClassRune(&items, hi)
		}
	}
	ranges = normalize(ranges)
	fold := false
	if flags&IgnoreCase != 0 {
		folded := foldRanges(ranges)
		// A class without letters is the same either way.
		fold = !equalRanges(folded, ranges)
		ranges = folded
	}
	n := &Node{Op: OpClass, Fold: fold}
	if negate {
		ranges = negateRanges(ranges)
	}
	n.Ranges = ranges
	if negPerl && nitems != 1 {
		compact = false
	}
	if compact {
		text := items.String()
		if nitems == 1 && strings.HasPrefix(text, "[^") {
			// A lone negated item: [\W] is [^...], [^\W] is [...].
			text = text[2 : len(text)-1]
			negate = !negate
		}
		if negate {
			n.Class = "[^" + text + "]"
		} else {
			n.Class = "[" + text + "]"
		}
	}
	return n, nil
}

// perlClassText returns \d \D \w \W \s \S in a syntax Go and .NET share:
// the items of a class, or for the negated ones "[^items]" (neg true).
func perlClassText(c byte, flags Flags) (text string, neg bool) {
	ascii := flags&ASCII != 0
	var t string
	switch c | 0x20 {
	case 'd':
		t = `\p{Nd}`
		if ascii {
			t = `0-9`
		}
	case 'w':
		t = `\p{L}\p{N}_`
		if ascii {
			t = `0-9A-Za-z_`
		}
	case 's':
		t = `\t\n\x{b}\f\r\x{1c}-\x{1f} \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}`
		if ascii {
			t = `\t\n\x{b}\f\r `
		}
	}
	if c >= 'A' && c <= 'Z' {
		return "[^" + t + "]", true
	}
	return t, false
}

// Python's Unicode classes.
var (
	// wordRanges is \w: letters, numbers and "_" (str.isalnum or "_").
	wordRanges = classRanges(`[\p{L}\p{N}_]`)
	// digitRanges is \d: decimal digits (category Nd).
	digitRanges = classRanges(`\p{Nd}`)
	// spaceRanges is \s: str.isspace.
	spaceRanges = classRanges(`[\t\n\v\f\r\x1c-\x1f \x{85}\x{a0}\x{1680}\x{2000}-\x{200a}\x{2028}\x{2029}\x{202f}\x{205f}\x{3000}]`)
	asciiWord   = classRanges(`[0-9A-Za-z_]`)
	asciiDigit  = classRanges(`[0-9]`)
	asciiSpace  = classRanges(`[\t\n\v\f\r ]`)
)

// classRanges returns the ranges of a class in Go syntax.
func classRanges(class string) []rune {
	re, err := syntax.Parse(class, syntax.Perl)
	if err != nil {
		panic(err)
	}
	if re.Op == syntax.OpLiteral {
		return []rune{re.Rune[0], re.Rune[0]}
	}
	return slices.Clone(re.Rune)
}

// perlClass returns the ranges of \d \D \w \W \s \S.
func perlClass(c byte, flags Flags) []rune {
	var r []rune
	ascii := flags&ASCII != 0
	switch c | 0x20 {
	case 'd':
		r = digitRanges
		if ascii {
			r = asciiDigit
		}
	case 'w':
		r = wordRanges
		if ascii {
			r = asciiWord
		}
	case 's':
		r = spaceRanges
		if ascii {
			r = asciiSpace
		}
	}
	if c >= 'A' && c <= 'Z' {
		return negateRanges(r)
	}
	return slices.Clone(r)
}

// normalize sorts and merges ranges.
func normalize(r []rune) []rune {
	type pair struct{ lo, hi rune }
	ps := make([]pair, 0, len(r)/2)
	for i := 0; i+1 < len(r); i += 2 {
		ps = append(ps, pair{r[i], r[i+1]})
	}
	slices.SortFunc(ps, func(a, b pair) int { return int(a.lo - b.lo) })
	out := make([]rune, 0, len(r))
	for _, x := range ps {
		if k := len(out); k > 0 && x.lo <= out[k-1]+1 {
			out[k-1] = max(out[k-1], x.hi)
			continue
		}
		out = append(out, x.lo, x.hi)
	}
	return out
}

// negateRanges returns the complement of normalized ranges.
func negateRanges(r []rune) []rune {
	var out []rune
	next := rune(0)
	for i := 0; i+1 < len(r); i += 2 {
		if r[i] > next {
			out = append(out, next, r[i]-1)
		}
		next = r[i+1] + 1
	}
	if next <= unicode.MaxRune {
		out = append(out, next, unicode.MaxRune)
	}
	return out
}

// foldRanges adds the other case forms of every rune in r (Unicode simple
// folding, as regexp/syntax does it).
func foldRanges(r []rune) []rune {
	if len(r) == 0 {
		return r
	}
	var b strings.Builder
	writeClass(&b, r)
	re, err := syntax.Parse(b.String(), syntax.Perl|syntax.FoldCase)
	if err != nil {
		return r
	}
	switch re.Op {
	case syntax.OpCharClass:
		return slices.Clone(re.Rune)
	case syntax.OpLiteral:
		var out []rune
		for _, c := range re.Rune {
			out = append(out, c, c)
			for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
				out = append(out, f, f)
			}
		}
		return normalize(out)
	}
	return r
}
