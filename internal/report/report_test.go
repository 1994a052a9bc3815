package report

import (
	"bytes"
	"flag"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/geo"
)

var update = flag.Bool("update", false, "rewrite golden files and the reference screenshot")

// Synthetic geography: no real address is looked up; documentation
// addresses carry made-up but plausible attribution.
var (
	cn     = geo.Info{Country: "CN", CountryName: "China", ASN: 4134, Org: "Chinanet"}
	cnCity = geo.Info{Country: "CN", CountryName: "China", ASN: 4134, Org: "Chinanet", City: "Beijing", Lat: 39.90, Lon: 116.40, HasCoords: true}
	us     = geo.Info{Country: "US", CountryName: "United States", ASN: 14061, Org: "DigitalOcean, LLC"}
	usCity = geo.Info{Country: "US", CountryName: "United States", ASN: 14061, Org: "DigitalOcean, LLC", City: "Clifton", Lat: 40.86, Lon: -74.16, HasCoords: true}
	nl     = geo.Info{Country: "NL", CountryName: "Netherlands", ASN: 14061, Org: "DigitalOcean, LLC"}
	ru     = geo.Info{Country: "RU", CountryName: "Russia", ASN: 49505, Org: "Selectel"}
)

var (
	now   = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	since = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
)

func at(month time.Month, day, hour, minute int) time.Time {
	return time.Date(2026, month, day, hour, minute, 0, 0, time.UTC)
}

func rec(jail, prefix string, start time.Time, category string, g geo.Info) Record {
	p, err := netip.ParsePrefix(prefix)
	if err != nil {
		a := netip.MustParseAddr(prefix)
		p = netip.PrefixFrom(a, a.BitLen())
	}
	return Record{Jail: jail, Prefix: p, Start: start, End: start.Add(time.Hour), Failures: 5, Category: category, Geo: g}
}

// history is a synthetic ban history with known answers: after since, 15
// bans of 12 addresses (one a /25), in 4 jails.
func history() []Record {
	return []Record{
		rec("sshd", "192.0.2.1", at(2, 3, 10, 15), "ssh", cnCity),
		rec("sshd", "192.0.2.1", at(2, 10, 22, 40), "ssh", cnCity),
		rec("recidive", "192.0.2.1", at(2, 10, 23, 0), "", cnCity),
		rec("sshd", "192.0.2.2", at(2, 3, 10, 20), "ssh", cnCity),
		rec("sshd", "192.0.2.3", at(2, 14, 3, 5), "ssh", cn),
		rec("postfix", "192.0.2.4", at(2, 20, 8, 0), "mail", cn),
		rec("nginx-http-auth", "198.51.100.10", at(2, 20, 9, 30), "web", usCity),
		rec("nginx-http-auth", "198.51.100.11", at(2, 21, 14, 0), "web", us),
		rec("sshd", "2001:db8:1::10", at(2, 21, 14, 10), "ssh", us),
		rec("sshd", "198.51.100.20", at(2, 25, 1, 0), "ssh", nl),
		rec("nginx-http-auth", "198.51.100.20", at(2, 25, 1, 30), "web", nl),
		rec("sshd", "203.0.113.5", at(2, 27, 18, 0), "ssh", ru),
		rec("sshd", "203.0.113.6", at(2, 27, 18, 5), "ssh", ru),
		rec("recidive", "203.0.113.128/25", at(2, 28, 0, 0), "", ru),
		rec("sshd", "2001:db8:ffff::1", at(3, 1, 11, 0), "ssh", geo.Info{}),
		rec("sshd", "192.0.2.99", at(1, 20, 12, 0), "ssh", cn), // before since
	}
}

func row(rank int, key, label string, count int, pct float64) Row {
	return Row{Rank: rank, Key: key, Label: label, Count: count, Percent: pct}
}

func other(key, label string, count int, pct float64) Row {
	return Row{Key: key, Label: label, Count: count, Percent: pct, Other: true}
}

