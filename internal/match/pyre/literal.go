package pyre

// requiredLiteral returns the longest literal string that every match of n
// must contain, or "" if there is none worth checking. A line that does not
// contain it cannot match, which strings.Contains tells much faster than
// any regular expression engine.
func requiredLiteral(n *Node) string {
	switch n.Op {
	case OpLiteral:
		if n.Fold {
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
			case sub.Op == OpLiteral && !sub.Fold:
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

// isZeroWidth reports whether op matches the empty string only.
func isZeroWidth(op Op) bool {
	switch op {
	case OpBeginText, OpBeginLine, OpEndText, OpEndTextNL, OpEndLine,
		OpWordBoundary, OpNoWordBoundary, OpEmpty, OpLook:
		return true
	}
	return false
}
