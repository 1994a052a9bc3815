package pyre

import "unicode/utf8"

// rewriteRE2 returns the tree of t rewritten, where it can be, so that it
// has no construct RE2 lacks. The rewrites keep the positions of every
// group but the whole match (group 0), which only the fast matcher reports
// exactly; the result may share nodes with t.
func rewriteRE2(t *Tree) (*Node, error) {
	root := t.Root
	if !needsBacktracking(root) {
		return root, nil
	}
	root = unwrapEdgeLooks(root)
	root = expandBackrefs(root)
	return root, nil
}

// Limits of expandBackrefs.
const (
	maxBackrefStrings = 8  // texts a referenced group may match
	maxBackrefLen     = 16 // runes of each
)

// expandBackrefs rewrites a backreference to a group that can only match a
// few short texts, as an alternation over those texts in the group's order
// of preference, the rest of the concatenation copied into each branch:
//
//	(?P<q>"?)\S+(?P=q)  ->  (?:(?P<q>")\S+"|(?P<q>)\S+)
//
// fail2ban's selinux filters quote a field this way.
func expandBackrefs(n *Node) *Node {
	if len(n.Sub) == 0 {
		return n
	}
	c := *n
	c.Sub = make([]*Node, len(n.Sub))
	for i, s := range n.Sub {
		c.Sub[i] = expandBackrefs(s)
	}
	if c.Op != OpConcat {
		return &c
	}
	for i, g := range c.Sub {
		if g.Op != OpCapture {
			continue
		}
		texts, ok := finiteTexts(g.Sub[0])
		if !ok {
			continue
		}
		rest := c.Sub[i+1:]
		if !refersTo(rest, g.Cap) {
			continue
		}
		alt := &Node{Op: OpAlternate}
		for _, t := range texts {
			branch := &Node{Op: OpConcat, Sub: []*Node{{Op: OpCapture, Cap: g.Cap, Name: g.Name, Sub: []*Node{literalNode(t, false)}}}}
			for _, r := range rest {
				branch.Sub = append(branch.Sub, replaceBackref(r, g.Cap, t))
			}
			alt.Sub = append(alt.Sub, branch)
		}
		c.Sub = append(c.Sub[:i:i], alt)
		return &c
	}
	return &c
}

// literalNode returns a literal (or empty) node for t.
func literalNode(t []rune, fold bool) *Node {
	if len(t) == 0 {
		return &Node{Op: OpEmpty}
	}
	return &Node{Op: OpLiteral, Runes: t, Fold: fold}
}

// refersTo reports whether nodes refer to group k with a backreference,
// outside of any repetition.
func refersTo(nodes []*Node, k int) bool {
	found, inLoop := false, false
	var visit func(n *Node, loop bool)
	visit = func(n *Node, loop bool) {
		if n.Op == OpBackref && n.Cap == k {
			found = true
			inLoop = inLoop || loop
		}
		if n.Op == OpCond && n.Cap == k {
			inLoop = true // not handled
		}
		for _, s := range n.Sub {
			visit(s, loop || n.Op == OpRepeat)
		}
	}
	for _, n := range nodes {
		visit(n, false)
	}
	return found && !inLoop
}

// replaceBackref returns n with backreferences to group k replaced by t.
func replaceBackref(n *Node, k int, t []rune) *Node {
	if n.Op == OpBackref && n.Cap == k {
		return literalNode(t, n.Fold)
	}
	if len(n.Sub) == 0 {
		return n
	}
	c := *n
	c.Sub = make([]*Node, len(n.Sub))
	for i, s := range n.Sub {
		c.Sub[i] = replaceBackref(s, k, t)
	}
	return &c
}

