package ignore

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
)

func prefixes(ss ...string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range ss {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

func TestSetPrefixes(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"empty", nil, nil},
		{"single", []string{"192.0.2.7/32"}, []string{"192.0.2.7/32"}},
		{"host bits cleared", []string{"192.0.2.7/24"}, []string{"192.0.2.0/24"}},
		{"contained dropped", []string{"192.0.2.0/24", "192.0.2.9/32", "192.0.2.128/25"}, []string{"192.0.2.0/24"}},
		{"adjacent merged", []string{"192.0.2.0/25", "192.0.2.128/25"}, []string{"192.0.2.0/24"}},
		{"adjacent not aligned", []string{"192.0.2.128/25", "192.0.3.0/25"}, []string{"192.0.2.128/25", "192.0.3.0/25"}},
		{"three hosts", []string{"192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32"}, []string{"192.0.2.1/32", "192.0.2.2/31"}},
		{"duplicates", []string{"198.51.100.0/24", "198.51.100.0/24"}, []string{"198.51.100.0/24"}},
		{"mapped is IPv4", []string{"::ffff:192.0.2.0/120"}, []string{"192.0.2.0/24"}},
		{"everything v4", []string{"0.0.0.0/0", "192.0.2.0/24"}, []string{"0.0.0.0/0"}},
		{"top of v4", []string{"255.255.255.255/32", "255.255.255.254/32"}, []string{"255.255.255.254/31"}},
		{"v6", []string{"2001:db8::/33", "2001:db8:8000::/33", "2001:db8::1/128"}, []string{"2001:db8::/32"}},
		{"v6 top", []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128", "::/0"}, []string{"::/0"}},
		{"v6 across 64-bit boundary", []string{"2001:db8:0:0:ffff:ffff:ffff:ffff/128", "2001:db8:0:1::/128"},
			[]string{"2001:db8::ffff:ffff:ffff:ffff/128", "2001:db8:0:1::/128"}},
		{"families apart, v4 first", []string{"2001:db8::/32", "203.0.113.0/24"}, []string{"203.0.113.0/24", "2001:db8::/32"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := NewSet(prefixes(tt.in...)...).Prefixes()
			if want := prefixes(tt.want...); !slices.Equal(got, want) {
				t.Errorf("got %v, want %v", got, want)
			}
		})
	}
}

func TestSetContainsOverlaps(t *testing.T) {
	s := NewSet(prefixes("127.0.0.0/8", "192.0.2.0/24", "203.0.113.7/32", "2001:db8:1::/48", "::1/128")...)
	contains := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1", true}, {"127.255.255.255", true}, {"128.0.0.0", false},
		{"192.0.2.0", true}, {"192.0.2.255", true}, {"192.0.3.0", false}, {"192.0.1.255", false},
		{"203.0.113.7", true}, {"203.0.113.8", false}, {"203.0.113.6", false},
		{"::ffff:192.0.2.9", true}, {"::ffff:198.51.100.1", false},
		{"2001:db8:1:ffff::1", true}, {"2001:db8:2::", false}, {"2001:db8::", false},
		{"::1", true}, {"::2", false}, {"0.0.0.0", false},
	}
	for _, tt := range contains {
		if got := s.Contains(netip.MustParseAddr(tt.addr)); got != tt.want {
			t.Errorf("Contains(%s) = %v, want %v", tt.addr, got, tt.want)
		}
	}
	if s.Contains(netip.Addr{}) {
		t.Error("Contains(invalid addr) = true")
	}
	overlaps := []struct {
		prefix string
		want   bool
	}{
		{"192.0.2.128/25", true}, {"192.0.0.0/16", true}, {"0.0.0.0/0", true},
		{"198.51.100.0/24", false}, {"203.0.113.0/24", true}, {"203.0.113.8/29", false},
		{"2001:db8::/32", true}, {"2001:db8:2::/48", false}, {"::/0", true},
		{"::ffff:203.0.113.0/120", true},
	}
	for _, tt := range overlaps {
		if got := s.Overlaps(netip.MustParsePrefix(tt.prefix)); got != tt.want {
			t.Errorf("Overlaps(%s) = %v, want %v", tt.prefix, got, tt.want)
		}
	}
	var empty Set
	if empty.Contains(netip.MustParseAddr("192.0.2.1")) || empty.Overlaps(netip.MustParsePrefix("0.0.0.0/0")) || empty.Len() != 0 {
		t.Error("zero Set is not empty")
	}
}

