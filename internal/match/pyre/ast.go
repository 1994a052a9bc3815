// Package pyre runs regular expressions written in Python's syntax, as
// fail2ban's filters and date patterns are, on Go.
//
// An expression is parsed with Python's rules (package re of Python 3:
// (?P<name>...), (?P=name), {,n}, Unicode \w \d \s, "$" before a trailing
// newline, lookaround, conditionals) into a syntax tree. From the tree it
// is compiled twice:
//
//   - for a backtracking matcher with a step budget (fast.go), which runs
//     every search first and is several times faster than the regexp
//     package on log lines;
//   - for a fallback engine that finishes a search whose budget ran out:
//     Go's regexp package (RE2, linear time) when the expression has no
//     lookaround, backreference, conditional or atomic group (after the
//     rewrites of rewrite.go), otherwise github.com/dlclark/regexp2 with a
//     match timeout, so that no line can hang the caller.
//
// Engine tells which fallback an expression uses.
//
// Differences from Python that remain: \b and \B of the RE2 fallback look
// at ASCII word characters (as Go's regexp does), while Python's and the
// fast matcher's are Unicode, as \w is; flags written in
// the middle of an expression apply to all of it (as before Python 3.11,
// which refuses them); a repetition of something that can match the empty
// string runs on the fallback engine with Go's rules for its groups; and
// the fallback engines may report the whole match (group 0) one character
// wider where a rewrite consumed a character that Python only looks at.
package pyre

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Op is the kind of a syntax tree node.
type Op uint8

// The node kinds.
const (
	OpEmpty          Op = iota // matches the empty string
	OpLiteral                  // Runes, folded if Fold
	OpClass                    // one rune of Ranges (pairs lo, hi, sorted, folding applied)
	OpAnyNotNL                 // "." without DOTALL
	OpAny                      // "." with DOTALL
	OpBeginText                // "^" without MULTILINE, "\A"
	OpBeginLine                // "^" with MULTILINE
	OpEndText                  // "\Z"
	OpEndTextNL                // "$" without MULTILINE: end, or before a final "\n"
	OpEndLine                  // "$" with MULTILINE
	OpWordBoundary             // "\b"
	OpNoWordBoundary           // "\B"
	OpCapture                  // group Cap (named Name), Sub[0]
	OpConcat                   // Sub in sequence
	OpAlternate                // Sub in order of preference
	OpRepeat                   // Sub[0] Min..Max times (Max < 0: unbounded), Greedy
	OpLook                     // lookaround Sub[0]: Behind, Negate; Width for lookbehind
	OpBackref                  // the text of group Cap
	OpCond                     // Sub[0] if group Cap matched, else Sub[1]
	OpAtomic                   // Sub[0] without backtracking into it, (?>...)
)

// Node is a node of a syntax tree.
type Node struct {
	Op     Op
	Runes  []rune // OpLiteral
	Fold   bool   // OpLiteral, OpBackref, OpClass: ignore case
	Ranges []rune // OpClass
	// Class is the class in a syntax Go and .NET share ("[...]", without
	// the case folding Fold asks for), for printing; "" to print Ranges.
	Class  string
	Sub    []*Node
	Cap    int    // OpCapture, OpBackref, OpCond: group number (1-based)
	Name   string // OpCapture: group name, "" if unnamed
	Min    int    // OpRepeat
	Max    int    // OpRepeat; -1 = unbounded
	Greedy bool   // OpRepeat
	Behind bool   // OpLook
	Negate bool   // OpLook
	Width  int    // OpLook with Behind: width in runes
	ASCII  bool   // OpWordBoundary, OpNoWordBoundary: ASCII word characters only ((?a))
	// after, for an OpCapture a conditional tests, are literals the rest
	// of the expression needs, in order, once the group has matched (see
	// markCondGroups); the fast matcher checks them when it enters the
	// group.
	after []string
}

// String returns the node in Go syntax where possible (for debugging).
func (n *Node) String() string {
	var b strings.Builder
	p := printer{b: &b, dialect: dialectDebug}
	p.node(n)
	return b.String()
}

// dialect selects the syntax a printer writes.
type dialect int

