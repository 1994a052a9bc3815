package pyre

import (
	"slices"
	"unicode/utf8"
)

// requiredLiteral returns the longest literal string that every match of n
// must contain, or "" if there is none worth checking. A line that does not
// contain it cannot match, which strings.Contains tells much faster than
// any regular expression engine.
func requiredLiteral(n *Node) string {
	switch n.Op {
	case OpLiteral:
		if !plainLiteral(n) {
			return ""
		}
		return string(n.Runes)
	case OpCapture, OpAtomic:
		return requiredLiteral(n.Sub[0])
	case OpRepeat:
		if n.Min >= 1 {
			return requiredLiteral(n.Sub[0])
		}
	case OpConcat:
		best, run := "", ""
		for _, sub := range n.Sub {
			switch {
			case plainLiteral(sub):
				run += string(sub.Runes)
			case isZeroWidth(sub.Op):
				// Zero-width assertions do not break a run of literals.
			default:
				run = ""
				if s := requiredLiteral(sub); len(s) > len(best) {
					best = s
				}
			}
			if len(run) > len(best) {
				best = run
			}
		}
		return best
	}
	return ""
}

// plainLiteral reports whether n is a literal that matches its own UTF-8
// bytes: not case-folded, and without utf8.RuneError (which also matches
// any invalid byte of the text).
func plainLiteral(n *Node) bool {
	return n.Op == OpLiteral && !n.Fold && !slices.Contains(n.Runes, utf8.RuneError)
}

// isZeroWidth reports whether op matches the empty string only.
func isZeroWidth(op Op) bool {
	switch op {
	case OpBeginText, OpBeginLine, OpEndText, OpEndTextNL, OpEndLine,
		OpWordBoundary, OpNoWordBoundary, OpEmpty, OpLook:
		return true
	}
	return false
}

// anchoredPrefix returns the literal text every match of n starts with, if
// every match starts at the beginning of the text ("" otherwise): a text
// that does not start with it cannot match, which strings.HasPrefix tells
// at once.
func anchoredPrefix(n *Node) string {
	var lit []rune
	anchored := false
	var walk func(n *Node) bool // reports whether the prefix may go on after n
	walk = func(n *Node) bool {
		switch n.Op {
		case OpBeginText:
			anchored = anchored || len(lit) == 0
			return true
		case OpEmpty:
			return true
		case OpLiteral:
			if !anchored || !plainLiteral(n) {
				return false
			}
			lit = append(lit, n.Runes...)
			return true
		case OpCapture, OpAtomic:
			return walk(n.Sub[0])
		case OpConcat:
			for _, sub := range n.Sub {
				if !walk(sub) {
					return false
				}
			}
			return true
		}
		return false
	}
	walk(n)
	return string(lit)
}

// markCondGroups prepares a shortcut for conditionals, (?(g)yes|no): where
// the rest of the expression needs more literal text once group g has
// matched than it does otherwise (the literals of yes), it sets the
// group's after to that text. A path into the group where the text does
// not follow cannot match, and the fast matcher leaves it at once instead
// of matching the group and everything up to the conditional first (for
// fail2ban's sshd filter, most of a line, in vain, on every line).
func markCondGroups(root *Node) {
	tested := map[int]bool{}
	var find func(n *Node)
	find = func(n *Node) {
		if n.Op == OpCond {
			tested[n.Cap] = true
		}
		for _, sub := range n.Sub {
			find(sub)
		}
	}
	find(root)
	if len(tested) == 0 {
		return
	}
	// visit sees n followed by rest (nil where what follows is not known
	// for sure: in a repetition, or a lookaround).
	var visit func(n *Node, rest []*Node)
	visit = func(n *Node, rest []*Node) {
		switch n.Op {
		case OpConcat:
			for k, sub := range n.Sub {
				visit(sub, append(slices.Clip(n.Sub[k+1:]), rest...))
			}
		case OpCapture:
			if tested[n.Cap] {
				with, without := literalSeq(rest, n.Cap), literalSeq(rest, 0)
				if !slices.Equal(with, without) {
					n.after = with
				}
			}
			visit(n.Sub[0], rest)
		case OpAlternate, OpCond:
			for _, sub := range n.Sub {
				visit(sub, rest)
			}
		case OpAtomic:
			visit(n.Sub[0], rest)
		case OpRepeat:
			if n.Max == 1 {
				visit(n.Sub[0], rest)
			} else {
				visit(n.Sub[0], nil)
			}
		case OpLook:
			visit(n.Sub[0], nil)
		}
	}
	visit(root, nil)
}

// literalSeq returns literals that a match of the nodes in sequence must
// contain, in this order and without overlapping, with group g (0: none)
// known to have matched: a conditional on g takes its yes branch.
func literalSeq(nodes []*Node, g int) []string {
	var out []string
	run := ""
	flush := func() {
		if run != "" {
			out = append(out, run)
			run = ""
		}
	}
	var add func(n *Node)
	add = func(n *Node) {
		switch {
		case plainLiteral(n):
			run += string(n.Runes)
		case isZeroWidth(n.Op):
			// Takes no text: the literals around it stay adjacent.
		case n.Op == OpCapture || n.Op == OpAtomic:
			add(n.Sub[0])
		case n.Op == OpConcat:
			for _, sub := range n.Sub {
				add(sub)
			}
		case n.Op == OpRepeat && n.Min >= 1:
			flush()
			add(n.Sub[0])
			flush()
		case n.Op == OpCond && g > 0 && n.Cap == g:
			add(n.Sub[0])
		default:
			flush()
		}
	}
	for _, n := range nodes {
		add(n)
	}
	flush()
	return out
}