// TestSetRandom compares the Set with a linear scan over random prefixes.
func TestSetRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		var ps []netip.Prefix
		for range r.IntN(40) + 1 {
			ps = append(ps, randPrefix(r))
		}
		s := NewSet(ps...)
		// The prefixes out cover exactly the addresses in.
		back := NewSet(s.Prefixes()...)
		if !back.Equal(s) {
			t.Fatalf("round %d: Prefixes not stable: %v vs %v", round, s.Prefixes(), back.Prefixes())
		}
		for range 300 {
			a := randAddr(r, ps)
			want := false
			for _, p := range ps {
				if p.Contains(a) {
					want = true
				}
			}
			if got := s.Contains(a); got != want {
				t.Fatalf("round %d: Contains(%v) = %v, want %v; prefixes %v", round, a, got, want, ps)
			}
			q := netip.PrefixFrom(a, r.IntN(a.BitLen()+1)).Masked()
			want = false
			for _, p := range ps {
				if p.Overlaps(q) {
					want = true
				}
			}
			if got := s.Overlaps(q); got != want {
				t.Fatalf("round %d: Overlaps(%v) = %v, want %v; prefixes %v", round, q, got, want, ps)
			}
		}
	}
}

// randPrefix returns a prefix inside 192.0.2.0/24 or 2001:db8::/120 so that
// random prefixes collide often.
func randPrefix(r *rand.Rand) netip.Prefix {
	if r.IntN(2) == 0 {
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(r.IntN(256))})
		return netip.PrefixFrom(a, 24+r.IntN(9)).Masked()
	}
	b := netip.MustParseAddr("2001:db8::").As16()
	b[15] = byte(r.IntN(256))
	return netip.PrefixFrom(netip.AddrFrom16(b), 120+r.IntN(9)).Masked()
}

func randAddr(r *rand.Rand, ps []netip.Prefix) netip.Addr {
	a := ps[r.IntN(len(ps))].Addr()
	if a.Is4() {
		b := a.As4()
		b[3] = byte(r.IntN(256))
		if r.IntN(10) == 0 {
			b[2]++
		}
		return netip.AddrFrom4(b)
	}
	b := a.As16()
	b[15] = byte(r.IntN(256))
	if r.IntN(10) == 0 {
		b[14]++
	}
	return netip.AddrFrom16(b)
}

func BenchmarkSetContains(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	var ps []netip.Prefix
	for range 5000 {
		a := netip.AddrFrom4([4]byte{byte(r.IntN(224)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		ps = append(ps, netip.PrefixFrom(a, 16+r.IntN(17)).Masked())
		var v6 [16]byte
		v6[0], v6[1] = 0x20, 0x01
		for i := 2; i < 8; i++ {
			v6[i] = byte(r.IntN(256))
		}
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom16(v6), 32+r.IntN(97)).Masked())
	}
	s := NewSet(ps...)
	addrs := make([]netip.Addr, 1024)
	for i := range addrs {
		if i%2 == 0 {
			addrs[i] = netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
		} else {
			addrs[i] = ps[r.IntN(len(ps))].Addr()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.Contains(addrs[i%len(addrs)])
	}
}

func BenchmarkNewSet10k(b *testing.B) {
	var ps []netip.Prefix
	for i := range 10000 {
		ps = append(ps, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), 0}), 24))
	}
	b.ReportAllocs()
	for b.Loop() {
		NewSet(ps...)
	}
}

func ExampleSet() {
	s := NewSet(netip.MustParsePrefix("192.0.2.0/25"), netip.MustParsePrefix("192.0.2.128/25"))
	fmt.Println(s.Prefixes(), s.Contains(netip.MustParseAddr("192.0.2.200")))
	// Output: [192.0.2.0/24] true
}
