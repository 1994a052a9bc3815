package pyre

import (
	"slices"
	"sync"
	"unicode/utf8"
)

// Some parts of fail2ban's expressions are so common that the fast matcher
// runs them as Go code rather than as instructions: the address groups of
// <HOST>, <ADDR>, <IP4> and <IP6>. An IPv6 address takes the instructions
// about 30 of the 79 steps of fail2ban's "Failed password" failregex on
// its line; as Go code it is one. The Go code lists every end the part's
// backtracking would try, in the order it would try them (each end once:
// the part has no groups, so trying an end again gives what it gave), and
// the matcher tries the rest of the expression at each, as it does for the
// ends of a loop.

// nativeKind is a part of an expression run as Go code.
type nativeKind uint8

const (
	nativeNone nativeKind = iota
	nativeIP4             // (?:\d{1,3}\.){3}\d{1,3}
	nativeIP6             // (?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)
)

// nativeExprs are the parts run as Go code, as expressions.
var nativeExprs = map[nativeKind]string{
	nativeIP4: `(?:\d{1,3}\.){3}\d{1,3}`,
	nativeIP6: `(?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:)`,
}

// nativeTrees are the syntax trees of nativeExprs.
var nativeTrees = sync.OnceValue(func() map[nativeKind]*Node {
	out := map[nativeKind]*Node{}
	for k, expr := range nativeExprs {
		t, err := Parse(expr, 0)
		if err != nil {
			panic("pyre: " + expr + ": " + err.Error())
		}
		out[k] = t.Root
	}
	return out
})

// nativeFor returns the kind of Go code that runs n, if any: n must be
// one of nativeExprs node for node (the same flags, classes and counts).
func nativeFor(n *Node) nativeKind {
	for k, t := range nativeTrees() {
		if sameTree(n, t) {
			return k
		}
	}
	return nativeNone
}

// sameTree reports whether a and b are the same syntax tree, group numbers
// and names aside.
func sameTree(a, b *Node) bool {
	if a.Op != b.Op || a.Fold != b.Fold || a.Min != b.Min || a.Max != b.Max || a.Greedy != b.Greedy ||
		a.Behind != b.Behind || a.Negate != b.Negate || a.Width != b.Width || a.ASCII != b.ASCII ||
		!slices.Equal(a.Runes, b.Runes) || !slices.Equal(a.Ranges, b.Ranges) || len(a.Sub) != len(b.Sub) {
		return false
	}
	if a.Op == OpCapture || a.Op == OpBackref || a.Op == OpCond {
		return false // group numbers would have to match too: not needed
	}
	for k := range a.Sub {
		if !sameTree(a.Sub[k], b.Sub[k]) {
			return false
		}
	}
	return true
}

// nativeNode runs a part as Go code; body is the same part as nodes, run
// where the Go code does not decide (a non-ASCII digit may stand in an
// IPv4 address).
type nativeNode struct {
	kind       nativeKind
	body, next node
}

func (n *nativeNode) inst(l *lowerer) inst {
	return inst{op: opNative, native: n.kind, body: l.pc(n.body), next: l.pc(n.next)}
}

// nativeWork bounds the steps of one IPv6 listing: beyond it (text made
// to make it branch), the instructions run instead, under their budget.
// Tests lower it to see that they do.
var nativeWork = 256

// nativeEnds appends to ends where a part of kind k can end if it starts at
// s[i:], in the order backtracking tries them, each once, and returns the
// steps it took. With first, the first end is all the caller needs (more
// may follow it). ok is false if it cannot tell (the instructions must
// run).
func nativeEnds(k nativeKind, s string, i int, ends []int, first bool) (out []int, steps int, ok bool) {
	switch k {
	case nativeIP4:
		out, ok = ip4Ends(s, i, ends)
		return out, 4, ok
	case nativeIP6:
		if first {
			switch end, way := ip6First(s, i); way {
			case ip6End:
				return append(ends, end), 8, true
			case ip6NoEnd:
				return ends, 8, true
			}
		}
		e := ip6Enum{s: s, ends: ends, base: len(ends), work: nativeWork, first: first}
		e.units(i, 0)
		return e.ends, nativeWork - e.work, e.work >= 0
	}
	return ends, 0, false
}

