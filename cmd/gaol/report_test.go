package main

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/report"
	"github.com/gaol-project/gaol/internal/store"
	"github.com/gaol-project/gaol/internal/store/sqlite"
)

// The bans of the test database happened in October 2026, except for the
// active ones, which last until 2099 so that they are active whenever the
// test runs.
var (
	oct    = func(day, hour int) time.Time { return time.Date(2026, 10, day, hour, 0, 0, 0, time.UTC) }
	future = time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
)

var (
	geoNL = store.Geo{Country: "NL", ASN: 64500, Org: "Example Hosting", City: "Amsterdam", Lat: 52.37, Lon: 4.89, HasCoords: true}
	geoCN = store.Geo{Country: "CN", ASN: 64501, Org: "Example Telecom"}
	geoUS = store.Geo{Country: "US", ASN: 64502, Org: "Example Cloud", RDNS: "scanner.example.com"}
)

// testDB writes a database of bans with synthetic attribution and returns
// its path.
func testDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gaol.db")
	ctx := context.Background()
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ban := func(jail, prefix string, start, end time.Time, failures int, g store.Geo, matches ...string) store.Ban {
		p, err := netip.ParsePrefix(prefix)
		if err != nil {
			t.Fatal(err)
		}
		return store.Ban{Jail: jail, Prefix: p, Start: start, End: end, Failures: failures, Geo: g, Matches: matches, Category: "ssh"}
	}
	bans := []store.Ban{
		ban("sshd", "192.0.2.10/32", oct(1, 10), oct(1, 11), 5, geoNL,
			"Oct  1 09:59:50 web1 sshd[1]: Failed password for root from 192.0.2.10 port 1 ssh2"),
		ban("sshd", "192.0.2.11/32", oct(2, 10), oct(2, 11), 6, geoNL),
		ban("sshd", "198.51.100.7/32", oct(3, 10), oct(3, 11), 5, geoCN),
		ban("sshd", "198.51.100.8/32", oct(3, 12), oct(3, 13), 5, geoCN),
		ban("sshd", "198.51.100.9/32", oct(4, 12), oct(4, 13), 9, geoCN),
		ban("sshd", "203.0.113.5/32", oct(5, 8), oct(5, 9), 5, geoUS),
		ban("sshd", "2001:db8:1::/64", oct(5, 9), oct(5, 10), 7, store.Geo{}), // stored without attribution
		ban("sshd", "192.0.2.12/32", oct(6, 10), time.Time{}, 5, geoNL),       // permanent
		ban("recidive", "192.0.2.10/32", oct(7, 10), future, 3, geoNL,
			"sshd: ban 192.0.2.10 (5 failures)", "sshd: ban 192.0.2.10 (6 failures)"),
		ban("sshd", "192.0.2.10/32", oct(7, 10), future, 6, geoNL,
			"Oct  7 09:59:40 web1 sshd[7]: Failed password for admin from 192.0.2.10 port 7 ssh2",
			"Oct  7 09:59:50 web1 sshd[8]: Failed password for admin from 192.0.2.10 port 8 ssh2"),
		ban("sshd", "192.0.2.0/24", oct(8, 10), future, 30, geoNL, "subnet escalation: 3 bans"),
	}
	bans[1].Manual = true
	if _, err := st.AddBans(ctx, bans); err != nil {
		t.Fatal(err)
	}
	// Mark the bans that ended by now as an expiring daemon does.
	if _, err := st.ExpireBans(ctx, oct(30, 0)); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportGolden(t *testing.T) {
	inUTC(t)
	db := testDB(t)
	scanJSON := filepath.Join(t.TempDir(), "scan.json")
	out, _, err := runOut(t, "scan", "--json", "--now", "2026-11-30", "testdata/auth.log")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(scanJSON, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		golden string
		args   []string
	}{
		{"report-country.table", []string{"report", "--db", db, "--since", "all"}},
		{"report-country-bans.csv", []string{"report", "--db", db, "--since", "all", "--count", "bans", "--format", "csv"}},
		{"report-asn-top2.table", []string{"report", "--db", db, "--since", "all", "--by", "asn", "--top", "2"}},
		{"report-subnet-sshd.tsv", []string{"report", "--db", db, "--since", "2026-10-02", "--by", "subnet", "--jail", "sshd", "--format", "tsv"}},
		{"report-day.table", []string{"report", "--db", db, "--since", "all", "--by", "day", "--count", "bans"}},
		{"report-from-scan.table", []string{"report", "--from-scan", scanJSON, "--by", "ip", "--count", "bans"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			out, errOut, err := runOut(t, tt.args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			golden(t, tt.golden, out)
		})
	}
}

func TestReportFormats(t *testing.T) {
	db := testDB(t)
	// JSON carries every row unless --top is given.
	out, _, err := runOut(t, "report", "--db", db, "--since", "all", "--by", "ip", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var tab report.Table
	if err := json.Unmarshal([]byte(out), &tab); err != nil {
		t.Fatal(err)
	}
	if tab.Addresses != 9 || tab.Bans != 11 || len(tab.Rows) != 9 || tab.Generated.IsZero() {
		t.Errorf("JSON report: %d addresses, %d bans, %d rows, generated %v", tab.Addresses, tab.Bans, len(tab.Rows), tab.Generated)
	}
	// The default --since is 30 days: these bans are older.
	out, _, err = runOut(t, "report", "--db", db, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(out), &tab); err != nil {
		t.Fatal(err)
	}
	if tab.Since.IsZero() || tab.Bans != 0 {
		t.Errorf("default --since: since %v, %d bans", tab.Since, tab.Bans)
	}
	// --out writes a file, here an HTML page.
	page := filepath.Join(t.TempDir(), "report.html")
	if out, _, err := runOut(t, "report", "--db", db, "--since", "all", "--format", "html", "--out", page); err != nil || out != "" {
		t.Fatalf("report --out: %v, output %q", err, out)
	}
	html, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<!DOCTYPE html>", "Netherlands", "Example Telecom"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("HTML report lacks %q", want)
		}
	}
	// The scan JSON can come on the standard input... of a file here.
	scanOut, _, err := runOut(t, "scan", "--json", "--now", "2026-11-30", "testdata/auth.log")
	if err != nil {
		t.Fatal(err)
	}
	stdin := filepath.Join(t.TempDir(), "stdin")
	os.WriteFile(stdin, []byte(scanOut), 0o644)
	f, err := os.Open(stdin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stdin
	os.Stdin = f
	defer func() { os.Stdin = old }()
	out, _, err = runOut(t, "report", "--from-scan", "-", "--by", "jail")
	if err != nil || !strings.Contains(out, "3 addresses, 4 bans") {
		t.Errorf("report --from-scan -: %v\n%s", err, out)
	}
}

func TestReportErrors(t *testing.T) {
	dir := t.TempDir()
	db := testDB(t)
	notJSON := filepath.Join(dir, "scan.txt")
	os.WriteFile(notJSON, []byte("JAIL ADDRESS\n"), 0o644)
	otherJSON := filepath.Join(dir, "other.json")
	os.WriteFile(otherJSON, []byte(`{"rows": []}`), 0o644)
	missing := filepath.Join(dir, "none", "gaol.db")
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"database missing", []string{"report", "--db", missing}, "no database at " + missing + ": has gaol run here? use --db", 1},
		{"bad since", []string{"report", "--db", db, "--since", "last tuesday"}, `--since: "last tuesday" is neither a duration`, 2},
		{"negative since", []string{"report", "--db", db, "--since", "-3d"}, "not a positive duration", 2},
		{"bad by", []string{"report", "--db", db, "--by", "planet"}, `--by: "planet" is not one of country, asn`, 2},
		{"bad count", []string{"report", "--db", db, "--count", "lines"}, `--count: "lines"`, 2},
		{"bad format", []string{"report", "--db", db, "--format", "pdf"}, `--format: "pdf"`, 2},
		{"bad top", []string{"report", "--db", db, "--top", "-1"}, "--top: -1 is negative", 2},
		{"argument", []string{"report", "scan.json"}, "did you mean --from-scan", 2},
		{"scan file missing", []string{"report", "--from-scan", filepath.Join(dir, "nope.json")}, "nope.json: no such file", 1},
		{"scan file not JSON", []string{"report", "--from-scan", notJSON}, "output of gaol scan --json", 1},
		{"scan file other JSON", []string{"report", "--from-scan", otherJSON}, "has no bans list", 1},
		{"out not writable", []string{"report", "--db", db, "--out", filepath.Join(dir, "no", "such", "dir.txt")}, "--out:", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := runOut(t, tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if c := exitCode(err); c != tt.code {
				t.Errorf("exit code %d, want %d", c, tt.code)
			}
		})
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("report created the missing database")
	}
}