// finiteTexts returns the texts n can match, in its order of preference,
// if they are few and short and n has no group or assertion.
func finiteTexts(n *Node) ([][]rune, bool) {
	var out [][]rune
	switch n.Op {
	case OpEmpty:
		return [][]rune{nil}, true
	case OpLiteral:
		if !plainLiteral(n) {
			// Folded, or utf8.RuneError, which stands for any invalid
			// byte: the group's text is not fixed.
			return nil, false
		}
		return [][]rune{n.Runes}, true
	case OpClass:
		if n.Fold {
			return nil, false
		}
		for i := 0; i+1 < len(n.Ranges); i += 2 {
			for r := n.Ranges[i]; r <= n.Ranges[i+1]; r++ {
				if r == utf8.RuneError {
					return nil, false
				}
				if len(out) == maxBackrefStrings {
					return nil, false
				}
				out = append(out, []rune{r})
			}
		}
		return out, true
	case OpAlternate:
		for _, s := range n.Sub {
			ts, ok := finiteTexts(s)
			if !ok || len(out)+len(ts) > maxBackrefStrings {
				return nil, false
			}
			out = append(out, ts...)
		}
		return out, true
	case OpRepeat:
		if n.Min != 0 || n.Max != 1 {
			return nil, false
		}
		ts, ok := finiteTexts(n.Sub[0])
		if !ok || len(ts)+1 > maxBackrefStrings {
			return nil, false
		}
		if n.Greedy {
			return append(ts, nil), true
		}
		return append([][]rune{nil}, ts...), true
	case OpConcat:
		out = [][]rune{nil}
		for _, s := range n.Sub {
			ts, ok := finiteTexts(s)
			if !ok || len(out)*len(ts) > maxBackrefStrings {
				return nil, false
			}
			var next [][]rune
			for _, a := range out {
				for _, b := range ts {
					t := append(append([]rune(nil), a...), b...)
					if len(t) > maxBackrefLen {
						return nil, false
					}
					next = append(next, t)
				}
			}
			out = next
		}
		return out, true
	}
	return nil, false
}

// unwrapEdgeLooks replaces fail2ban's word-boundary lookaheads at the start
// and the end of an expression (its date templates have them) by the same
// alternation without the lookahead:
//
//	(?=^|\b|\W)X  ->  (?:^|\b|\W)X
//	X(?=\b|\W|$)  ->  X(?:\b|\W|$)
//
// At the end, consuming the non-word character changes nothing but the
// end of the match. At the start, the \W branch now consumes the character
// before X instead of looking at the first character of X; both forms let X
// start exactly where the character before X or the first of X is not a
// word character (or at a boundary), and a search tries the starts of X in
// the same order.
func unwrapEdgeLooks(root *Node) *Node {
	if root.Op != OpConcat || len(root.Sub) < 2 {
		return root
	}
	subs := append([]*Node(nil), root.Sub...)
	if first := subs[0]; isLook(first, false) && isBoundaryAlt(first.Sub[0], true) {
		subs[0] = first.Sub[0]
	}
	if last := subs[len(subs)-1]; isLook(last, false) && isBoundaryAlt(last.Sub[0], false) {
		subs[len(subs)-1] = last.Sub[0]
	}
	return &Node{Op: OpConcat, Sub: subs}
}

// isLook reports whether n is a positive lookahead (behind false) or
// lookbehind.
func isLook(n *Node, behind bool) bool {
	return n.Op == OpLook && !n.Negate && n.Behind == behind
}

// isBoundaryAlt reports whether n is "^|\b|\W" (start) or "\b|\W|$".
func isBoundaryAlt(n *Node, start bool) bool {
	if n.Op != OpAlternate || len(n.Sub) != 3 {
		return false
	}
	a, b, c := n.Sub[0], n.Sub[1], n.Sub[2]
	if start {
		return (a.Op == OpBeginText || a.Op == OpBeginLine) && b.Op == OpWordBoundary && isNonWordClass(c)
	}
	return a.Op == OpWordBoundary && isNonWordClass(b) && (c.Op == OpEndTextNL || c.Op == OpEndText || c.Op == OpEndLine)
}

// isNonWordClass reports whether n is \W (Unicode or ASCII).
func isNonWordClass(n *Node) bool {
	if n.Op != OpClass {
		return false
	}
	return equalRanges(n.Ranges, negateRanges(wordRanges)) || equalRanges(n.Ranges, negateRanges(asciiWord))
}

func equalRanges(a, b []rune) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
