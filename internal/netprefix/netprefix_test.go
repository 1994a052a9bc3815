package netprefix

import (
	"net/netip"
	"testing"
)

func TestCanonical(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"192.0.2.77/24", "192.0.2.0/24", true},
		{"::ffff:192.0.2.7/128", "192.0.2.7/32", true},
		{"::ffff:198.51.100.0/120", "198.51.100.0/24", true},
		{"::ffff:0:0/95", "::fffe:0:0/95", true},
		{"2001:db8::1/64", "2001:db8::/64", true},
	}
	for _, tt := range tests {
		got, ok := Canonical(netip.MustParsePrefix(tt.in))
		if ok != tt.ok || got.String() != tt.want {
			t.Errorf("Canonical(%s) = %v %v, want %s", tt.in, got, ok, tt.want)
		}
	}
	if _, ok := Canonical(netip.Prefix{}); ok {
		t.Error("invalid prefix accepted")
	}
}

func TestCanonicalCases(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"192.0.2.7/24", "192.0.2.0/24", true},
		{"::ffff:192.0.2.7/128", "192.0.2.7/32", true},
		{"::ffff:192.0.2.0/120", "192.0.2.0/24", true},
		{"::ffff:0.0.0.0/96", "0.0.0.0/0", true},
		{"::/64", "::/64", true},
		{"2001:db8::1/32", "2001:db8::/32", true},
	}
	for _, tt := range tests {
		got, ok := Canonical(netip.MustParsePrefix(tt.in))
		if ok != tt.ok || got.String() != tt.want {
			t.Errorf("Canonical(%s) = %s, %v; want %s, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
	if _, ok := Canonical(netip.Prefix{}); ok {
		t.Error("Canonical accepted the zero prefix")
	}
	p := netip.PrefixFrom(netip.MustParseAddr("fe80::1%eth0"), 128)
	if got, ok := Canonical(p); !ok || got.Addr().Zone() != "" {
		t.Errorf("Canonical(%v) = %v, %v; want no zone", p, got, ok)
	}
}
