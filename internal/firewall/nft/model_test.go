package nft

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/netprefix"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// step is one change of a model test. ban is "prefix" or "prefix@minutes"
// (deadline t0 + minutes, no @ = permanent); a "-" first unbans instead.
// Each step says what must be sent to the kernel, in the same notation:
// elements to delete, to delete and add again with a new deadline, and to
// add.
type step struct {
	at                time.Duration // since t0
	change            []string
	dels, renew, adds []string
}

func TestModel(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"ban, refresh, unban", []step{
			{change: []string{"192.0.2.1/32@10"}, adds: []string{"192.0.2.1/32@10"}},
			{change: []string{"192.0.2.1/32@20"}, renew: []string{"192.0.2.1/32@20"}},
			{change: []string{"192.0.2.1/32@20"}},
			// A shorter ban keeps the later deadline.
			{change: []string{"192.0.2.1/32@15"}},
			{change: []string{"192.0.2.1/32"}, renew: []string{"192.0.2.1/32"}},
			{change: []string{"192.0.2.1/32@30"}},
			{change: []string{"-192.0.2.1/32"}, dels: []string{"192.0.2.1/32"}},
			{change: []string{"-192.0.2.1/32"}},
		}},
		{"duplicates in one batch", []step{
			{change: []string{"192.0.2.1/32@10", "192.0.2.1/32@10", "192.0.2.2/32@10", "198.51.100.0/24@20", "198.51.100.0/24@10"},
				adds: []string{"192.0.2.1/32@10", "192.0.2.2/32@10", "198.51.100.0/24@20"}},
		}},
		{"a re-ban after the ban expired", []step{
			{change: []string{"198.51.100.0/24@20"}, adds: []string{"198.51.100.0/24@20"}},
			{at: 20 * time.Minute, change: []string{"198.51.100.0/24@30"}, adds: []string{"198.51.100.0/24@30"}},
		}},
		{"inside a longer-lasting prefix: no-op", []step{
			{change: []string{"192.0.2.0/24"}, adds: []string{"192.0.2.0/24"}},
			{change: []string{"192.0.2.5/32@10"}},
			{change: []string{"-192.0.2.5/32"}},
		}},
		{"around shorter-lived prefixes: replaces them", []step{
			{change: []string{"192.0.2.5/32@10", "192.0.2.128/25@10", "198.51.100.1/32@10"},
				adds: []string{"192.0.2.5/32@10", "192.0.2.128/25@10", "198.51.100.1/32@10"}},
			{change: []string{"192.0.2.0/24@30"},
				dels: []string{"192.0.2.5/32", "192.0.2.128/25"}, adds: []string{"192.0.2.0/24@30"}},
			// Lifting the subnet leaves the bans inside it.
			{change: []string{"-192.0.2.0/24"}, dels: []string{"192.0.2.0/24"},
				adds: []string{"192.0.2.5/32@10", "192.0.2.128/25@10"}},
			{change: []string{"-192.0.2.5/32", "-192.0.2.128/25"}, dels: []string{"192.0.2.5/32", "192.0.2.128/25"}},
		}},
		{"inside a shorter-lived prefix: cut out of it", []step{
			{change: []string{"192.0.2.0/30@10"}, adds: []string{"192.0.2.0/30@10"}},
			{change: []string{"192.0.2.1/32@30"}, dels: []string{"192.0.2.0/30"},
				adds: []string{"192.0.2.0/32@10", "192.0.2.1/32@30", "192.0.2.2/31@10"}},
			// The subnet expires first; the address stays.
			{at: 15 * time.Minute, change: []string{"198.51.100.1/32@20"}, adds: []string{"198.51.100.1/32@20"}},
			{at: 15 * time.Minute, change: []string{"-192.0.2.1/32"}, dels: []string{"192.0.2.1/32"}},
		}},
		{"unban inside a subnet leaves the subnet", []step{
			{change: []string{"192.0.2.0/30@10", "192.0.2.1/32@30"},
				adds: []string{"192.0.2.0/32@10", "192.0.2.1/32@30", "192.0.2.2/31@10"}},
			// The address's own ban goes; the subnet's covers it again.
			{change: []string{"-192.0.2.1/32"},
				dels: []string{"192.0.2.0/32", "192.0.2.1/32", "192.0.2.2/31"}, adds: []string{"192.0.2.0/30@10"}},
		}},
		{"a new ban over an expired one", []step{
			{change: []string{"192.0.2.1/32@10"}, adds: []string{"192.0.2.1/32@10"}},
			{at: 10 * time.Minute, change: []string{"192.0.2.0/24@20"}, adds: []string{"192.0.2.0/24@20"}},
		}},
		{"the whole address space", []step{
			{change: []string{"0.0.0.0/0@10"}, adds: []string{"0.0.0.0/0@10"}},
			{change: []string{"255.255.255.255/32"}, dels: []string{"0.0.0.0/0"},
				adds: append(slices.Collect(func(yield func(string) bool) {
					for _, p := range cover(netip.MustParsePrefix("0.0.0.0/0"), []netip.Prefix{netip.MustParsePrefix("255.255.255.255/32")}, nil) {
						if !yield(p.String() + "@10") {
							return
						}
					}
				}), "255.255.255.255/32")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModel(32)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				pl := newPlan(0)
				bans, unbans := parseChange(t, s.change)
				if len(bans) > 0 {
					m.ban(pl, bans, now)
				}
				if len(unbans) > 0 {
					m.unban(pl, unbans, now)
				}
				gotDels, gotRenew, gotAdds := formatOps(pl.ops(m))
				slices.Sort(gotRenew)
				slices.Sort(gotAdds)
				wantRenew := slices.Sorted(slices.Values(s.renew))
				want := slices.Sorted(slices.Values(s.adds))
				if !slices.Equal(gotDels, s.dels) || !slices.Equal(gotRenew, wantRenew) || !slices.Equal(gotAdds, want) {
					t.Fatalf("step %d %v:\ndels %v, want %v\nrenew %v, want %v\nadds %v, want %v", i, s.change, gotDels, s.dels, gotRenew, wantRenew, gotAdds, want)
				}
			}
		})
	}
}

