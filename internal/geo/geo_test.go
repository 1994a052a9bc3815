package geo

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/geo/asn"
	"github.com/gaol-project/gaol/internal/geo/world"
)

// TestStatic looks up well-known public resolver addresses in the data built
// into the binary; nothing is sent to them. The expected answers are what the
// built-in data says (IP2Location LITE places 1.1.1.1 in Australia, where
// APNIC holds it); refreshing the data may change them.
func TestStatic(t *testing.T) {
	tests := []struct {
		addr string
		want Info
	}{
		{"1.1.1.1", Info{Country: "AU", CountryName: "Australia", ASN: 13335, Org: "Cloudflare, Inc."}},
		{"8.8.8.8", Info{Country: "US", CountryName: "United States", ASN: 15169, Org: "Google LLC"}},
		{"::ffff:8.8.8.8", Info{Country: "US", CountryName: "United States", ASN: 15169, Org: "Google LLC"}},
		{"2001:4860:4860::8888", Info{Country: "US", CountryName: "United States", ASN: 15169, Org: "Google LLC"}},
		{"192.0.2.1", Info{}},
		{"198.51.100.1", Info{}},
		{"203.0.113.1", Info{}},
		{"2001:db8::1", Info{}},
		{"127.0.0.1", Info{}},
	}
	for _, tc := range tests {
		if got := Static(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Static(%s) = %+v, want %+v", tc.addr, got, tc.want)
		}
	}
	if got := Static(netip.Addr{}); got != (Info{}) {
		t.Errorf("Static(invalid) = %+v", got)
	}
}