const (
	dialectGo    dialect = iota // Go's regexp (RE2)
	dialectNET                  // regexp2 (.NET)
	dialectDebug                // Go's where possible, otherwise .NET's
)

// printer writes a syntax tree in one dialect.
type printer struct {
	b       *strings.Builder
	dialect dialect
	err     error
	// names maps a group number to the name it is printed with in the
	// .NET dialect, where every group is named (.NET numbers named
	// groups after unnamed ones).
	names []string
	// onCapture, if set, is called for each group printed, in order.
	onCapture func(*Node)
}

// errNotRE2 reports a construct Go's regexp does not have.
type errNotRE2 struct{ what string }

func (e *errNotRE2) Error() string { return e.what + " is not supported by RE2" }

func (p *printer) fail(what string) {
	if p.err == nil {
		p.err = &errNotRE2{what}
	}
}

// groupRef returns how group k is referred to in the .NET dialect.
func (p *printer) groupRef(k int) string {
	if k < len(p.names) && p.names[k] != "" {
		return p.names[k]
	}
	return strconv.Itoa(k)
}

func (p *printer) node(n *Node) {
	b := p.b
	switch n.Op {
	case OpEmpty:
		b.WriteString("(?:)")
	case OpLiteral:
		if n.Fold {
			b.WriteString("(?i:")
		}
		for _, r := range n.Runes {
			writeRune(b, r)
		}
		if n.Fold {
			b.WriteString(")")
		}
	case OpClass:
		switch {
		case n.Class != "" && n.Fold:
			b.WriteString("(?i:" + n.Class + ")")
		case n.Class != "":
			b.WriteString(n.Class)
		default:
			writeClass(b, n.Ranges)
		}
	case OpAnyNotNL:
		b.WriteString(`[^\n]`)
	case OpAny:
		b.WriteString(`[\s\S]`)
	case OpBeginText:
		b.WriteString(`\A`)
	case OpBeginLine:
		b.WriteString(`(?m:^)`)
	case OpEndText:
		b.WriteString(`\z`)
	case OpEndTextNL:
		if p.dialect == dialectGo {
			// Consumes the final newline where Python's "$" only looks
			// at it: the groups and the start of the match are the same.
			b.WriteString(`(?:\n?\z)`)
		} else {
			b.WriteString(`(?:$)`)
		}
	case OpEndLine:
		b.WriteString(`(?m:$)`)
	case OpWordBoundary, OpNoWordBoundary:
		if p.dialect != dialectNET {
			b.WriteString(map[Op]string{OpWordBoundary: `\b`, OpNoWordBoundary: `\B`}[n.Op])
			break
		}
		// Python's word characters (.NET's \b has others).
		w := `[\p{L}\p{N}_]`
		if n.ASCII {
			w = `[0-9A-Za-z_]`
		}
		if n.Op == OpWordBoundary {
			fmt.Fprintf(b, `(?:(?<=%[1]s)(?!%[1]s)|(?<!%[1]s)(?=%[1]s))`, w)
		} else {
			fmt.Fprintf(b, `(?:(?<=%[1]s)(?=%[1]s)|(?<!%[1]s)(?!%[1]s))`, w)
		}
	case OpCapture:
		if p.onCapture != nil {
			p.onCapture(n)
		}
		switch {
		case p.dialect == dialectNET:
			b.WriteString("(?<" + p.groupRef(n.Cap) + ">")
		case p.dialect == dialectDebug && n.Name != "":
			b.WriteString("(?P<" + n.Name + ">")
		default:
			b.WriteString("(")
		}
		p.node(n.Sub[0])
		b.WriteString(")")
	case OpConcat:
		for _, s := range n.Sub {
			if s.Op == OpAlternate {
				b.WriteString("(?:")
				p.node(s)
				b.WriteString(")")
				continue
			}
			p.node(s)
		}
	case OpAlternate:
		for i, s := range n.Sub {
			if i > 0 {
				b.WriteString("|")
			}
			p.node(s)
		}
	case OpRepeat:
		b.WriteString("(?:")
		p.node(n.Sub[0])
		b.WriteString(")")
		switch {
		case n.Min == 0 && n.Max == -1:
			b.WriteString("*")
		case n.Min == 1 && n.Max == -1:
			b.WriteString("+")
		case n.Min == 0 && n.Max == 1:
			b.WriteString("?")
		case n.Max == -1:
			fmt.Fprintf(b, "{%d,}", n.Min)
		case n.Min == n.Max:
			fmt.Fprintf(b, "{%d}", n.Min)
		default:
			fmt.Fprintf(b, "{%d,%d}", n.Min, n.Max)
		}
		if !n.Greedy {
			b.WriteString("?")
		}
		if p.dialect == dialectGo && (n.Min > 1000 || n.Max > 1000) {
			p.fail("a repetition count above 1000")
		}
	case OpLook:
		if p.dialect == dialectGo {
			p.fail("lookaround")
		}
		switch {
		case n.Behind && n.Negate:
			b.WriteString("(?<!")
		case n.Behind:
			b.WriteString("(?<=")
		case n.Negate:
			b.WriteString("(?!")
		default:
			b.WriteString("(?=")
		}
		p.node(n.Sub[0])
		b.WriteString(")")
	case OpBackref:
		if p.dialect == dialectGo {
			p.fail("a backreference")
		}
		if n.Fold {
			b.WriteString("(?i:")
		}
		b.WriteString(`\k<` + p.groupRef(n.Cap) + ">")
		if n.Fold {
			b.WriteString(")")
		}
	case OpCond:
		if p.dialect == dialectGo {
			p.fail("a conditional group")
		}
		b.WriteString("(?(" + p.groupRef(n.Cap) + ")")
		p.group(n.Sub[0])
		b.WriteString("|")
		p.group(n.Sub[1])
		b.WriteString(")")
	case OpAtomic:
		if p.dialect == dialectGo {
			p.fail("an atomic group")
		}
		b.WriteString("(?>")
		p.node(n.Sub[0])
		b.WriteString(")")
	}
}