// parseChange reads a step's change: bans, and unbans ("-prefix").
func parseChange(t *testing.T, change []string) (bans []entry, unbans []netip.Prefix) {
	t.Helper()
	for _, c := range change {
		if p, ok := strings.CutPrefix(c, "-"); ok {
			unbans = append(unbans, netip.MustParsePrefix(p))
			continue
		}
		bans = append(bans, parseEntry(t, c))
	}
	return bans, unbans
}

// formatOps writes what a change sends to the kernel in a step's notation.
func formatOps(o ops) (dels, renew, adds []string) {
	for _, p := range o.dels {
		dels = append(dels, p.String())
	}
	for _, e := range o.renew {
		renew = append(renew, formatEntry(e))
	}
	for _, e := range o.adds {
		adds = append(adds, formatEntry(e))
	}
	return dels, renew, adds
}

func parseEntry(t *testing.T, s string) entry {
	t.Helper()
	p, mins, ok := strings.Cut(s, "@")
	e := entry{prefix: netip.MustParsePrefix(p)}
	if ok {
		var n int
		if _, err := fmt.Sscan(mins, &n); err != nil {
			t.Fatalf("bad entry %q", s)
		}
		e.deadline = t0.Add(time.Duration(n) * time.Minute)
	}
	return e
}

func formatEntry(e entry) string {
	if e.deadline.IsZero() {
		return e.prefix.String()
	}
	return fmt.Sprintf("%s@%d", e.prefix, int(e.deadline.Sub(t0)/time.Minute))
}

