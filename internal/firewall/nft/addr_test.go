package nft

import (
	"net/netip"
	"slices"
	"testing"
)

func TestPrefixEnd(t *testing.T) {
	tests := []struct {
		prefix string
		want   string // "" = none
	}{
		{"192.0.2.0/24", "192.0.3.0"},
		{"192.0.2.7/32", "192.0.2.8"},
		{"192.0.2.255/32", "192.0.3.0"},
		{"255.255.255.0/24", ""},
		{"255.255.255.255/32", ""},
		{"0.0.0.0/0", ""},
		{"128.0.0.0/1", ""},
		{"0.0.0.0/1", "128.0.0.0"},
		{"2001:db8::/32", "2001:db9::"},
		{"2001:db8::1/128", "2001:db8::2"},
		{"2001:db8::ffff:ffff:ffff:ffff/128", "2001:db8:0:1::"},
		{"ffff::/16", ""},
		{"::/0", ""},
		{"::/1", "8000::"},
	}
	for _, tt := range tests {
		end, ok := prefixEnd(netip.MustParsePrefix(tt.prefix))
		got := ""
		if ok {
			got = end.String()
		}
		if got != tt.want {
			t.Errorf("prefixEnd(%s) = %q, want %q", tt.prefix, got, tt.want)
		}
	}
}

func TestHalves(t *testing.T) {
	tests := []struct{ prefix, lo, hi string }{
		{"192.0.2.0/24", "192.0.2.0/25", "192.0.2.128/25"},
		{"192.0.2.6/31", "192.0.2.6/32", "192.0.2.7/32"},
		{"0.0.0.0/0", "0.0.0.0/1", "128.0.0.0/1"},
		{"2001:db8::/64", "2001:db8::/65", "2001:db8:0:0:8000::/65"},
		{"::/0", "::/1", "8000::/1"},
	}
	for _, tt := range tests {
		lo, hi := halves(netip.MustParsePrefix(tt.prefix))
		if lo.String() != tt.lo || hi.String() != tt.hi {
			t.Errorf("halves(%s) = %s, %s; want %s, %s", tt.prefix, lo, hi, tt.lo, tt.hi)
		}
	}
}

func TestRangePrefixes(t *testing.T) {
	tests := []struct {
		start, end string // end "" = to the last address
		want       []string
	}{
		{"192.0.2.0", "192.0.3.0", []string{"192.0.2.0/24"}},
		{"192.0.2.1", "192.0.2.6", []string{"192.0.2.1/32", "192.0.2.2/31", "192.0.2.4/31"}},
		{"192.0.2.255", "192.0.3.0", []string{"192.0.2.255/32"}},
		{"255.255.255.0", "", []string{"255.255.255.0/24"}},
		{"255.255.255.255", "", []string{"255.255.255.255/32"}},
		{"0.0.0.0", "", []string{"0.0.0.0/0"}},
		{"0.0.0.0", "128.0.0.0", []string{"0.0.0.0/1"}},
		{"192.0.2.5", "192.0.2.5", nil},
		{"2001:db8::", "2001:db9::", []string{"2001:db8::/32"}},
		{"::", "", []string{"::/0"}},
		{"::", "8000::", []string{"::/1"}},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "", []string{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe/127"}},
	}
	for _, tt := range tests {
		var end netip.Addr
		if tt.end != "" {
			end = netip.MustParseAddr(tt.end)
		}
		var got []string
		for _, p := range rangePrefixes(netip.MustParseAddr(tt.start), end) {
			got = append(got, p.String())
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("rangePrefixes(%s, %q) = %v, want %v", tt.start, tt.end, got, tt.want)
		}
	}
}