// group prints n inside a non-capturing group, so that an alternation in
// it stays one branch.
func (p *printer) group(n *Node) {
	p.b.WriteString("(?:")
	p.node(n)
	p.b.WriteString(")")
}

// writeRune writes r escaped for a regular expression outside a class.
func writeRune(b *strings.Builder, r rune) {
	switch {
	case r < utf8.RuneSelf && strings.ContainsRune(`\.+*?()|[]{}^$#&-~ `, r):
		if r == ' ' || r == '#' || r == '&' || r == '~' || r == '-' {
			b.WriteRune(r)
			return
		}
		b.WriteByte('\\')
		b.WriteRune(r)
	case r < ' ' || r == 0x7f || !unicode.IsPrint(r) || r == utf8.RuneError:
		fmt.Fprintf(b, `\x{%x}`, r)
	default:
		b.WriteRune(r)
	}
}

// writeClass writes a class of rune ranges.
func writeClass(b *strings.Builder, ranges []rune) {
	if len(ranges) == 0 {
		// An empty class matches nothing.
		b.WriteString(`[^\x00-\x{10FFFF}]`)
		return
	}
	b.WriteString("[")
	for i := 0; i+1 < len(ranges); i += 2 {
		writeClassRune(b, ranges[i])
		if ranges[i+1] != ranges[i] {
			b.WriteByte('-')
			writeClassRune(b, ranges[i+1])
		}
	}
	b.WriteString("]")
}

func writeClassRune(b *strings.Builder, r rune) {
	if r < utf8.RuneSelf && r > ' ' && r != 0x7f && !strings.ContainsRune(`\[]^-`, r) {
		b.WriteRune(r)
		return
	}
	fmt.Fprintf(b, `\x{%x}`, r)
}

// walk calls fn for n and every node below it, depth first; fn returns
// false to skip a node's children.
func walk(n *Node, fn func(*Node) bool) {
	if !fn(n) {
		return
	}
	for _, s := range n.Sub {
		walk(s, fn)
	}
}

// needsBacktracking reports whether the tree has a construct only a
// backtracking engine has.
func needsBacktracking(n *Node) bool {
	found := false
	walk(n, func(x *Node) bool {
		switch x.Op {
		case OpLook, OpBackref, OpCond, OpAtomic:
			found = true
		}
		return !found
	})
	return found
}