// TestModelRandom checks the model against brute force on random changes in
// a small address space: after each change, each address's element says the
// latest deadline of the live bans covering it, elements never overlap, and
// the changes sent would be accepted by a kernel interval set.
func TestModelRandom(t *testing.T) {
	base := netip.MustParsePrefix("192.0.2.0/28")
	for seed := range uint64(200) {
		r := rand.New(rand.NewPCG(seed, 1))
		m := newModel(32)
		bans := map[netip.Prefix]time.Time{}   // reference
		kernel := map[netip.Prefix]time.Time{} // what the kernel would hold
		randomPrefix := func() netip.Prefix {
			bits := 28 + r.IntN(5)
			a := netprefix.FromAddr(base.Addr()).Add(netprefix.U128{Lo: uint64(r.IntN(16))}).Addr(true)
			p, _ := a.Prefix(bits)
			return p
		}
		now := t0
		for i := range 60 {
			now = now.Add(time.Duration(r.IntN(4)) * time.Minute)
			pl := newPlan(0)
			var what string
			switch r.IntN(3) {
			case 0, 1:
				var batch []entry
				for range 1 + r.IntN(6) {
					e := entry{prefix: randomPrefix()}
					if k := r.IntN(6); k > 0 {
						e.deadline = now.Add(time.Duration(k) * 2 * time.Minute)
					}
					batch = append(batch, e)
					if d, ok := bans[e.prefix]; ok && alive(d, now) {
						bans[e.prefix] = later(d, e.deadline)
					} else {
						bans[e.prefix] = e.deadline
					}
				}
				what = fmt.Sprint("ban ", batch)
				m.ban(pl, batch, now)
			case 2:
				var ps []netip.Prefix
				for range 1 + r.IntN(3) {
					p := randomPrefix()
					delete(bans, p)
					ps = append(ps, p)
				}
				what = fmt.Sprint("unban ", ps)
				m.unban(pl, ps, now)
			}
			if i%10 == 9 {
				m.prune(now)
			}
			// The kernel drops expired elements by itself.
			for p, d := range kernel {
				if !alive(d, now) {
					delete(kernel, p)
				}
			}
			o := pl.ops(m)
			for _, p := range o.dels {
				if _, ok := kernel[p]; !ok {
					t.Fatalf("seed %d step %d %s: deletes %v, which the kernel does not hold", seed, i, what, p)
				}
				delete(kernel, p)
			}
			for _, e := range o.renew {
				if _, ok := kernel[e.prefix]; !ok {
					t.Fatalf("seed %d step %d %s: renews %v, which the kernel does not hold", seed, i, what, e.prefix)
				}
				kernel[e.prefix] = e.deadline
			}
			for _, e := range o.adds {
				for p := range kernel {
					if p != e.prefix && p.Overlaps(e.prefix) {
						t.Fatalf("seed %d step %d %s: adds %v, which overlaps %v in the kernel", seed, i, what, e.prefix, p)
					}
				}
				kernel[e.prefix] = e.deadline
			}
			for a := range 16 {
				addr := netprefix.FromAddr(base.Addr()).Add(netprefix.U128{Lo: uint64(a)}).Addr(true)
				var want time.Time
				banned := false
				for p, d := range bans {
					if p.Contains(addr) && alive(d, now) {
						if banned {
							want = later(want, d)
						} else {
							want, banned = d, true
						}
					}
				}
				var got time.Time
				covered := 0
				for p, d := range kernel {
					if p.Contains(addr) {
						got = d
						covered++
					}
				}
				if covered > 1 || (covered == 1) != banned || banned && !got.Equal(want) {
					t.Fatalf("seed %d step %d %s: %v covered by %d kernel elements with deadline %v, want banned=%v until %v\nkernel %v\nmodel elements %v",
						seed, i, what, addr, covered, got, banned, want, kernel, m.elems.all())
				}
			}
			for _, e := range m.elems.all() {
				if d, ok := kernel[e.prefix]; alive(e.deadline, now) && (!ok || !d.Equal(e.deadline)) {
					t.Fatalf("seed %d step %d %s: model element %v not in the kernel", seed, i, what, e)
				}
			}
		}
	}
}

func TestIndexInner(t *testing.T) {
	// Both ways of finding inner prefixes: enumeration and scan.
	x := newIndex(128)
	for _, s := range []string{"2001:db8::1/128", "2001:db8::2/128", "2001:db8:1::/48", "2001:db8::/64", "2001:db9::1/128"} {
		x.put(netip.MustParsePrefix(s), time.Time{})
	}
	for _, tt := range []struct {
		p    string
		want []string
	}{
		{"2001:db8::/32", []string{"2001:db8::/64", "2001:db8:1::/48", "2001:db8::1/128", "2001:db8::2/128"}},
		{"2001:db8::/126", []string{"2001:db8::1/128", "2001:db8::2/128"}},
		{"2001:db8::/127", []string{"2001:db8::1/128"}},
		{"2001:db8::1/128", nil},
	} {
		var got []string
		for _, p := range x.inner(netip.MustParsePrefix(tt.p)) {
			got = append(got, p.String())
		}
		slices.Sort(got)
		want := slices.Sorted(slices.Values(tt.want))
		if !slices.Equal(got, want) {
			t.Errorf("inner(%s) = %v, want %v", tt.p, got, want)
		}
	}
	// Enumeration: more prefixes of that length than candidates.
	y := newIndex(32)
	for i := range 300 {
		y.put(netip.PrefixFrom(netprefix.FromAddr(netip.MustParseAddr("192.0.2.0")).Add(netprefix.U128{Lo: uint64(i)}).Addr(true), 32), time.Time{})
	}
	if got := len(y.inner(netip.MustParsePrefix("192.0.2.0/30"))); got != 4 {
		t.Errorf("inner(192.0.2.0/30) found %d prefixes, want 4", got)
	}
	if got := len(y.inner(netip.MustParsePrefix("192.0.3.0/24"))); got != 44 {
		t.Errorf("inner(192.0.3.0/24) found %d prefixes, want 44", got)
	}
}

