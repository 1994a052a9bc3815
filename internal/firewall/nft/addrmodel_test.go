package nft

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

// TestAddrModel runs steps of bans and unbans on the model of a hash set
// (in step's notation) and checks what they send to the kernel.
func TestAddrModel(t *testing.T) {
	tests := []struct {
		name  string
		is4   bool
		plen  int // 0: the family's full length
		steps []step
	}{
		{"ban, re-ban, unban", true, 0, []step{
			{change: []string{"192.0.2.1/32@10"}, adds: []string{"192.0.2.1/32@10"}},
			// A later deadline renews the element; an earlier or equal one
			// changes nothing.
			{change: []string{"192.0.2.1/32@20"}, renew: []string{"192.0.2.1/32@20"}},
			{change: []string{"192.0.2.1/32@15"}},
			{change: []string{"192.0.2.1/32@20"}},
			{change: []string{"192.0.2.1/32"}, renew: []string{"192.0.2.1/32"}},
			{change: []string{"192.0.2.1/32@30"}},
			{change: []string{"-192.0.2.1/32"}, dels: []string{"192.0.2.1/32"}},
			{change: []string{"-192.0.2.1/32"}},
		}},
		{"one batch", true, 0, []step{
			{change: []string{"192.0.2.1/32@10", "192.0.2.2/32@10", "192.0.2.1/32@30", "192.0.2.1/32@20"},
				adds: []string{"192.0.2.1/32@30", "192.0.2.2/32@10"}},
			{change: []string{"192.0.2.2/32@5", "192.0.2.2/32@40", "192.0.2.3/32", "192.0.2.3/32@5", "192.0.2.1/32@30"},
				renew: []string{"192.0.2.2/32@40"}, adds: []string{"192.0.2.3/32"}},
			{change: []string{"-192.0.2.1/32", "-192.0.2.1/32", "-192.0.2.9/32"}, dels: []string{"192.0.2.1/32"}},
		}},
		{"expired bans", true, 0, []step{
			{change: []string{"192.0.2.1/32@10", "192.0.2.2/32@10"}, adds: []string{"192.0.2.1/32@10", "192.0.2.2/32@10"}},
			// The kernel dropped both: a ban adds the element again, and
			// an unban has nothing to delete.
			{at: 10 * time.Minute, change: []string{"192.0.2.1/32@20"}, adds: []string{"192.0.2.1/32@20"}},
			{at: 10 * time.Minute, change: []string{"-192.0.2.2/32"}},
		}},
		{"IPv6", false, 0, []step{
			{change: []string{"2001:db8::1/128@10", "2001:db8::1/128@5"}, adds: []string{"2001:db8::1/128@10"}},
			{change: []string{"2001:db8::1/128@20", "2001:db8::2/128"}, renew: []string{"2001:db8::1/128@20"}, adds: []string{"2001:db8::2/128"}},
			{change: []string{"-2001:db8::1/128", "-2001:db8::2/128"}, dels: []string{"2001:db8::1/128", "2001:db8::2/128"}},
		}},
		// A set of /64s: the elements are the prefixes' network addresses.
		{"IPv6 /64s", false, 64, []step{
			{change: []string{"2001:db8:1::/64@10", "2001:db8:2::/64", "2001:db8:1::/64@20"}, adds: []string{"2001:db8:1::/64@20", "2001:db8:2::/64"}},
			{change: []string{"2001:db8:1::/64@30", "2001:db8:2::/64@5"}, renew: []string{"2001:db8:1::/64@30"}},
			{change: []string{"-2001:db8:1::/64", "-2001:db8:3::/64"}, dels: []string{"2001:db8:1::/64"}},
		}},
		{"IPv4 /24s", true, 24, []step{
			{change: []string{"198.51.100.0/24@10", "203.0.113.0/24@10"}, adds: []string{"198.51.100.0/24@10", "203.0.113.0/24@10"}},
			{change: []string{"-198.51.100.0/24"}, dels: []string{"198.51.100.0/24"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			plen := tt.plen
			if plen == 0 {
				plen = 128
				if tt.is4 {
					plen = 32
				}
			}
			m := newAddrModel(tt.is4, plen, 0)
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				bans, unbans := parseChange(t, s.change)
				var o ops
				if len(bans) > 0 {
					o = m.ban(bans, now)
				}
				if len(unbans) > 0 {
					o.dels = m.unban(unbans, now).dels
				}
				dels, renew, adds := formatOps(o)
				if !slices.Equal(dels, s.dels) || !slices.Equal(renew, s.renew) || !slices.Equal(adds, s.adds) {
					t.Fatalf("step %d %v:\ndels %v, want %v\nrenew %v, want %v\nadds %v, want %v", i, s.change, dels, s.dels, renew, s.renew, adds, s.adds)
				}
			}
		})
	}
}

func TestAddrModelPrune(t *testing.T) {
	m := newAddrModel(true, 32, 0)
	m.ban([]entry{
		parseEntry(t, "192.0.2.1/32@10"), parseEntry(t, "192.0.2.2/32@20"), parseEntry(t, "192.0.2.3/32"),
	}, t0)
	m.prune(t0.Add(15 * time.Minute))
	var got []string
	for _, e := range m.all(t0) {
		got = append(got, formatEntry(e))
	}
	if want := []string{"192.0.2.2/32@20", "192.0.2.3/32"}; !slices.Equal(got, want) {
		t.Errorf("after prune: %v, want %v", got, want)
	}
	if _, ok := m.get(netip.MustParseAddr("192.0.2.2"), t0.Add(20*time.Minute)); ok {
		t.Error("192.0.2.2 banned at its deadline")
	}
	if d, ok := m.get(netip.MustParseAddr("192.0.2.3"), t0.Add(time.Hour)); !ok || !d.IsZero() {
		t.Errorf("192.0.2.3: %v, %v; want a permanent ban", d, ok)
	}
}

// TestAddrModelGet finds the ban of the prefix of the model's length
// that holds an address.
func TestAddrModelGet(t *testing.T) {
	m := newAddrModel(false, 64, 0)
	m.ban([]entry{parseEntry(t, "2001:db8:1::/64@10")}, t0)
	for _, tt := range []struct {
		addr string
		ok   bool
	}{
		{"2001:db8:1::", true},
		{"2001:db8:1::9", true},
		{"2001:db8:1:0:ffff:ffff:ffff:ffff", true},
		{"2001:db8:1:1::", false},
		{"2001:db8::9", false},
	} {
		if _, ok := m.get(netip.MustParseAddr(tt.addr), t0); ok != tt.ok {
			t.Errorf("get(%s) = %v, want %v", tt.addr, ok, tt.ok)
		}
	}
	if got := m.all(t0); len(got) != 1 || formatEntry(got[0]) != "2001:db8:1::/64@10" {
		t.Errorf("all = %v", got)
	}
}

// BenchmarkAddrModelBan10000 bans 10,000 addresses in an empty model of a
// hash set and computes what to send: the backend's own share of a large
// batch.
func BenchmarkAddrModelBan10000(b *testing.B) {
	bans := make([]entry, 10000)
	for i := range bans {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 4: byte(i >> 16), 5: byte(i >> 8), 6: byte(i), 15: byte(i%251 + 1)})
		bans[i] = entry{netip.PrefixFrom(a, 128), t0.Add(time.Hour)}
	}
	for b.Loop() {
		m := newAddrModel(false, 128, 0)
		if o := m.ban(bans, t0); len(o.adds) != len(bans) {
			b.Fatalf("%d elements to add", len(o.adds))
		}
	}
}
