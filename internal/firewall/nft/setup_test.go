package nft

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/google/nftables"
)

func TestSetBaseName(t *testing.T) {
	tests := []struct{ jail, want string }{
		{"sshd", "sshd"},
		{"nginx-http-auth", "nginx-http-auth"},
		{"named.refused", "named.refused"},
		{"_x", "_x"},
		{"my jail", "my_jail_fc4168d0"},
		{"9lives", "_9lives_bc867356"},
		{"-x", "_-x_a4209624"},
		{"é", "___4a99557e"},
	}
	for _, tt := range tests {
		if got := setBaseName(tt.jail); got != tt.want {
			t.Errorf("setBaseName(%q) = %q, want %q", tt.jail, got, tt.want)
		}
	}
}

func FuzzSetBaseName(f *testing.F) {
	for _, s := range []string{"sshd", "my jail", "", "a/b", "0", string(make([]byte, 200))} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, jail string) {
		got := setBaseName(jail)
		if jail != "" {
			if err := checkName("set", got); err != nil {
				t.Fatalf("setBaseName(%q) = %q: %v", jail, got, err)
			}
		}
		if setBaseName(jail) != got {
			t.Fatal("not deterministic")
		}
		if checkName("set", jail) == nil && got != jail {
			t.Fatalf("setBaseName(%q) = %q, want it unchanged", jail, got)
		}
		// The longest set name is far below the kernel's limit.
		if n := len(got + suffix4 + suffixNets); n > 255 {
			t.Fatalf("set name of %q has %d bytes", jail, n)
		}
	})
}

func TestCompatible(t *testing.T) {
	hash4 := nftables.Set{Name: "sshd-v4", KeyType: nftables.TypeIPAddr, HasTimeout: true}
	nets4 := nftables.Set{Name: "sshd-v4-net", KeyType: nftables.TypeIPAddr, HasTimeout: true, Interval: true}
	with := func(s nftables.Set, change func(*nftables.Set)) *nftables.Set {
		change(&s)
		return &s
	}
	tests := []struct {
		name       string
		have, want *nftables.Set
		ok         bool
	}{
		{"same hash set", &hash4, &hash4, true},
		{"same interval set", &nets4, &nets4, true},
		// The sets of older gaol: every ban of a family in an interval set.
		{"interval set for a hash set", with(hash4, func(s *nftables.Set) { s.Interval = true }), &hash4, false},
		{"hash set for an interval set", with(nets4, func(s *nftables.Set) { s.Interval = false }), &nets4, false},
		{"no timeouts", with(hash4, func(s *nftables.Set) { s.HasTimeout = false }), &hash4, false},
		{"other family", with(hash4, func(s *nftables.Set) { s.KeyType = nftables.TypeIP6Addr }), &hash4, false},
		{"a map", with(hash4, func(s *nftables.Set) { s.IsMap = true }), &hash4, false},
		{"constant", with(hash4, func(s *nftables.Set) { s.Constant = true }), &hash4, false},
	}
	for _, tt := range tests {
		if got := compatible(tt.have, tt.want); got != tt.ok {
			t.Errorf("%s: compatible = %v, want %v", tt.name, got, tt.ok)
		}
	}
}

func TestPairRanges(t *testing.T) {
	k := func(s string) []byte { return netip.MustParseAddr(s).AsSlice() }
	start := func(s string) nftables.SetElement {
		return nftables.SetElement{Key: k(s), Timeout: time.Minute, Expires: time.Second}
	}
	end := func(s string) nftables.SetElement { return nftables.SetElement{Key: k(s), IntervalEnd: true} }
	tests := []struct {
		name string
		in   []nftables.SetElement
		want []string
	}{
		{"kernel order (descending)", []nftables.SetElement{end("192.0.2.8"), start("192.0.2.7"), end("192.0.2.1"), start("192.0.2.0")},
			[]string{"192.0.2.0-192.0.2.1", "192.0.2.7-192.0.2.8"}},
		{"adjacent ranges", []nftables.SetElement{start("192.0.2.1"), end("192.0.2.1"), start("192.0.2.0"), end("192.0.2.2")},
			[]string{"192.0.2.0-192.0.2.1", "192.0.2.1-192.0.2.2"}},
		{"orphan ends of expired ranges", []nftables.SetElement{end("0.0.0.0"), end("192.0.2.5"), start("192.0.2.9"), end("192.0.2.10"), end("192.0.2.20")},
			[]string{"192.0.2.9-192.0.2.10"}},
		{"open to the last address", []nftables.SetElement{start("255.255.255.0"), end("192.0.2.1"), start("192.0.2.0")},
			[]string{"192.0.2.0-192.0.2.1", "255.255.255.0-"}},
	}
	for _, tt := range tests {
		var got []string
		for _, r := range pairRanges(tt.in) {
			a, _ := netip.AddrFromSlice(r.start)
			s := a.String() + "-"
			if r.end != nil {
				b, _ := netip.AddrFromSlice(r.end)
				s += b.String()
			}
			if r.timeout != time.Minute || r.expires != time.Second {
				t.Errorf("%s: range %s lost its timeout", tt.name, s)
			}
			got = append(got, s)
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("%s: pairRanges = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestPrefixMask(t *testing.T) {
	for _, size := range []int{4, 16} {
		ones := make([]byte, size)
		for i := range ones {
			ones[i] = 0xff
		}
		all, _ := netip.AddrFromSlice(ones)
		for n := 0; n <= size*8; n++ {
			// The mask is the address of all ones, masked by netip.
			p, _ := all.Prefix(n)
			m := prefixMask(n, size)
			if want := p.Addr().AsSlice(); !slices.Equal(m, want) {
				t.Errorf("prefixMask(%d, %d) = %x, want %x", n, size, m, want)
			}
			if got := maskLen(m, make([]byte, size)); got != n {
				t.Errorf("maskLen(%x) = %d, want %d", m, got, n)
			}
		}
	}
	for _, tt := range []struct{ mask, xor []byte }{
		{[]byte{0xff, 0x7f, 0, 0}, []byte{0, 0, 0, 0}},
		{[]byte{0xff, 0, 0xff, 0}, []byte{0, 0, 0, 0}},
		{[]byte{0xf0, 0x80, 0, 0}, []byte{0, 0, 0, 0}},
		{[]byte{0xff, 0, 0, 0}, []byte{0, 0, 0, 1}},
	} {
		if n := maskLen(tt.mask, tt.xor); n != -1 {
			t.Errorf("maskLen(%x, %x) = %d, want -1", tt.mask, tt.xor, n)
		}
	}
}
