package match

import "regexp/syntax"

// requiredLiteral returns the longest literal string that every match of
// the expression must contain, or "" if there is none worth checking. A
// line that does not contain it cannot match, which strings.Contains tells
// much faster than the regular expression engine.
func requiredLiteral(expr string) string {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return ""
	}
	return required(re)
}

// required returns the longest literal that every match of re contains.
func required(re *syntax.Regexp) string {
	switch re.Op {
	case syntax.OpLiteral:
		if re.Flags&syntax.FoldCase != 0 {
			return ""
		}
		return string(re.Rune)
	case syntax.OpCapture, syntax.OpPlus:
		return required(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min >= 1 {
			return required(re.Sub[0])
		}
	case syntax.OpConcat:
		best, run := "", ""
		for _, sub := range re.Sub {
			switch {
			case sub.Op == syntax.OpLiteral && sub.Flags&syntax.FoldCase == 0:
				run += string(sub.Rune)
			case isEmptyWidth(sub.Op):
				// Zero-width assertions do not break a run of literals.
			default:
				run = ""
				if s := required(sub); len(s) > len(best) {
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

// isEmptyWidth reports whether op matches the empty string only.
func isEmptyWidth(op syntax.Op) bool {
	switch op {
	case syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText,
		syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpEmptyMatch:
		return true
	}
	return false
}
