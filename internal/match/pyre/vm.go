package pyre

import (
	"encoding/binary"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// The fast matcher runs an expression as a program of instructions with
// an explicit stack of the choices left to try (a backtracking virtual
// machine). The program is lowered from the graph of nodes build makes:
// each node becomes one instruction whose successors are the instructions
// of the nodes it continues with. A loop over instructions costs a few
// nanoseconds a step where a call per node cost several times that.

// opcode is the kind of an instruction: that of the node it comes from.
type opcode uint8

const (
	// Instructions that go straight on: they run at most once between
	// two choices, so the budget does not count them.
	opMatch    opcode = iota // matchNode: the match ends here
	opAccept                 // acceptNode, atomicEnd: a lookaround or atomic body ends here
	opLit                    // litNode
	opFoldLit                // foldLitNode
	opRune                   // runeNode
	opAssert                 // assertNode
	opCap                    // capNode
	opNeed                   // needNode
	opCond                   // condNode
	opLookPred               // lookPredNode
	// Instructions that make choices or run bodies of their own: each
	// costs a step of the budget.
	opRuneLoop // runeLoop
	opAlt      // altNode
	opQuest    // questNode
	opLoop     // loopNode
	opLook     // lookNode
	opBackref  // backrefNode
	opAtomic   // atomicNode
	opNative   // nativeNode
)

// inst is an instruction. next is the instruction that follows it; body
// that of an optional part, a loop's body, a lookaround's or an atomic
// group's body, or a condition's yes branch (extra.no holds its no
// branch). The fields the common instructions read fit in 64 bytes, a
// cache line; the others are in extra.
type inst struct {
	op         opcode
	greedy     bool
	possessive bool
	behind     bool // opAccept, opLook: of a lookbehind
	negate     bool
	caps       bool // opLook: its body has groups
	fold       bool
	ascii      bool // opAssert: \b, \B over ASCII word characters only
	native     nativeKind
	assert     Op    // opAssert
	rare       uint8 // opRuneLoop: the index in lit of the byte lastIndex looks for
	slot       int32 // opCap, opBackref, opCond
	// preCap, if not 0, is 1 + the group slot that takes the position
	// before the instruction runs: a capNode folded into the instruction
	// after it, which saves a step.
	preCap int32
	next   int32
	body   int32
	// opRuneLoop: max < 0 is unbounded; opLook: min is the width. build
	// leaves bounds too large for them to the fallback engines.
	min, max int16
	lit      string
	// set holds the runes of opRune and opRuneLoop; of opQuest's, only
	// bytes is used: the bytes its optional part can start with (a nil
	// set: any, or none at all).
	set *runeSet
	*extra
}

// extra holds the fields of the rarer instructions, out of the way of the
// common ones.
type extra struct {
	alts     []int32      // opAlt
	altFirst []*[4]uint64 // opAlt
	lits     []string     // opNeed
	runes    []rune       // opFoldLit
	preds    []*Node      // opLookPred
	stop     string       // opRuneLoop: see runeLoop.stop
	no       int32        // opCond
}

// frame is an entry of the backtracking stack: a choice left to try, or
// a change to undo on the way back.
type frame struct {
	kind frameKind
	pc   int32 // the instruction the choice belongs to
	i    int32 // a position (fRunes: an index of Machine.stack)
	a, b int32
}

type frameKind uint8

const (
	fChoice  frameKind = iota // go on at pc, i
	fCap                      // set caps[a] back to b
	fSaved                    // set all group slots back to the copy at saved[a]
	fAlt                      // try alternative a of the opAlt at pc, at i
	fGreedy                   // a greedy loop at pc ended at i; try i-1 down to a
	fLazy                     // a lazy loop at pc ended at i; try i+1 up to a
	fHint                     // a loop at pc with a hint: try its occurrences in [a, b]
	fRunes                    // a loop at pc over non-ASCII text, its ends on Machine.stack from index a: it tried stack[i]; try on towards index b
	fBackOff                  // ".*" at pc tried its longest run, from i to a; try shorter ones
	fEnds                     // the native part at pc, its ends on Machine.stack at indexes a to b: it tried the one at index i
	fNative                   // the native part at pc, started at i, tried its first end only
)

// lowerer turns a graph of nodes into instructions.
type lowerer struct {
	insts []inst
	ready []bool // insts[pc] is lowered (not a placeholder)
	pcs   map[node]int32
}

// lower returns the instructions of the graph that starts with start, and
// the index of the first.
func lower(start node) ([]inst, int32) {
	l := &lowerer{pcs: map[node]int32{}}
	pc := l.pc(start)
	return l.insts, pc
}

// pc returns the index of n's instruction, lowering it first if needed.
// The index is taken before n's successors are lowered, so that a loop can
// continue with itself.
func (l *lowerer) pc(n node) int32 {
	if lit, ok := n.(*litNode); ok && lit.lit == "" {
		return l.pc(lit.next) // matches empty
	}
	if pc, ok := l.pcs[n]; ok {
		return pc
	}
	pc := int32(len(l.insts))
	l.pcs[n] = pc
	l.insts = append(l.insts, inst{})
	l.ready = append(l.ready, false)
	in := n.inst(l)
	l.insts[pc], l.ready[pc] = in, true
	return pc
}

func (matchNode) inst(*lowerer) inst { return inst{op: opMatch} }

func (n acceptNode) inst(*lowerer) inst { return inst{op: opAccept, behind: n.behind} }

func (atomicEnd) inst(*lowerer) inst { return inst{op: opAccept} }

func (n *litNode) inst(l *lowerer) inst {
	return inst{op: opLit, lit: padLit(n.lit), next: l.pc(n.next)}
}

func (n *foldLitNode) inst(l *lowerer) inst {
	return inst{op: opFoldLit, extra: &extra{runes: n.runes}, fold: n.fold, next: l.pc(n.next)}
}

func (n *runeNode) inst(l *lowerer) inst {
	return inst{op: opRune, set: n.set, next: l.pc(n.next)}
}

func (n *runeLoop) inst(l *lowerer) inst {
	in := inst{op: opRuneLoop, set: n.set, min: int16(n.min), max: int16(n.max), greedy: n.greedy,
		possessive: n.possessive, lit: n.hint, rare: rareByte(n.hint), next: l.pc(n.next)}
	if n.stop != "" {
		in.extra = &extra{stop: n.stop}
	}
	return in
}

func (n *assertNode) inst(l *lowerer) inst {
	return inst{op: opAssert, assert: n.op, ascii: n.ascii, next: l.pc(n.next)}
}

func (n *capNode) inst(l *lowerer) inst {
	next := l.pc(n.next)
	if l.ready[next] && l.insts[next].preCap == 0 {
		// A copy of the next instruction that sets the slot first. (Not
		// if the next one is still being lowered, as a loop is by the
		// groups of its body: its placeholder is not its instruction.)
		in := l.insts[next]
		in.preCap = int32(n.slot) + 1
		return in
	}
	return inst{op: opCap, slot: int32(n.slot), next: next}
}

func (n *needNode) inst(l *lowerer) inst {
	return inst{op: opNeed, extra: &extra{lits: n.lits}, next: l.pc(n.next)}
}

func (n *altNode) inst(l *lowerer) inst {
	in := inst{op: opAlt, extra: &extra{alts: make([]int32, len(n.alts)), altFirst: n.first}}
	for k, a := range n.alts {
		in.alts[k] = l.pc(a)
	}
	return in
}

func (n *questNode) inst(l *lowerer) inst {
	in := inst{op: opQuest, greedy: n.greedy, body: l.pc(n.body), next: l.pc(n.next)}
	if n.first != nil {
		in.set = &runeSet{bytes: *n.first}
	}
	return in
}

func (n *loopNode) inst(l *lowerer) inst {
	return inst{op: opLoop, greedy: n.greedy, body: l.pc(n.body), next: l.pc(n.next)}
}

func (n *lookNode) inst(l *lowerer) inst {
	return inst{op: opLook, behind: n.behind, negate: n.negate, min: int16(n.width), caps: n.caps,
		body: l.pc(n.body), next: l.pc(n.next)}
}

func (n *lookPredNode) inst(l *lowerer) inst {
	return inst{op: opLookPred, extra: &extra{preds: n.alts}, negate: n.negate, next: l.pc(n.next)}
}

func (n *backrefNode) inst(l *lowerer) inst {
	return inst{op: opBackref, slot: int32(n.slot), fold: n.fold, next: l.pc(n.next)}
}

func (n *condNode) inst(l *lowerer) inst {
	return inst{op: opCond, slot: int32(n.slot), body: l.pc(n.yes), extra: &extra{no: l.pc(n.no)}}
}

func (n *atomicNode) inst(l *lowerer) inst {
	return inst{op: opAtomic, body: l.pc(n.body), next: l.pc(n.next)}
}

// run matches the program from instruction pc at s[i:] and returns where
// the match ends. A whole expression ends with opMatch; the body of a
// lookaround or an atomic group ends with opAccept, which for a
// lookbehind succeeds only at target. run leaves the backtracking stack
// as it found it, except that it keeps nothing of a body it ran (no
// backtracking into lookaround or atomic groups). If the budget runs out
// it returns false with m.failed set.
func (m *Machine) run(prog []inst, pc int32, i, target int) (int, bool) {
	// The stack, the budget and the group slots are kept in locals, and
	// stored back in m around calls that use them.
	s, caps, bt, steps := m.s, m.caps, m.bt, m.steps
	base, stackBase, savedBase := len(bt), len(m.stack), len(m.saved)
	for {
		in := &prog[pc]
		if in.preCap != 0 {
			k := in.preCap - 1
			bt = push(bt, fCap, 0, 0, int(k), caps[k])
			caps[k] = i
		}
		if in.op >= opRuneLoop {
			if steps--; steps < 0 {
				m.failed, m.bt = true, bt[:base]
				return 0, false
			}
		}
		ok := true
		switch in.op {
		case opMatch:
			caps[1] = i
			m.bt, m.stack, m.saved, m.steps = bt[:base], m.stack[:stackBase], m.saved[:savedBase], steps
			return i, true
		case opAccept:
			if in.behind && i != target {
				ok = false
				break
			}
			m.bt, m.stack, m.saved, m.steps = bt[:base], m.stack[:stackBase], m.saved[:savedBase], steps
			return i, true
		case opLit:
			end := i + len(in.lit)
			if end > len(s) {
				ok = false
				break
			}
			// Most positions tried differ at the first byte: that one
			// is compared here.
			if s[i] != in.lit[0] || len(in.lit) > 1 && !litAt(s, i, in.lit) {
				ok = false
				break
			}
			i, pc = end, in.next
		case opFoldLit:
			i, ok = literalAt(s, i, in.runes, in.fold)
			pc = in.next
		case opRune:
			if i >= len(s) {
				ok = false
				break
			}
			r, w := decodeRune(s, i)
			if !in.set.contains(r) {
				ok = false
				break
			}
			i, pc = i+w, in.next
		case opRuneLoop:
			if in.possessive && in.extra == nil && !in.set.any && !in.set.anyButNL {
				// The common case, without a call: a run that takes all it
				// can and gives none back (\S+ before a space).
				if j, ascii := in.set.run(s, i, int(in.max)); ascii {
					if j < i+int(in.min) {
						ok = false
						break
					}
					i, pc = j, in.next
					break
				}
			}
			m.bt = bt
			i, ok = m.runeLoop(pc, in, i)
			bt = m.bt
			pc = in.next
		case opAssert:
			ok = assertAt(in.assert, in.ascii, s, i)
			pc = in.next
		case opCap:
			bt = push(bt, fCap, 0, 0, int(in.slot), caps[in.slot])
			caps[in.slot] = i
			pc = in.next
		case opNeed:
			at := i
			for _, lit := range in.lits {
				k := strings.Index(s[at:], lit)
				if k < 0 {
					ok = false
					break
				}
				at += k + len(lit)
			}
			pc = in.next
		case opAlt:
			k := nextAlt(in, s, i, 0)
			if k < 0 {
				ok = false
				break
			}
			if k2 := nextAlt(in, s, i, k+1); k2 >= 0 {
				bt = push(bt, fAlt, pc, i, k2, 0)
			}
			pc = in.alts[k]
		case opQuest:
			// Optional parts that cannot start here are skipped in a
			// row (there are many in fail2ban's line prefixes).
			for !in.canStart(s, i) && prog[in.next].op == opQuest && prog[in.next].preCap == 0 {
				if steps--; steps < 0 {
					m.failed, m.bt = true, bt[:base]
					return 0, false
				}
				pc = in.next
				in = &prog[pc]
			}
			if !in.canStart(s, i) {
				pc = in.next
				break
			}
			fallthrough // the part may start here: a choice, as a loop's
		case opLoop:
			if in.greedy {
				bt = push(bt, fChoice, in.next, i, 0, 0)
				pc = in.body
			} else {
				bt = push(bt, fChoice, in.body, i, 0, 0)
				pc = in.next
			}
		case opLook:
			m.bt, m.steps = bt, steps
			ok = m.look(prog, in, i)
			bt, steps = m.bt, m.steps
			if m.failed {
				return 0, false
			}
			pc = in.next
		case opLookPred:
			ok = lookPred(s, i, in.preds) != in.negate
			pc = in.next
		case opBackref:
			i, ok = m.backref(in, i)
			pc = in.next
		case opCond:
			if caps[in.slot] >= 0 {
				pc = in.body
			} else {
				pc = in.no
			}
		case opNative:
			sb := len(m.stack)
			// The first end only: the rest are listed if the matcher
			// comes back for them (fNative).
			ends, work, decided := nativeEnds(in.native, s, i, m.stack, true)
			m.stack = ends
			if steps -= work; steps < 0 {
				m.failed, m.bt, m.stack = true, bt[:base], m.stack[:sb]
				return 0, false
			}
			switch n := len(ends) - sb; {
			case !decided:
				m.stack = m.stack[:sb]
				pc = in.body
			case n == 0:
				ok = false
			default:
				bt = push(bt, fNative, pc, i, 0, 0)
				i, pc = ends[sb], in.next
				m.stack = m.stack[:sb]
			}
		case opAtomic:
			m.bt, m.steps = bt, steps
			saved := m.save()
			end, matched := m.run(prog, in.body, i, -1)
			bt, steps = m.bt, m.steps
			if m.failed {
				return 0, false
			}
			if !matched {
				m.restore(saved)
				ok = false
				break
			}
			bt = push(bt, fSaved, 0, 0, saved, 0)
			i, pc = end, in.next
		}
		if ok {
			continue
		}
		// Backtrack: undo changes and take the latest choice left.
		for {
			if len(bt) == base {
				m.bt, m.steps = bt, steps
				return 0, false
			}
			f := &bt[len(bt)-1]
			if f.kind == fChoice {
				pc, i = f.pc, int(f.i)
				bt = bt[:len(bt)-1]
				break
			}
			if f.kind == fCap {
				caps[f.a] = int(f.b)
				bt = bt[:len(bt)-1]
				continue
			}
			var resumed bool
			switch f.kind {
			case fSaved:
				m.restore(int(f.a))
				bt = bt[:len(bt)-1]
			case fAlt:
				in := &prog[f.pc]
				k := int(f.a)
				pc, i, resumed = in.alts[k], int(f.i), true
				if k2 := nextAlt(in, s, i, k+1); k2 >= 0 {
					f.a = int32(k2)
				} else {
					bt = bt[:len(bt)-1]
				}
			default:
				// A loop's next end: it steps as the loop does.
				if steps--; steps < 0 {
					m.failed, m.bt = true, bt[:base]
					return 0, false
				}
				m.bt, m.steps = bt, steps
				pc, i, resumed = m.nextEnd(prog, f)
				bt, steps = m.bt, m.steps
				if steps < 0 {
					m.failed, m.bt = true, bt[:base]
					return 0, false
				}
			}
			if resumed {
				break
			}
		}
	}
}

// padLit returns a copy of lit followed in memory by 7 bytes of padding,
// for litAt, which reads it by words of 8 bytes.
func padLit(lit string) string {
	b := make([]byte, len(lit), len(lit)+7)
	copy(b, lit)
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// litAt reports whether s[i:] starts with lit, a literal of an opLit
// (padded by padLit), which fits: i+len(lit) <= len(s). It compares 8
// bytes at a time where s has them: most literals of fail2ban's
// expressions are 4 to 16 bytes long, too short for the runtime's
// comparison to pay for its setup, and too long to go byte by byte.
func litAt(s string, i int, lit string) bool {
	n := len(lit)
	if len(s)-i < (n+7)&^7 {
		// Near the end of s: byte by byte.
		for k := 0; k < n; k++ {
			if s[i+k] != lit[k] {
				return false
			}
		}
		return true
	}
	p, q := unsafe.Pointer(unsafe.StringData(s)), unsafe.Pointer(unsafe.StringData(lit))
	for k := 0; k < n; k += 8 {
		d := word(unsafe.Add(p, i+k)) ^ word(unsafe.Add(q, k))
		if rem := n - k; rem < 8 {
			// Only the first rem bytes are the literal's.
			return d<<(64-8*rem) == 0
		}
		if d != 0 {
			return false
		}
	}
	return true
}

// word reads the 8 bytes at p, the first as the lowest.
func word(p unsafe.Pointer) uint64 {
	return binary.LittleEndian.Uint64(unsafe.Slice((*byte)(p), 8))
}

// canStart reports whether the optional part of an opQuest can start at
// s[i:].
func (in *inst) canStart(s string, i int) bool {
	return in.set == nil || i < len(s) && in.set.bytes[s[i]>>6]&(1<<(s[i]&63)) != 0
}

// canStart reports whether a part whose first bytes are first (nil: any,
// or none at all) can start at s[i:].
func canStart(first *[4]uint64, s string, i int) bool {
	return first == nil || i < len(s) && first[s[i]>>6]&(1<<(s[i]&63)) != 0
}

// push appends a frame to bt. It stores the fields one by one: a frame
// built whole and then copied in is stored in parts and loaded at once,
// which stalls the processor.
func push(bt []frame, kind frameKind, pc int32, i, a, b int) []frame {
	n := len(bt)
	if n == cap(bt) {
		bt = grow(bt)
	}
	bt = bt[:n+1]
	f := &bt[n]
	f.kind, f.pc, f.i, f.a, f.b = kind, pc, int32(i), int32(a), int32(b)
	return bt
}

// grow makes room for more frames.
func grow(bt []frame) []frame {
	return append(bt, make([]frame, len(bt)+16)...)[:len(bt)]
}

// nextAlt returns the first alternative of an opAlt from k on that can
// start at s[i:], or -1.
func nextAlt(in *inst, s string, i, k int) int {
	for ; k < len(in.alts); k++ {
		if canStart(in.altFirst[k], s, i) {
			return k
		}
	}
	return -1
}

// assertAt reports whether an empty-width assertion holds at s[i].
func assertAt(op Op, ascii bool, s string, i int) bool {
	switch op {
	case OpBeginText:
		return i == 0
	case OpBeginLine:
		return i == 0 || s[i-1] == '\n'
	case OpEndText:
		return i == len(s)
	case OpEndTextNL:
		return i == len(s) || i == len(s)-1 && s[i] == '\n'
	case OpEndLine:
		return i == len(s) || s[i] == '\n'
	case OpWordBoundary, OpNoWordBoundary:
		return isBoundary(s, i, ascii) == (op == OpWordBoundary)
	}
	return false
}

// runeLoop starts the loop of instruction pc at s[i:]: it returns the end
// of its first run to try, and leaves a frame for the others.
func (m *Machine) runeLoop(pc int32, in *inst, i int) (int, bool) {
	s := m.s
	if in.extra != nil && in.stop != "" {
		// The run ends where stop first occurs: the text from there on
		// is not the loop's.
		if k := strings.Index(s[i:], in.stop); k >= 0 {
			s = s[:i+k]
		}
	}
	if in.lit != "" && in.lit[0] < utf8.RuneSelf && (in.set.any || in.set.anyButNL) {
		// ".*" and the like, followed by a literal: the run ends at the
		// first newline (or the end), and since an ASCII byte is always
		// a rune boundary the literal can be searched for directly.
		j := lineEnd(s, i, in.set.anyButNL)
		lo := i
		for range in.min {
			if lo >= j {
				return 0, false
			}
			_, w := decodeRune(s, lo)
			lo += w
		}
		return m.hint(pc, in, lo, j)
	}
	if in.greedy && in.max < 0 && in.min <= 1 && (in.set.anyButNL || in.set.any) {
		// ".*" or ".+" without a literal after it: try the longest run
		// first, which needs no rune boundaries (often the rest of the
		// line, up to "$").
		j := lineEnd(s, i, in.set.anyButNL)
		if j < i+int(in.min) {
			return 0, false
		}
		if j > i {
			m.bt = push(m.bt, fBackOff, pc, i, j, 0)
		}
		return j, true
	}
	j, ascii := in.set.run(s, i, int(in.max))
	if !ascii {
		return m.runes(pc, in, i, j)
	}
	lo := i + int(in.min) // over ASCII a rune is a byte
	switch {
	case lo > j:
		return 0, false
	case in.possessive:
		return j, true
	case in.lit != "":
		return m.hint(pc, in, lo, j)
	case in.greedy:
		if j > lo {
			m.bt = push(m.bt, fGreedy, pc, j, lo, 0)
		}
		return j, true
	default:
		if lo < j {
			m.bt = push(m.bt, fLazy, pc, lo, j, 0)
		}
		return lo, true
	}
}

// lineEnd returns the end of the run of s from i that "." (anyButNL) or
// "(?s:.)" can take: the next newline or the end.
func lineEnd(s string, i int, anyButNL bool) int {
	if anyButNL {
		if k := strings.IndexByte(s[i:], '\n'); k >= 0 {
			return i + k
		}
	}
	return len(s)
}

// hint starts trying the continuation of a loop at the positions lo..hi
// where its hint (the literal the continuation starts with) occurs, in the
// order of preference.
func (m *Machine) hint(pc int32, in *inst, lo, hi int) (int, bool) {
	p, ok := hintAt(m.s, in, lo, hi)
	if !ok {
		return 0, false
	}
	if in.greedy {
		hi = p - 1
	} else {
		lo = p + 1
	}
	if lo <= hi {
		m.bt = push(m.bt, fHint, pc, 0, lo, hi)
	}
	return p, true
}

// hintAt returns the preferred position in lo..hi where the loop's hint
// occurs.
func hintAt(s string, in *inst, lo, hi int) (int, bool) {
	if lo > hi {
		return 0, false
	}
	var p int
	if in.greedy {
		p = lastIndex(s[lo:min(hi+len(in.lit), len(s))], in.lit, int(in.rare))
	} else {
		p = strings.Index(s[lo:min(hi+len(in.lit), len(s))], in.lit)
	}
	if p < 0 {
		return 0, false
	}
	return lo + p, true
}

// lastIndex is strings.LastIndex(s, lit) for a greedy loop's hint: it
// steps back over the occurrences of lit[rare], the byte of lit least
// frequent in log lines, and compares lit only there. On lines of a
// hundred bytes this is several times faster than strings.LastIndex,
// whose rolling hash reads every byte.
func lastIndex(s, lit string, rare int) int {
	if len(lit) == 0 || len(lit) > len(s) {
		return strings.LastIndex(s, lit)
	}
	c := lit[rare]
	// k is where lit[rare] would be for lit to fit at k-rare.
	for k := len(s) - len(lit) + rare; k >= rare; k-- {
		k = strings.LastIndexByte(s[:k+1], c)
		if k < rare {
			return -1
		}
		if p := k - rare; s[p:p+len(lit)] == lit {
			return p
		}
	}
	return -1
}

// rareByte returns the index of the byte of lit that is least frequent in
// log lines, as byteRank ranks them (the first of equals).
func rareByte(lit string) uint8 {
	best := 0
	for i := 1; i < len(lit) && i < 256; i++ {
		if byteRank(lit[i]) < byteRank(lit[best]) {
			best = i
		}
	}
	return uint8(best)
}

// byteRank is a rough frequency of a byte in log lines: higher is more
// frequent. Spaces, digits and lower-case letters (the common ones most)
// make up most of a line; other bytes are rare.
func byteRank(c byte) int {
	switch {
	case c == ' ':
		return 100
	case c >= '0' && c <= '9':
		return 60
	case c >= 'a' && c <= 'z':
		return 30 + strings.IndexByte("zqjxkvbpgywfmculdrhsnioate", c)
	case c >= 'A' && c <= 'Z', c == '.', c == ':', c == '=', c == '-', c == '/', c == '_':
		return 20
	}
	return 10
}

// runes starts a loop over a run s[i:j] that is not all ASCII: rune
// boundaries are irregular, so they are remembered on m.stack.
func (m *Machine) runes(pc int32, in *inst, i, j int) (int, bool) {
	s := m.s
	base := len(m.stack)
	for p := i; p < j; {
		m.stack = append(m.stack, p)
		_, w := decodeRune(s, p)
		p += w
	}
	m.stack = append(m.stack, j)
	last := len(m.stack) - 1
	if base+int(in.min) > last {
		m.stack = m.stack[:base]
		return 0, false
	}
	first, end := base+int(in.min), last
	if in.greedy {
		first, end = last, base+int(in.min)
	}
	k, ok := m.runeFrom(in, first, end)
	if !ok {
		m.stack = m.stack[:base]
		return 0, false
	}
	p := m.stack[k]
	if k != end {
		m.bt = push(m.bt, fRunes, pc, k, base, end)
	} else {
		m.stack = m.stack[:base] // nothing left to try
	}
	return p, true
}

// runeFrom returns the first index from k towards end (inclusive) of a
// position on m.stack where the loop's hint occurs.
func (m *Machine) runeFrom(in *inst, k, end int) (int, bool) {
	dir := 1
	if in.greedy {
		dir = -1
	}
	for {
		if strings.HasPrefix(m.s[m.stack[k]:], in.lit) {
			return k, true
		}
		if k == end {
			return 0, false
		}
		k += dir
	}
}

// nextEnd resumes the loop of frame f (on top of the stack) at its next
// end, and reports false if it has none left (and the frame is dropped).
func (m *Machine) nextEnd(prog []inst, f *frame) (int32, int, bool) {
	in := &prog[f.pc]
	pop := func() { m.bt = m.bt[:len(m.bt)-1] }
	switch f.kind {
	case fGreedy:
		p := f.i - 1
		if p <= f.a {
			pop()
		} else {
			f.i = p
		}
		return in.next, int(p), true
	case fLazy:
		p := f.i + 1
		if p >= f.a {
			pop()
		} else {
			f.i = p
		}
		return in.next, int(p), true
	case fHint:
		p, ok := hintAt(m.s, in, int(f.a), int(f.b))
		if !ok {
			pop()
			return 0, 0, false
		}
		if in.greedy {
			f.b = int32(p - 1)
		} else {
			f.a = int32(p + 1)
		}
		if f.a > f.b {
			pop()
		}
		return in.next, p, true
	case fRunes:
		// The frame has positions left to try (f.i is not end).
		base, end := int(f.a), int(f.b)
		dir := 1
		if in.greedy {
			dir = -1
		}
		k, ok := m.runeFrom(in, int(f.i)+dir, end)
		if !ok {
			pop()
			m.stack = m.stack[:base]
			return 0, 0, false
		}
		return in.next, m.stackedEnd(f, k), true
	case fNative:
		// List every end now, and go on with the second.
		pop()
		sb := len(m.stack)
		start := int(f.i)
		ends, work, decided := nativeEnds(in.native, m.s, start, m.stack, false)
		m.steps -= work
		if !decided {
			// Too many ways to list: the instructions try them all
			// (the first end again, in vain).
			m.stack = m.stack[:sb]
			return in.body, start, true
		}
		if len(ends)-sb < 2 {
			m.stack = m.stack[:sb] // the first end was the only one
			return 0, 0, false
		}
		m.stack = ends
		m.bt = push(m.bt, fEnds, f.pc, sb, sb, len(ends)-1)
		return in.next, m.stackedEnd(&m.bt[len(m.bt)-1], sb+1), true
	case fEnds:
		return in.next, m.stackedEnd(f, int(f.i)+1), true
	case fBackOff:
		pc, i, j := f.pc, int(f.i), int(f.a)
		pop()
		for k := i; k < j; k++ {
			if m.s[k] >= utf8.RuneSelf {
				// Rare: the general case, which tries j again.
				p, ok := m.runes(pc, in, i, j)
				return in.next, p, ok
			}
		}
		lo, p := i+int(in.min), j-1
		if p < lo {
			return 0, 0, false
		}
		if p > lo {
			m.bt = push(m.bt, fGreedy, pc, p, lo, 0)
		}
		return in.next, p, true
	}
	panic("pyre: unknown frame")
}

// stackedEnd returns the end at index k of Machine.stack for frame f (on
// top of the stack), whose ends lie from index f.a to f.b: the frame
// notes it as tried, or goes, with its ends, at the last.
func (m *Machine) stackedEnd(f *frame, k int) int {
	p := m.stack[k]
	if k == int(f.b) {
		m.stack = m.stack[:f.a]
		m.bt = m.bt[:len(m.bt)-1]
	} else {
		f.i = int32(k)
	}
	return p
}

// look matches a lookaround at s[i:]: its body is matched once, without
// consuming text; a positive one keeps its groups (a frame restores them
// on the way back).
func (m *Machine) look(prog []inst, in *inst, i int) bool {
	start := i
	ok := true
	if in.behind {
		for k := 0; k < int(in.min); k++ {
			if start == 0 {
				ok = false
				break
			}
			_, w := utf8.DecodeLastRuneInString(m.s[:start])
			start -= w
		}
	}
	saved := -1
	if in.caps {
		saved = m.save()
	}
	if ok {
		target := -1
		if in.behind {
			target = i
		}
		_, ok = m.run(prog, in.body, start, target)
	}
	if m.failed {
		return false
	}
	if in.negate || !ok {
		if saved >= 0 {
			m.restore(saved)
		}
		return in.negate && !ok
	}
	if saved >= 0 {
		m.bt = push(m.bt, fSaved, 0, 0, saved, 0)
	}
	return true
}

// backref matches the text a group matched, at s[i:].
func (m *Machine) backref(in *inst, i int) (int, bool) {
	b, e := m.caps[in.slot], m.caps[in.slot+1]
	if b < 0 || e < 0 {
		return 0, false
	}
	want := m.s[b:e]
	if !in.fold && !strings.ContainsRune(want, utf8.RuneError) {
		if !strings.HasPrefix(m.s[i:], want) {
			return 0, false
		}
		return i + len(want), true
	}
	// Rune by rune: an invalid byte reads as utf8.RuneError, in the
	// group's text and in the line, as the other engines read them.
	j := i
	for _, r := range want {
		if j >= len(m.s) {
			return 0, false
		}
		c, w := decodeRune(m.s, j)
		if c != r && (!in.fold || !equalFold(c, r)) {
			return 0, false
		}
		j += w
	}
	return j, true
}