func writeCityDB(t *testing.T) string {
	t.Helper()
	db := writeMMDB(t, []mmdbNetwork{
		{netip.MustParsePrefix("192.0.2.0/25"), cityData("Testville", "NL", 52.37, 4.89)},
		{netip.MustParsePrefix("203.0.113.0/24"), mmdbMap{"country": mmdbMap{"iso_code": "JP"}}},
		{netip.MustParsePrefix("2001:db8:1::/48"), cityData("Sampleton", "BR", -23.55, -46.63)},
	})
	path := filepath.Join(t.TempDir(), "city.mmdb")
	if err := os.WriteFile(path, db, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCityDB(t *testing.T) {
	r, err := New(Options{CityDB: writeCityDB(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tests := []struct {
		addr string
		want Info
	}{
		{"192.0.2.7", Info{Country: "NL", CountryName: "Netherlands", City: "Testville", Lat: 52.37, Lon: 4.89, HasCoords: true}},
		{"::ffff:192.0.2.7", Info{Country: "NL", CountryName: "Netherlands", City: "Testville", Lat: 52.37, Lon: 4.89, HasCoords: true}},
		{"192.0.2.200", Info{}},
		{"203.0.113.5", Info{Country: "JP", CountryName: "Japan"}},
		{"2001:db8:1:2::3", Info{Country: "BR", CountryName: "Brazil", City: "Sampleton", Lat: -23.55, Lon: -46.63, HasCoords: true}},
		{"2001:db8:2::1", Info{}},
		{"8.8.8.8", Info{Country: "US", CountryName: "United States", ASN: 15169, Org: "Google LLC"}},
	}
	for _, tc := range tests {
		if got := r.Lookup(netip.MustParseAddr(tc.addr)); got != tc.want {
			t.Errorf("Lookup(%s) = %+v, want %+v", tc.addr, got, tc.want)
		}
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(Options{CityDB: filepath.Join(t.TempDir(), "missing.mmdb")}); err == nil {
		t.Error("missing City database accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.mmdb")
	os.WriteFile(bad, []byte("not a database"), 0o644)
	if _, err := New(Options{CityDB: bad}); err == nil {
		t.Error("corrupt City database accepted")
	}
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
}

func TestCoords(t *testing.T) {
	tests := []struct {
		info     Info
		lat, lon float64
		ok       bool
	}{
		{Info{Country: "NL", Lat: 52.37, Lon: 4.89, HasCoords: true}, 52.37, 4.89, true},
		{Info{Country: "US"}, 39.53, -99.14, true},
		{Info{Country: "FR"}, 46.62, 2.45, true}, // metropolitan France, not its overseas parts
		{Info{}, 0, 0, false},
		{Info{Country: "QQ"}, 0, 0, false},
	}
	for _, tc := range tests {
		lat, lon, ok := tc.info.Coords()
		if lat != tc.lat || lon != tc.lon || ok != tc.ok {
			t.Errorf("%+v.Coords() = %v, %v, %v; want %v, %v, %v", tc.info, lat, lon, ok, tc.lat, tc.lon, tc.ok)
		}
	}
}

// fakeDNS answers from a table and counts the questions.
type fakeDNS struct {
	mu    sync.Mutex
	names map[string][]string
	calls map[string]int
	block bool // wait for the context instead of answering
}

func (f *fakeDNS) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	f.mu.Lock()
	f.calls[addr]++
	names, ok := f.names[addr]
	block := f.block
	f.mu.Unlock()
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if !ok {
		return nil, errors.New("no such host")
	}
	return names, nil
}

func (f *fakeDNS) count(addr string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[addr]
}

func TestReverseDNS(t *testing.T) {
	dns := &fakeDNS{
		names: map[string][]string{
			"192.0.2.1":   {"host1.example.net.", "other.example."},
			"2001:db8::1": {"v6.example.org"},
			"192.0.2.3":   {"host3.example.net."},
		},
		calls: map[string]int{},
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := New(Options{ReverseDNS: dns, RDNSTTL: time.Hour, RDNSCacheSize: 2, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	lookup := func(a string) string { return r.Lookup(netip.MustParseAddr(a)).RDNS }

	if got := lookup("192.0.2.1"); got != "host1.example.net" {
		t.Errorf("rDNS = %q", got)
	}
	if got := lookup("::ffff:192.0.2.1"); got != "host1.example.net" || dns.count("192.0.2.1") != 1 {
		t.Errorf("cached rDNS = %q after %d questions", got, dns.count("192.0.2.1"))
	}
	if got := lookup("2001:db8::1"); got != "v6.example.org" {
		t.Errorf("rDNS = %q", got)
	}
	// A failure is cached for a tenth of the TTL.
	if got := lookup("192.0.2.2"); got != "" {
		t.Errorf("rDNS of unknown = %q", got)
	}
	now = now.Add(5 * time.Minute)
	lookup("192.0.2.2")
	if n := dns.count("192.0.2.2"); n != 1 {
		t.Errorf("failure asked %d times within its TTL", n)
	}
	now = now.Add(2 * time.Minute)
	lookup("192.0.2.2")
	if n := dns.count("192.0.2.2"); n != 2 {
		t.Errorf("failure asked %d times after its TTL", n)
	}
	// The cache holds two: 192.0.2.1 was evicted by the two since.
	lookup("192.0.2.1")
	if n := dns.count("192.0.2.1"); n != 2 {
		t.Errorf("evicted address asked %d times", n)
	}
	// Names expire after the TTL.
	lookup("192.0.2.3")
	now = now.Add(59 * time.Minute)
	lookup("192.0.2.3")
	if n := dns.count("192.0.2.3"); n != 1 {
		t.Errorf("name asked %d times within its TTL", n)
	}
	now = now.Add(2 * time.Minute)
	lookup("192.0.2.3")
	if n := dns.count("192.0.2.3"); n != 2 {
		t.Errorf("name asked %d times after its TTL", n)
	}
}

func TestReverseDNSTimeout(t *testing.T) {
	dns := &fakeDNS{block: true, calls: map[string]int{}}
	r, err := New(Options{ReverseDNS: dns, RDNSTimeout: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Lookup(netip.MustParseAddr("192.0.2.9")); got.RDNS != "" {
		t.Errorf("rDNS = %q", got.RDNS)
	}
	// The caller's context also ends the wait.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r2, _ := New(Options{ReverseDNS: dns, RDNSTimeout: time.Hour})
	if got := r2.LookupContext(ctx, netip.MustParseAddr("192.0.2.10")); got.RDNS != "" {
		t.Errorf("rDNS = %q", got.RDNS)
	}
}

func TestReverseDNSOffByDefault(t *testing.T) {
	r, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Lookup(netip.MustParseAddr("192.0.2.1")); got.RDNS != "" {
		t.Errorf("rDNS = %q with rDNS off", got.RDNS)
	}
}

func BenchmarkLookup(b *testing.B) {
	r, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	addrs := []netip.Addr{netip.MustParseAddr("8.8.8.8"), netip.MustParseAddr("2001:4860:4860::8888"), netip.MustParseAddr("192.0.2.1")}
	r.Lookup(addrs[0]) // load the tables
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		r.Lookup(addrs[i%len(addrs)])
	}
}

// TestAttribution checks that ATTRIBUTION.md names the versions of the data
// built in, so that it is updated when the data is.
func TestAttribution(t *testing.T) {
	b, err := os.ReadFile("ATTRIBUTION.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for _, want := range []string{
		asn.DataPackage, asn.DataVersion, asn.DataDate,
		strings.TrimPrefix(world.AtlasPackage, "world-atlas@"),
		strings.TrimPrefix(world.NamesPackage, "i18n-iso-countries@"),
		"db-ip.com", "routeviews.org", "nro.net", "lite.ip2location.com", "CC BY 4.0",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("ATTRIBUTION.md does not mention %q", want)
		}
	}
}

func TestConcurrentLookups(t *testing.T) {
	dns := &fakeDNS{names: map[string][]string{"192.0.2.1": {"a.example."}}, calls: map[string]int{}}
	r, err := New(Options{ReverseDNS: dns, RDNSCacheSize: 8, CityDB: writeCityDB(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				a := netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + (g*50+i)%20)})
				info := r.Lookup(a)
				if a.As4()[3] == 1 && info.RDNS != "a.example" {
					t.Errorf("rDNS of %s = %q", a, info.RDNS)
				}
			}
		}()
	}
	wg.Wait()
}
