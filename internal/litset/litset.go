// Package litset tells whether a text contains any of a set of literal
// strings, looking at a few positions of the text rather than searching it
// once per literal.
//
// Every literal of a set with n bytes in its shortest literal covers, at
// each of its occurrences, a window of three bytes that starts at a
// multiple of n-2 (or of 8, if n-2 is more). A Set hashes the windows at
// those positions only, and checks the literals whose windows share the
// hash where one does. For the literals of fail2ban's sshd failregexes
// (33, the shortest "Failed "), that is one window in five bytes, where a
// search per literal would read every byte 33 times.
package litset

import (
	"slices"
	"strings"
)

const (
	// gram is the width of a window.
	gram = 3
	// maxStride bounds the distance between windows: a literal registers
	// stride windows, and a long literal needs no more than this.
	maxStride = 8
	hashBits  = 16
	buckets   = 1 << 10
)

// Set is a set of literals. Its zero value holds none. It is safe for
// concurrent use.
type Set struct {
	lits []string
	// short holds literals too short for windows, searched one by one.
	short  []string
	stride int
	// seen has bit h set where some literal has a window of hash h.
	seen [1 << hashBits / 64]uint64
	// entries are the windows of the literals, by bucket (the low bits
	// of their hash); bucket b holds entries[start[b]:start[b+1]].
	entries []entry
	start   [buckets + 1]int32
}

// entry is the window of a literal at an offset.
type entry struct {
	hash uint16
	off  uint8
	lit  string
}

// New returns the set of lits. A literal that contains another is left
// out: a text that contains it contains the other as well. The empty
// string is in every text.
func New(lits []string) *Set {
	lits = slices.Clone(lits)
	slices.Sort(lits)
	lits = slices.Compact(lits)
	s := &Set{lits: minimal(lits)}
	minLen := -1
	for _, l := range s.lits {
		if len(l) < gram {
			s.short = append(s.short, l)
		} else if minLen < 0 || len(l) < minLen {
			minLen = len(l)
		}
	}
	if minLen < 0 {
		return s
	}
	s.stride = min(minLen-gram+1, maxStride)
	var all []entry
	for _, l := range s.lits {
		if len(l) < gram {
			continue
		}
		for off := range s.stride {
			h := hash(l[off], l[off+1], l[off+2])
			s.seen[h/64] |= 1 << (h % 64)
			all = append(all, entry{hash: h, off: uint8(off), lit: l})
		}
	}
	slices.SortStableFunc(all, func(a, b entry) int { return int(a.hash%buckets) - int(b.hash%buckets) })
	s.entries = all
	k := 0
	for b := range buckets + 1 {
		for k < len(all) && int(all[k].hash%buckets) < b {
			k++
		}
		s.start[b] = int32(k)
	}
	return s
}

// minimal drops from sorted, distinct lits every literal that contains
// another.
func minimal(lits []string) []string {
	var out []string
	for _, l := range lits {
		covered := false
		for _, o := range lits {
			// A literal can only contain a shorter one (they are
			// distinct).
			if len(o) < len(l) && strings.Contains(l, o) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, l)
		}
	}
	return out
}

// hash maps a window to hashBits bits.
func hash(a, b, c byte) uint16 {
	return hashWord(uint32(a) | uint32(b)<<8 | uint32(c)<<16)
}

// hashWord is hash of the window whose bytes are w's, lowest first.
func hashWord(w uint32) uint16 {
	return uint16(w * 0x9E3779B1 >> (32 - hashBits))
}

// Literals returns the literals of the set that New kept, sorted.
func (s *Set) Literals() []string { return slices.Clone(s.lits) }

// Empty reports whether the set has no literal.
func (s *Set) Empty() bool { return len(s.lits) == 0 }

// In reports whether text contains a literal of the set.
func (s *Set) In(text string) bool {
	for _, l := range s.short {
		if strings.Contains(text, l) {
			return true
		}
	}
	if s.stride == 0 {
		return false
	}
	i, stride := 0, s.stride
	for ; i+4 <= len(text); i += stride {
		// Four bytes read at once, the fourth dropped.
		b := text[i : i+4]
		w := uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24
		h := hashWord(w & 0xFFFFFF)
		if s.seen[h/64]&(1<<(h%64)) != 0 && s.at(text, i, h) {
			return true
		}
	}
	if i+gram <= len(text) {
		h := hash(text[i], text[i+1], text[i+2])
		return s.seen[h/64]&(1<<(h%64)) != 0 && s.at(text, i, h)
	}
	return false
}

// at reports whether a literal with a window of hash h at text[i:] occurs
// there.
func (s *Set) at(text string, i int, h uint16) bool {
	b := h % buckets
	for _, e := range s.entries[s.start[b]:s.start[b+1]] {
		if e.hash == h {
			if p := i - int(e.off); p >= 0 && strings.HasPrefix(text[p:], e.lit) {
				return true
			}
		}
	}
	return false
}
