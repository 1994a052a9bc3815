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
	})
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
