package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/geo"
	"github.com/gaol-project/gaol/internal/store"
)

// fakeRDNS answers reverse lookups from a table.
type fakeRDNS map[string]string

func (f fakeRDNS) LookupAddr(ctx context.Context, addr string) ([]string, error) {
	if name, ok := f[addr]; ok {
		return []string{name + "."}, nil
	}
	return nil, errors.New("no such host")
}

func withRDNS(t *testing.T, r geo.ReverseResolver) {
	t.Helper()
	old := reverseResolver
	reverseResolver = r
	t.Cleanup(func() { reverseResolver = old })
}

func TestInspectGolden(t *testing.T) {
	inUTC(t)
	withRDNS(t, fakeRDNS{"192.0.2.10": "attacker.example.net"})
	db := testDB(t)
	tests := []struct {
		golden string
		args   []string
	}{
		// Banned now in two jails and within a banned /24, history in
		// sshd, neighbours; the stored city completes the lookup.
		{"inspect-banned.txt", []string{"inspect", "192.0.2.10", "--db", db, "--rdns"}},
		{"inspect-banned.json", []string{"inspect", "192.0.2.10", "--db", db, "--rdns", "--json"}},
		// Banned before, not now; stored reverse name.
		{"inspect-past.txt", []string{"inspect", "203.0.113.5", "--db", db}},
		// An IPv6 address inside a banned /64.
		{"inspect-v6.txt", []string{"inspect", "2001:db8:1::abcd", "--db", db}},
		// Never seen; its neighbours were.
		{"inspect-unknown.txt", []string{"inspect", "198.51.100.200", "--db", db, "--rdns"}},
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

func TestInspectJSON(t *testing.T) {
	db := testDB(t)
	out, _, err := runOut(t, "inspect", "192.0.2.10", "--db", db, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var in inspection
	if err := json.Unmarshal([]byte(out), &in); err != nil {
		t.Fatal(err)
	}
	if !in.Banned || len(in.Active) != 3 || in.Geo.Country != "NL" || in.Geo.City != "Amsterdam" || in.Subnet != "192.0.2.0/24" {
		t.Errorf("inspection: %+v", in)
	}
	var jails []string
	for _, j := range in.Jails {
		jails = append(jails, j.Jail)
	}
	if strings.Join(jails, ",") != "recidive,sshd" || in.Jails[1].Bans != 3 || in.Jails[1].Failures != 11 || in.Jails[1].SubnetBans != 1 {
		t.Errorf("jails: %+v", in.Jails)
	}
	var neighbours []string
	for _, n := range in.Neighbours {
		neighbours = append(neighbours, n.Prefix)
	}
	if strings.Join(neighbours, ",") != "192.0.2.11,192.0.2.12" {
		t.Errorf("neighbours %v", neighbours)
	}
}

// TestInspectUnmarkedExpiry shows a ban past its end that no daemon marked
// ended (it was not running) as expired, not active.
func TestInspectUnmarkedExpiry(t *testing.T) {
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	b := store.Ban{Jail: "sshd", Prefix: mustPrefix(t, "192.0.2.1/32"), Start: now.Add(-2 * time.Hour), End: now.Add(-time.Hour)}
	in := inspect(b.Prefix.Addr(), []store.Ban{b}, []store.Ban{b}, geo.Info{}, now)
	if in.Banned || len(in.Active) != 0 || in.History[0].EndReason != "expired" || !in.History[0].EndedAt.Equal(b.End) {
		t.Errorf("inspection of an unmarked expired ban: %+v", in)
	}
	b.End = now.Add(time.Hour)
	if in := inspect(b.Prefix.Addr(), []store.Ban{b}, nil, geo.Info{}, now); !in.Banned {
		t.Errorf("a ban until later is not active: %+v", in)
	}
}

func TestInspectErrors(t *testing.T) {
	dir := t.TempDir()
	db := testDB(t)
	missing := filepath.Join(dir, "gaol.db")
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"database missing", []string{"inspect", "192.0.2.1", "--db", missing}, "no database at " + missing + ": has gaol run here? use --db", 1},
		{"no address", []string{"inspect", "--db", db}, "usage: gaol inspect ADDR", 2},
		{"two addresses", []string{"inspect", "192.0.2.1", "192.0.2.2", "--db", db}, "usage: gaol inspect ADDR", 2},
		{"not an address", []string{"inspect", "example.com", "--db", db}, `"example.com" is not an IP address`, 2},
		{"a prefix", []string{"inspect", "192.0.2.0/24", "--db", db}, `"192.0.2.0/24" is not an IP address`, 2},
		{"bad city database", []string{"inspect", "192.0.2.1", "--db", db, "--city-db", filepath.Join(dir, "none.mmdb")}, "--city-db", 1},
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
}

func mustPrefix(t *testing.T, s string) netip.Prefix {
	t.Helper()
	p, err := netip.ParsePrefix(s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}
