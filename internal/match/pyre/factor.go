package pyre

import (
	"slices"
	"unicode/utf8"
)

// maxExact bounds the sets of strings factor works with: a part with more
// possible texts than this is not spelled out.
const maxExact = 16

// litInfo is what factor knows of the texts a part of an expression
// matches.
type litInfo struct {
	// exact lists every text the part can match ("" among them if it can
	// match the empty string); nil if they are not known or too many.
	exact []string
	// need is a set of strings one of which every match of the part
	// contains; nil if none is known.
	need []string
}

// factor returns strings one of which every match of n contains, or nil
// if it knows of no such set. A text that contains none of them cannot
// match, which a few substring searches tell much faster than any search
// for the expression. For fail2ban's "^[iI](?:llegal|nvalid) user " it is
// "Illegal user ", "Invalid user ", "illegal user " and "invalid user ".
func factor(n *Node) []string {
	need := litFacts(n).need
	if len(need) == 0 || slices.Contains(need, "") {
		return nil
	}
	return need
}

// litFacts works out what factor needs for n.
func litFacts(n *Node) litInfo {
	switch n.Op {
	case OpLiteral:
		if !plainLiteral(n) {
			return litInfo{}
		}
		return exactInfo([]string{string(n.Runes)})
	case OpClass:
		if set, ok := smallClass(n.Ranges); ok {
			return exactInfo(set)
		}
	case OpCapture, OpAtomic:
		return litFacts(n.Sub[0])
	case OpConcat:
		return concatFacts(n.Sub)
	case OpAlternate, OpCond:
		// A conditional matches one of its two branches.
		return altFacts(n.Sub)
	case OpRepeat:
		sub := litFacts(n.Sub[0])
		switch {
		case n.Min == 1 && n.Max == 1:
			return sub
		case n.Min == 0 && n.Max == 1 && sub.exact != nil && len(sub.exact) < maxExact:
			return exactInfo(union(sub.exact, []string{""}))
		case n.Min >= 1:
			return litInfo{need: sub.need}
		}
	default:
		if isZeroWidth(n.Op) {
			return exactInfo([]string{""})
		}
	}
	return litInfo{}
}

// exactInfo is the litInfo of a part that matches exactly one of set.
func exactInfo(set []string) litInfo {
	info := litInfo{exact: set}
	if !slices.Contains(set, "") {
		info.need = set
	}
	return info
}

// concatFacts is litFacts of a sequence: runs of parts with known texts
// are multiplied out, and the best of their sets and of the other parts'
// needs is what the sequence needs.
func concatFacts(subs []*Node) litInfo {
	var best []string
	consider := func(set []string) {
		if set != nil && !slices.Contains(set, "") && better(set, best) {
			best = set
		}
	}
	run := []string{""}
	exact := true // every part so far has known texts
	for _, sub := range subs {
		info := litFacts(sub)
		if info.exact != nil && len(run)*len(info.exact) <= maxExact {
			run = cross(run, info.exact)
			continue
		}
		exact = false
		consider(run)
		consider(info.need)
		run = []string{""}
		if info.exact != nil {
			// Too many texts to multiply out: the run starts again with
			// this part's.
			run = info.exact
		}
	}
	consider(run)
	if exact {
		return litInfo{exact: run, need: best}
	}
	return litInfo{need: best}
}

// altFacts is litFacts of alternatives: a match is one of theirs.
func altFacts(subs []*Node) litInfo {
	var exact, need []string
	exactOK, needOK := true, true
	for _, sub := range subs {
		info := litFacts(sub)
		exactOK = exactOK && info.exact != nil
		if exactOK {
			exact = union(exact, info.exact)
			exactOK = len(exact) <= maxExact
		}
		needOK = needOK && info.need != nil
		if needOK {
			need = union(need, info.need)
		}
	}
	if exactOK {
		return exactInfo(exact)
	}
	if needOK {
		return litInfo{need: need}
	}
	return litInfo{}
}

// better reports whether set a is a better need than b: its shortest
// string is longer (fewer texts contain it), or as long with fewer strings
// to look for.
func better(a, b []string) bool {
	if b == nil {
		return true
	}
	la, lb := shortest(a), shortest(b)
	return la > lb || la == lb && len(a) < len(b)
}

// shortest returns the length of the shortest string of set.
func shortest(set []string) int {
	n := -1
	for _, s := range set {
		if n < 0 || len(s) < n {
			n = len(s)
		}
	}
	return n
}

// cross returns every string of a followed by every string of b.
func cross(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return dedupe(out)
}

// union returns the strings of a and of b, each once.
func union(a, b []string) []string {
	return dedupe(append(slices.Clip(a), b...))
}

// dedupe sorts set and drops repeated strings.
func dedupe(set []string) []string {
	slices.Sort(set)
	return slices.Compact(set)
}

// smallClass returns the strings of a class of a few ASCII characters.
func smallClass(ranges []rune) ([]string, bool) {
	var set []string
	for k := 0; k+1 < len(ranges); k += 2 {
		lo, hi := ranges[k], ranges[k+1]
		if hi >= utf8.RuneSelf || int(hi-lo)+1+len(set) > 4 {
			return nil, false
		}
		for r := lo; r <= hi; r++ {
			set = append(set, string(r))
		}
	}
	return set, len(set) > 0
}
