package asn

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"net/netip"
	"strings"
	"testing"
)

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }

func rng(first, last string, n uint32, org string) Range {
	return Range{First: mustAddr(first), Last: mustAddr(last), ASN: n, Org: org}
}

func TestNewTableLookup(t *testing.T) {
	tab, err := NewTable([]Range{
		rng("192.0.2.0", "192.0.2.127", 64500, "Example A"),
		rng("192.0.2.128", "192.0.2.255", 64500, ""), // merges with the one above
		rng("198.51.100.0", "198.51.100.255", 64501, "Example B"),
		rng("198.51.100.128", "198.51.101.63", 64502, "Example C"), // overlaps: clipped
		rng("203.0.113.10", "203.0.113.10", 64503, "Example D"),
		rng("255.255.255.0", "255.255.255.255", 64504, "Example E"), // reaches the end
		rng("2001:db8::", "2001:db8:0:ffff:ffff:ffff:ffff:ffff", 64501, "Example B"),
		rng("2001:db8:1::", "2001:db8:1::ff", 64505, "Example F"), // shorter than a /64
		rng("10.0.0.0", "10.0.0.255", 0, "no AS"),                 // ignored
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		addr string
		want uint32 // 0 = none
		org  string
	}{
		{"0.0.0.0", 0, ""},
		{"192.0.1.255", 0, ""},
		{"192.0.2.0", 64500, "Example A"},
		{"192.0.2.200", 64500, "Example A"},
		{"192.0.3.0", 0, ""},
		{"198.51.100.200", 64501, "Example B"},
		{"198.51.101.0", 64502, "Example C"},
		{"198.51.101.63", 64502, "Example C"},
		{"198.51.101.64", 0, ""},
		{"203.0.113.9", 0, ""},
		{"203.0.113.10", 64503, "Example D"},
		{"203.0.113.11", 0, ""},
		{"10.0.0.1", 0, ""},
		{"255.255.255.255", 64504, "Example E"},
		{"::ffff:192.0.2.1", 64500, "Example A"},
		{"::", 0, ""},
		{"2001:db8::1", 64501, "Example B"},
		{"2001:db8:0:ffff:ffff:ffff:ffff:ffff", 64501, "Example B"},
		{"2001:db8:1::", 64505, "Example F"},
		{"2001:db8:1::ff", 64505, "Example F"},
		{"2001:db8:1::100", 0, ""},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 0, ""},
	}
	var buf bytes.Buffer
	if _, err := tab.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadTable(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for name, tb := range map[string]*Table{"built": tab, "read back": back} {
		for _, tc := range tests {
			got, ok := tb.Lookup(mustAddr(tc.addr))
			if ok != (tc.want != 0) || got.Number != tc.want || got.Org != tc.org {
				t.Errorf("%s: Lookup(%s) = %+v, %v; want AS%d %q", name, tc.addr, got, ok, tc.want, tc.org)
			}
		}
	}
	// IPv4: none from 0, A, none, B, C, none, D, none, E.
	// IPv6: none from ::, B, F (right after B), none.
	if v4, v6, n := tab.Len(); v4 != 9 || v6 != 4 || n != 6 {
		t.Errorf("Len() = %d, %d, %d; want 9, 4, 6", v4, v6, n)
	}
}

func TestNewTableInvalid(t *testing.T) {
	for _, r := range []Range{
		{First: mustAddr("192.0.2.1"), Last: mustAddr("2001:db8::1"), ASN: 1},
		{First: mustAddr("192.0.2.9"), Last: mustAddr("192.0.2.1"), ASN: 1},
		{ASN: 1},
	} {
		if _, err := NewTable([]Range{r}); err == nil {
			t.Errorf("NewTable(%v) succeeded", r)
		}
	}
}

func TestZeroTable(t *testing.T) {
	var tab Table
	if _, ok := tab.Lookup(mustAddr("192.0.2.1")); ok {
		t.Error("zero table found an AS")
	}
	if _, ok := tab.Lookup(netip.Addr{}); ok {
		t.Error("zero address found an AS")
	}
}

func TestReadTableCorrupt(t *testing.T) {
	gz := func(s string) []byte {
		var b bytes.Buffer
		w := gzip.NewWriter(&b)
		w.Write([]byte(s))
		w.Close()
		return b.Bytes()
	}
	for name, data := range map[string][]byte{
		"not gzip":       []byte("hello"),
		"bad magic":      gz("NOTASN00"),
		"truncated":      gz(magic + "\x02\x01"),
		"huge count":     gz(magic + "\xff\xff\xff\xff\x0f"),
		"index past end": gz(magic + "\x00\x01\x00\x05\x00"),
		"not ascending":  gz(magic + "\x00\x02\x00\x00\x00\x00"),
	} {
		if _, err := ReadTable(bytes.NewReader(data)); err == nil {
			t.Errorf("%s: ReadTable succeeded", name)
		}
	}
}

// TestBuiltIn looks up well-known public resolver addresses in the built-in
// table (offline: no traffic is sent to them).
func TestBuiltIn(t *testing.T) {
	tab, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	v4, v6, n := tab.Len()
	t.Logf("built-in table %s@%s: %d IPv4, %d IPv6 entries, %d AS", DataPackage, DataVersion, v4, v6, n)
	if v4 < 100000 || v6 < 10000 || n < 10000 {
		t.Errorf("built-in table looks too small")
	}
	tests := []struct {
		addr string
		want uint32
		org  string // substring
	}{
		{"1.1.1.1", 13335, "Cloudflare"},
		{"2606:4700:4700::1111", 13335, "Cloudflare"},
		{"8.8.8.8", 15169, "Google"},
		{"2001:4860:4860::8888", 15169, "Google"},
		{"9.9.9.9", 19281, "Quad9"},
		{"192.0.2.1", 0, ""},
		{"198.51.100.7", 0, ""},
		{"203.0.113.200", 0, ""},
		{"2001:db8::1", 0, ""},
		{"127.0.0.1", 0, ""},
		{"10.1.2.3", 0, ""},
	}
	for _, tc := range tests {
		got, ok := Lookup(mustAddr(tc.addr))
		if ok != (tc.want != 0) || got.Number != tc.want || !strings.Contains(got.Org, tc.org) {
			t.Errorf("Lookup(%s) = %+v, %v; want AS%d (%s)", tc.addr, got, ok, tc.want, tc.org)
		}
	}
	if DataDate == "" || DataVersion == "" {
		t.Error("data version unknown")
	}
}

// FuzzDecode feeds the uncompressed table format (the fuzzer gets
// nowhere through gzip's checksum).
func FuzzDecode(f *testing.F) {
	tab, _ := NewTable([]Range{
		rng("192.0.2.0", "192.0.2.255", 64500, "A"),
		rng("2001:db8::", "2001:db8::ffff", 64501, "B"),
		rng("2001:db8::1:0", "2001:db8::1:ff", 64502, "C"),
	})
	var buf bytes.Buffer
	tab.WriteTo(&buf)
	zr, _ := gzip.NewReader(&buf)
	raw, _ := io.ReadAll(zr)
	f.Add(raw)
	f.Add([]byte(magic))
	f.Fuzz(func(t *testing.T, data []byte) {
		tab, err := decode(bufio.NewReader(bytes.NewReader(data)))
		if err != nil {
			return
		}
		for _, a := range []string{"0.0.0.0", "192.0.2.1", "255.255.255.255", "::", "2001:db8::1", "ffff::"} {
			if as, ok := tab.Lookup(mustAddr(a)); ok && as.Number == 0 && len(tab.asns) > 0 && tab.asns[0] != 0 {
				t.Errorf("Lookup(%s) found AS0", a)
			}
		}
	})
}

func BenchmarkLookupIPv4(b *testing.B) {
	tab, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{mustAddr("1.1.1.1"), mustAddr("8.8.8.8"), mustAddr("203.0.113.9"), mustAddr("185.220.101.1")}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tab.Lookup(addrs[i%len(addrs)])
	}
}

func BenchmarkLookupIPv6(b *testing.B) {
	tab, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{mustAddr("2606:4700:4700::1111"), mustAddr("2001:4860:4860::8888"), mustAddr("2001:db8::1")}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tab.Lookup(addrs[i%len(addrs)])
	}
}

func BenchmarkLoad(b *testing.B) {
	for b.Loop() {
		if _, err := ReadTable(bytes.NewReader(embedded)); err != nil {
			b.Fatal(err)
		}
	}
}