// ip4Ends lists the ends of (?:\d{1,3}\.){3}\d{1,3}. In each of the first
// three groups only the longest run of digits can be followed by ".", and
// the last run is tried from its longest down. \d also takes other
// scripts' digits: at a non-ASCII byte where a digit may stand, ok is
// false.
func ip4Ends(s string, i int, ends []int) ([]int, bool) {
	p := i
	for range 3 {
		n, ok := digitRun(s, p)
		if !ok {
			return ends, false
		}
		if n == 0 || p+n >= len(s) || s[p+n] != '.' {
			return ends, true
		}
		p += n + 1
	}
	n, ok := digitRun(s, p)
	if !ok {
		return ends, false
	}
	for k := n; k >= 1; k-- {
		ends = append(ends, p+k)
	}
	return ends, true
}

// digitRun returns how many ASCII digits, at most 3, start at s[p:]; ok is
// false if fewer than 3 are followed by a non-ASCII byte.
func digitRun(s string, p int) (int, bool) {
	n := 0
	for n < 3 && p+n < len(s) && s[p+n] >= '0' && s[p+n] <= '9' {
		n++
	}
	if n < 3 && p+n < len(s) && s[p+n] >= utf8.RuneSelf {
		return n, false
	}
	return n, true
}

// ip6Enum lists the ends of
// (?:[0-9a-fA-F]{1,4}::?|::){1,7}(?:[0-9a-fA-F]{1,4}|:).
type ip6Enum struct {
	s    string
	ends []int
	base int // ends[base:] are this listing's
	work int // steps left
	// first: only the first end is wanted (the listing stops there).
	first bool
}

// units goes on after k groups of the loop, at p: the greedy loop tries
// another group first (its alternatives in order, the optional second ":"
// taken first), then what follows it.
func (e *ip6Enum) units(p, k int) {
	if e.work--; e.work < 0 || e.done() {
		return
	}
	s := e.s
	if k < 7 {
		// A hex run can only be followed by ":" where it ends (at most
		// four digits).
		if n := hexRun(s, p); n > 0 && p+n < len(s) && s[p+n] == ':' {
			q := p + n + 1
			if q < len(s) && s[q] == ':' {
				e.units(q+1, k+1)
			}
			e.units(q, k+1)
		}
		if p+1 < len(s) && s[p] == ':' && s[p+1] == ':' {
			e.units(p+2, k+1)
		}
	}
	if k >= 1 {
		for n := hexRun(s, p); n >= 1 && !e.done(); n-- {
			e.add(p + n)
		}
		if p < len(s) && s[p] == ':' && !e.done() {
			e.add(p + 1)
		}
	}
}

// What ip6First found.
const (
	ip6Stuck = iota // the first way through gets stuck: list them all
	ip6End          // the first end
	ip6NoEnd        // no group starts here: no end at all
)

// ip6First returns the first end ip6Enum lists, found without listing:
// the first way through the groups takes each group as long as it can be,
// then the longest last part. Where that way gets stuck the listing must
// look at the others.
func ip6First(s string, p int) (int, int) {
	for k := 0; ; k++ {
		if k < 7 {
			if n := hexRun(s, p); n > 0 && p+n < len(s) && s[p+n] == ':' {
				p += n + 1
				if p < len(s) && s[p] == ':' {
					p++
				}
				continue
			}
			if p+1 < len(s) && s[p] == ':' && s[p+1] == ':' {
				p += 2
				continue
			}
		}
		switch {
		case k == 0:
			return 0, ip6NoEnd
		case hexRun(s, p) > 0:
			return p + hexRun(s, p), ip6End
		case p < len(s) && s[p] == ':':
			return p + 1, ip6End
		}
		return 0, ip6Stuck
	}
}

// done reports whether the listing has what it wants.
func (e *ip6Enum) done() bool { return e.first && len(e.ends) > e.base }

// add lists an end, unless it is listed.
func (e *ip6Enum) add(end int) {
	if !slices.Contains(e.ends[e.base:], end) {
		e.ends = append(e.ends, end)
	}
}

// hexRun returns how many hex digits, at most 4, start at s[p:].
func hexRun(s string, p int) int {
	n := 0
	for n < 4 && p+n < len(s) && isHex(s[p+n]) {
		n++
	}
	return n
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}