func TestAggregate(t *testing.T) {
	base := Options{Since: since, Now: now}
	with := func(f func(*Options)) Options { o := base; f(&o); return o }
	tests := []struct {
		name      string
		opts      Options
		total     int
		addresses int
		bans      int
		rows      []Row
	}{
		{"country", base, 12, 12, 15, []Row{
			row(1, "CN", "China", 4, 33.33),
			row(2, "RU", "Russia", 3, 25),
			row(3, "US", "United States", 3, 25),
			row(4, "NL", "Netherlands", 1, 8.33),
			row(5, "", "", 1, 8.33),
		}},
		{"country bans", with(func(o *Options) { o.Count = CountBans }), 15, 12, 15, []Row{
			row(1, "CN", "China", 6, 40),
			row(2, "RU", "Russia", 3, 20),
			row(3, "US", "United States", 3, 20),
			row(4, "NL", "Netherlands", 2, 13.33),
			row(5, "", "", 1, 6.67),
		}},
		{"country top 2", with(func(o *Options) { o.Top = 2 }), 12, 12, 15, []Row{
			row(1, "CN", "China", 4, 33.33),
			row(2, "RU", "Russia", 3, 25),
			other("other", "3 more", 5, 41.67),
		}},
		{"all time", with(func(o *Options) { o.Since = time.Time{}; o.Top = 1 }), 13, 13, 16, []Row{
			row(1, "CN", "China", 5, 38.46),
			other("other", "4 more", 8, 61.54),
		}},
		{"jail sshd", with(func(o *Options) { o.Jail = "sshd" }), 8, 8, 9, []Row{
			row(1, "CN", "China", 3, 37.5),
			row(2, "RU", "Russia", 2, 25),
			row(3, "NL", "Netherlands", 1, 12.5),
			row(4, "US", "United States", 1, 12.5),
			row(5, "", "", 1, 12.5),
		}},
		{"asn", with(func(o *Options) { o.By = ByASN }), 12, 12, 15, []Row{
			row(1, "AS14061", "DigitalOcean, LLC", 4, 33.33),
			row(2, "AS4134", "Chinanet", 4, 33.33),
			row(3, "AS49505", "Selectel", 3, 25),
			row(4, "", "", 1, 8.33),
		}},
		{"org", with(func(o *Options) { o.By = ByOrg }), 12, 12, 15, []Row{
			row(1, "Chinanet", "", 4, 33.33),
			row(2, "DigitalOcean, LLC", "", 4, 33.33),
			row(3, "Selectel", "", 3, 25),
			row(4, "", "", 1, 8.33),
		}},
		{"subnet", with(func(o *Options) { o.By = BySubnet }), 12, 12, 15, []Row{
			row(1, "192.0.2.0/24", "", 4, 33.33),
			row(2, "198.51.100.0/24", "", 3, 25),
			row(3, "203.0.113.0/24", "", 3, 25),
			row(4, "2001:db8:1::/48", "", 1, 8.33),
			row(5, "2001:db8:ffff::/48", "", 1, 8.33),
		}},
		{"ip bans top 3", with(func(o *Options) { o.By = ByIP; o.Count = CountBans; o.Top = 3 }), 15, 12, 15, []Row{
			row(1, "192.0.2.1", "CN AS4134 Chinanet", 3, 20),
			row(2, "198.51.100.20", "NL AS14061 DigitalOcean, LLC", 2, 13.33),
			row(3, "192.0.2.2", "CN AS4134 Chinanet", 1, 6.67),
			other("other", "9 more", 9, 60),
		}},
		{"jail", with(func(o *Options) { o.By = ByJail }), 12, 12, 15, []Row{
			row(1, "sshd", "", 8, 66.67),
			row(2, "nginx-http-auth", "", 3, 25),
			row(3, "recidive", "", 2, 16.67),
			row(4, "postfix", "", 1, 8.33),
		}},
		// The unknown group (2) outranks mail (1): "unknown last" only
		// breaks ties.
		{"category", with(func(o *Options) { o.By = ByCategory }), 12, 12, 15, []Row{
			row(1, "ssh", "", 8, 66.67),
			row(2, "web", "", 3, 25),
			row(3, "", "", 2, 16.67),
			row(4, "mail", "", 1, 8.33),
		}},
		{"day top 3", with(func(o *Options) { o.By = ByDay; o.Top = 3 }), 12, 12, 15, []Row{
			other("earlier", "6 more", 8, 66.67),
			row(4, "2026-02-27", "", 2, 16.67), // after Feb 3, 20, 21 with as many
			row(8, "2026-02-28", "", 1, 8.33),
			row(9, "2026-03-01", "", 1, 8.33),
		}},
		{"hour bans in Tokyo", with(func(o *Options) {
			o.By, o.Count, o.Since, o.Location = ByHour, CountBans, at(2, 27, 0, 0), time.FixedZone("JST", 9*3600)
		}), 4, 4, 4, []Row{
			row(1, "2026-02-28 03:00", "", 2, 50),
			row(2, "2026-02-28 09:00", "", 1, 25),
			row(3, "2026-03-01 20:00", "", 1, 25),
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Aggregate(history(), tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if got.Total != tc.total || got.Addresses != tc.addresses || got.Bans != tc.bans {
				t.Errorf("total, addresses, bans = %d, %d, %d; want %d, %d, %d", got.Total, got.Addresses, got.Bans, tc.total, tc.addresses, tc.bans)
			}
			if !reflect.DeepEqual(got.Rows, tc.rows) {
				t.Errorf("rows:\n got %+v\nwant %+v", got.Rows, tc.rows)
			}
		})
	}
}

func TestAggregateEmpty(t *testing.T) {
	got, err := Aggregate(nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got.By != ByCountry || got.Count != CountAddresses || got.Total != 0 || len(got.Rows) != 0 || got.Rows == nil {
		t.Errorf("empty report = %+v", got)
	}
}

func TestOptionErrors(t *testing.T) {
	for _, o := range []Options{{By: "planet"}, {Count: "packets"}, {Top: -1}} {
		if _, err := Aggregate(history(), o); err == nil {
			t.Errorf("Aggregate(%+v) succeeded", o)
		}
		if err := Write(&bytes.Buffer{}, "html", history(), o); err == nil {
			t.Errorf("Write html (%+v) succeeded", o)
		}
	}
	if err := Write(&bytes.Buffer{}, "pdf", history(), Options{}); err == nil {
		t.Error("unknown format accepted")
	}
}

func TestSubnet(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.77/32":     "192.0.2.0/24",
		"192.0.2.128/25":    "192.0.2.0/24",
		"198.51.0.0/16":     "198.51.0.0/16",
		"2001:db8:1:2::/64": "2001:db8:1::/48",
		"2001:db8::/32":     "2001:db8::/32",
	} {
		if got := Subnet(netip.MustParsePrefix(in)).String(); got != want {
			t.Errorf("Subnet(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -1234: "-1,234"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, firstDiff(string(want), string(got)))
	}
}

func firstDiff(want, got string) string {
	wl, gl := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < max(len(wl), len(gl)); i++ {
		var w, g string
		if i < len(wl) {
			w = wl[i]
		}
		if i < len(gl) {
			g = gl[i]
		}
		if w != g {
			return "line " + strconv.Itoa(i+1) + ":\nwant: " + w + "\n got: " + g
		}
	}
	return ""
}

func TestGolden(t *testing.T) {
	base := Options{Since: since, Now: now}
	tests := []struct {
		file, format string
		opts         Options
	}{
		{"country.table", "table", base},
		{"country.tsv", "tsv", base},
		{"country.csv", "csv", base},
		{"country.json", "json", base},
		{"country.html", "html", base},
		{"asn-top3.table", "table", Options{Since: since, Now: now, By: ByASN, Top: 3}},
		{"org.csv", "csv", Options{Since: since, Now: now, By: ByOrg}},
		{"day-bans.table", "table", Options{Since: since, Now: now, By: ByDay, Count: CountBans}},
		{"sshd-ip.tsv", "tsv", Options{Since: since, Now: now, By: ByIP, Jail: "sshd"}},
		{"empty.table", "table", Options{Since: now, Now: now}},
		{"empty.html", "html", Options{Since: now, Now: now}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, tc.format, history(), tc.opts); err != nil {
				t.Fatal(err)
			}
			golden(t, tc.file, buf.Bytes())
		})
	}
}

// bigHistory makes n bans from n/2 addresses in 40 countries over 30 days.
func bigHistory(n int) []Record {
	out := make([]Record, n)
	for i := range out {
		a := netip.AddrFrom4([4]byte{198, 18, byte(i / 2 / 256 % 256), byte(i / 2 % 256)})
		c := string(rune('A'+i%40/26)) + string(rune('A'+i%26))
		out[i] = Record{
			Jail: []string{"sshd", "nginx", "postfix"}[i%3], Prefix: netip.PrefixFrom(a, 32),
			Start: since.Add(time.Duration(i%(30*24)) * time.Hour), Category: "ssh",
			Geo: geo.Info{Country: c, ASN: uint32(64500 + i%300), Org: "Org"},
		}
	}
	return out
}

func BenchmarkAggregate(b *testing.B) {
	recs := bigHistory(100_000)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Aggregate(recs, Options{By: ByCountry, Top: 20}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteHTML(b *testing.B) {
	recs := bigHistory(100_000)
	b.ResetTimer()
	for b.Loop() {
		if err := WriteHTML(io.Discard, recs, Options{Since: since, Now: now}); err != nil {
			b.Fatal(err)
		}
	}
}