func TestLengths(t *testing.T) {
	// Against a plain list of lengths, for sets of lengths at the edges of
	// the words and at random.
	sets := [][]int{nil, {0}, {128}, {0, 63, 64, 127, 128}, {32, 48, 64}}
	r := rand.New(rand.NewPCG(1, 2))
	for range 50 {
		var s []int
		for l := 0; l <= 128; l++ {
			if r.IntN(10) == 0 {
				s = append(s, l)
			}
		}
		sets = append(sets, s)
	}
	for _, set := range sets {
		var ls lengths
		for _, l := range set {
			ls.add(l)
		}
		for l := -1; l <= 129; l++ {
			wantNext, wantPrev := -1, -1
			for _, m := range set {
				if m >= l && wantNext < 0 {
					wantNext = m
				}
				if m <= l {
					wantPrev = m
				}
			}
			if l > 128 {
				wantNext = -1
			}
			if got := ls.next(l); l >= 0 && got != wantNext {
				t.Errorf("%v: next(%d) = %d, want %d", set, l, got, wantNext)
			}
			if got := ls.prev(l); got != wantPrev {
				t.Errorf("%v: prev(%d) = %d, want %d", set, l, got, wantPrev)
			}
			if l >= 0 && l <= 128 {
				if got := ls.has(l); got != slices.Contains(set, l) {
					t.Errorf("%v: has(%d) = %v", set, l, got)
				}
			}
		}
		for _, l := range set {
			ls.remove(l)
		}
		if ls != (lengths{}) {
			t.Errorf("%v: not empty after removing every length: %v", set, ls)
		}
	}
}

// BenchmarkModelBan10000 bans 10,000 addresses in an empty model and
// computes what to send: the backend's own share of a large batch.
func BenchmarkModelBan10000(b *testing.B) {
	bans := make([]entry, 10000)
	for i := range bans {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 4: byte(i >> 16), 5: byte(i >> 8), 6: byte(i), 15: byte(i%251 + 1)})
		bans[i] = entry{netip.PrefixFrom(a, 128), t0.Add(time.Hour)}
	}
	for b.Loop() {
		m := newModel(128)
		pl := newPlan(len(bans))
		m.ban(pl, bans, t0)
		if o := pl.ops(m); len(o.adds) != len(bans) {
			b.Fatalf("%d elements to add", len(o.adds))
		}
	}
}

func TestComparePrefix(t *testing.T) {
	// The same order as comparing the addresses, then the lengths.
	r := rand.New(rand.NewPCG(3, 4))
	var ps []netip.Prefix
	for range 300 {
		var a netip.Addr
		if r.IntN(3) == 0 {
			a = netip.AddrFrom4([4]byte{192, 0, byte(r.IntN(3)), byte(r.IntN(256))})
		} else {
			a = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 7: byte(r.IntN(3)), 8: byte(r.IntN(256)), 15: byte(r.IntN(256))})
		}
		p, _ := a.Prefix(r.IntN(a.BitLen() + 1))
		ps = append(ps, p)
	}
	for _, a := range ps {
		for _, b := range ps {
			want := a.Addr().Compare(b.Addr())
			if want == 0 {
				want = cmp.Compare(a.Bits(), b.Bits())
			}
			if got := comparePrefix(a, b); got != want {
				t.Fatalf("comparePrefix(%v, %v) = %d, want %d", a, b, got, want)
			}
		}
	}
}
