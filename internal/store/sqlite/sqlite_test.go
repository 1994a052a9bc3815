package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/store"
	"github.com/gaol-project/gaol/internal/store/sqlite"
)

var t0 = time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

func openTemp(t testing.TB) (*sqlite.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "gaol.db")
	return open(t, path), path
}

func open(t testing.TB, path string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func pfx(s string) netip.Prefix {
	if !strings.Contains(s, "/") {
		a := netip.MustParseAddr(s)
		return netip.PrefixFrom(a, a.BitLen())
	}
	return netip.MustParsePrefix(s)
}

// describe renders a ban for comparisons: jail, prefix, times relative to
// t0, and the other fields that are set.
func describe(b store.Ban) string {
	rel := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Sub(t0).String()
	}
	s := fmt.Sprintf("%s %s %s..%s", b.Jail, b.Prefix, rel(b.Start), rel(b.End))
	if b.Failures != 0 {
		s += fmt.Sprintf(" failures=%d", b.Failures)
	}
	if b.Matches != nil {
		s += fmt.Sprintf(" matches=%q", b.Matches)
	}
	if b.Manual {
		s += " manual"
	}
	if !b.EndedAt.IsZero() || b.EndReason != "" {
		s += fmt.Sprintf(" ended %s %s", rel(b.EndedAt), b.EndReason)
	}
	return s
}

func describeAll(bans []store.Ban) []string {
	var out []string
	for _, b := range bans {
		out = append(out, describe(b))
	}
	return out
}

func ban(jail, prefix string, start, end time.Duration) store.Ban {
	b := store.Ban{Jail: jail, Prefix: pfx(prefix), Start: at(start)}
	if end != 0 {
		b.End = at(end)
	}
	return b
}

func mustAdd(t *testing.T, s *sqlite.Store, bans ...store.Ban) []int64 {
	t.Helper()
	ids, err := s.AddBans(context.Background(), bans)
	if err != nil {
		t.Fatalf("AddBans: %v", err)
	}
	return ids
}

func TestOpenCreates(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "var", "lib", "gaol")
	path := filepath.Join(dir, "gaol.db")
	s := open(t, path)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	fi, err = os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	ids := mustAdd(t, s, ban("sshd", "192.0.2.1", 0, time.Hour))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + "-wal"); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}

	// Reopen: the ban is there, and the database is in WAL mode.
	s = open(t, path)
	got, err := s.ActiveBans(context.Background(), t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != ids[0] {
		t.Fatalf("after reopening: %v, want ban %d", describeAll(got), ids[0])
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	var version int
	if err := db.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("PRAGMA user_version").Scan(&version); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || version != 3 {
		t.Errorf("journal_mode %q, user_version %d; want wal, 3", mode, version)
	}
}

func TestOpenEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gaol.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := open(t, path)
	mustAdd(t, s, ban("sshd", "192.0.2.1", 0, 0))
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, path string)
		want    string
	}{
		{"text file", func(t *testing.T, path string) {
			if err := os.WriteFile(path, []byte("not a database at all\n"), 0o600); err != nil {
				t.Fatal(err)
			}
		}, "is not a gaol database: not an SQLite file"},
		{"another application's database", func(t *testing.T, path string) {
			execSQL(t, path, "CREATE TABLE things (x)")
		}, "is not a gaol database (it is an SQLite database of another application)"},
		{"newer schema", func(t *testing.T, path string) {
			execSQL(t, path, "PRAGMA application_id = 1734438764", "PRAGMA user_version = 99", "CREATE TABLE later (x)")
		}, "has schema version 99, newer than this gaol knows (3): upgrade gaol"},
		{"directory", func(t *testing.T, path string) {
			if err := os.Mkdir(path, 0o700); err != nil {
				t.Fatal(err)
			}
		}, "is a directory"},
		{"parent is a file", func(t *testing.T, path string) {
			if err := os.WriteFile(filepath.Dir(path), nil, 0o600); err != nil {
				t.Fatal(err)
			}
		}, "not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sub", "gaol.db")
			if err := os.MkdirAll(filepath.Dir(filepath.Dir(path)), 0o700); err != nil {
				t.Fatal(err)
			}
			if tt.name != "parent is a file" {
				if err := os.Mkdir(filepath.Dir(path), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			tt.prepare(t, path)
			before, _ := os.ReadFile(path)
			s, err := sqlite.Open(context.Background(), path)
			if err == nil {
				s.Close()
				t.Fatal("Open succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("error %q, want it to name %s and say %q", err, path, tt.want)
			}
			// Someone else's file is left as it was.
			if after, _ := os.ReadFile(path); string(after) != string(before) {
				t.Error("Open changed the file it refused")
			}
			if _, err := os.Stat(path + "-wal"); err == nil {
				t.Error("Open left a WAL file beside the file it refused")
			}
		})
	}
}

func execSQL(t *testing.T, path string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestAddBans(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	first := store.Ban{
		Jail: "sshd", Prefix: pfx("::ffff:192.0.2.1"), Start: at(0), End: at(time.Hour),
		Failures: 5, Matches: []string{"line one", "line \"two\""},
	}
	ids := mustAdd(t, s,
		first,
		ban("sshd", "198.51.100.77/24", 0, 0),
		store.Ban{Jail: "recidive", Prefix: pfx("2001:db8::1/64"), Start: at(time.Minute), Manual: true},
	)
	if len(ids) != 3 || !(ids[0] < ids[1] && ids[1] < ids[2]) {
		t.Fatalf("ids %v, want three increasing", ids)
	}
	got, err := s.ActiveBans(ctx, t0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`sshd 192.0.2.1/32 0s..1h0m0s failures=5 matches=["line one" "line \"two\""]`,
		`sshd 198.51.100.0/24 0s..-`,
		`recidive 2001:db8::/64 1m0s..- manual`,
	}
	if d := describeAll(got); !slices.Equal(d, want) {
		t.Errorf("active bans\n%q\nwant\n%q", d, want)
	}
	for i, b := range got {
		if b.ID != ids[i] {
			t.Errorf("ban %d has ID %d, want %d", i, b.ID, ids[i])
		}
	}

	// A new ban of the same jail and prefix ends the active one.
	mustAdd(t, s,
		ban("sshd", "192.0.2.1", 30*time.Minute, 2*time.Hour), // replaces, before its end
		ban("sshd", "198.51.100.0/24", time.Hour, 0),          // replaces a permanent ban
		ban("recidive", "192.0.2.1", 0, 0),                    // another jail: no effect
		ban("recidive", "2001:db8::/64", 2*time.Minute, 0),    // replaced below, in the same call
		ban("recidive", "2001:db8::/64", 3*time.Minute, 0),    // and again
	)
	h, err := s.History(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		`sshd 192.0.2.1/32 30m0s..2h0m0s`,
		// Same start: the later ban first.
		`recidive 192.0.2.1/32 0s..-`,
		`sshd 192.0.2.1/32 0s..1h0m0s failures=5 matches=["line one" "line \"two\""] ended 30m0s replaced`,
	}
	if d := describeAll(h); !slices.Equal(d, want) {
		t.Errorf("history of 192.0.2.1\n%q\nwant\n%q", d, want)
	}
	h, err = s.History(ctx, netip.MustParseAddr("2001:db8::abcd"))
	if err != nil {
		t.Fatal(err)
	}
	want = []string{
		`recidive 2001:db8::/64 3m0s..-`,
		`recidive 2001:db8::/64 2m0s..- ended 3m0s replaced`,
		`recidive 2001:db8::/64 1m0s..- manual ended 2m0s replaced`,
	}
	if d := describeAll(h); !slices.Equal(d, want) {
		t.Errorf("history of 2001:db8::abcd\n%q\nwant\n%q", d, want)
	}

	// A ban whose time was up when it was replaced is recorded as expired.
	mustAdd(t, s, ban("sshd", "192.0.2.1", 3*time.Hour, 4*time.Hour))
	h, err = s.History(ctx, netip.MustParseAddr("192.0.2.1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describe(h[1]), `sshd 192.0.2.1/32 30m0s..2h0m0s ended 2h0m0s expired`; got != want {
		t.Errorf("replaced after its end: %q, want %q", got, want)
	}
}

func TestAddBansErrors(t *testing.T) {
	tests := []struct {
		name string
		ban  store.Ban
		want string
	}{
		{"no prefix", store.Ban{Jail: "sshd", Start: t0}, "invalid prefix"},
		{"no jail", ban("", "192.0.2.1", 0, 0), "no jail"},
		{"no start", store.Ban{Jail: "sshd", Prefix: pfx("192.0.2.1")}, "no start time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, _ := openTemp(t)
			_, err := s.AddBans(context.Background(), []store.Ban{ban("sshd", "192.0.2.2", 0, 0), tt.ban})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("AddBans: %v, want an error with %q", err, tt.want)
			}
			// Nothing of the call was written.
			if got, _ := s.ActiveBans(context.Background(), t0); len(got) != 0 {
				t.Errorf("active bans after a failed call: %v", describeAll(got))
			}
		})
	}
}

func TestEndBans(t *testing.T) {
	tests := []struct {
		name string
		ends []store.End
		n    int
		want []string // active bans afterwards, then History of 192.0.2.1
	}{
		{"one jail", []store.End{{Jail: "sshd", Prefix: pfx("192.0.2.1"), At: at(time.Minute), Reason: "unbanned"}}, 1, []string{
			"recidive 192.0.2.1/32 0s..-",
			"sshd 192.0.2.0/24 0s..2h0m0s",
			"sshd 192.0.2.1/32 0s..1h0m0s ended 1m0s unbanned",
		}},
		{"every jail, default reason", []store.End{{Prefix: pfx("::ffff:192.0.2.1"), At: at(time.Minute)}}, 2, []string{
			"sshd 192.0.2.0/24 0s..2h0m0s",
			"recidive 192.0.2.1/32 0s..- ended 1m0s unbanned",
			"sshd 192.0.2.1/32 0s..1h0m0s ended 1m0s unbanned",
		}},
		{"exact prefix only", []store.End{{Prefix: pfx("192.0.2.0/24"), At: at(time.Minute), Reason: "jail removed"}}, 1, []string{
			"recidive 192.0.2.1/32 0s..-",
			"sshd 192.0.2.1/32 0s..1h0m0s",
			"sshd 192.0.2.0/24 0s..2h0m0s ended 1m0s jail removed",
		}},
		{"after its end: expired", []store.End{{Jail: "sshd", Prefix: pfx("192.0.2.1"), At: at(90 * time.Minute), Reason: "unbanned"}}, 1, []string{
			"recidive 192.0.2.1/32 0s..-",
			"sshd 192.0.2.0/24 0s..2h0m0s",
			"sshd 192.0.2.1/32 0s..1h0m0s ended 1h0m0s expired",
		}},
		{"nothing to end", []store.End{{Jail: "sshd", Prefix: pfx("198.51.100.1"), At: at(time.Minute)}}, 0, []string{
			"recidive 192.0.2.1/32 0s..-",
			"sshd 192.0.2.0/24 0s..2h0m0s",
			"sshd 192.0.2.1/32 0s..1h0m0s",
		}},
		{"twice", []store.End{
			{Jail: "sshd", Prefix: pfx("192.0.2.1"), At: at(time.Minute), Reason: "unbanned"},
			{Jail: "sshd", Prefix: pfx("192.0.2.1"), At: at(2 * time.Minute), Reason: "unbanned"},
		}, 1, []string{
			"recidive 192.0.2.1/32 0s..-",
			"sshd 192.0.2.0/24 0s..2h0m0s",
			"sshd 192.0.2.1/32 0s..1h0m0s ended 1m0s unbanned",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			s, _ := openTemp(t)
			mustAdd(t, s,
				ban("sshd", "192.0.2.1", 0, time.Hour),
				ban("recidive", "192.0.2.1", 0, 0),
				ban("sshd", "192.0.2.0/24", 0, 2*time.Hour),
			)
			n, err := s.EndBans(ctx, tt.ends)
			if err != nil {
				t.Fatal(err)
			}
			if n != tt.n {
				t.Errorf("EndBans ended %d, want %d", n, tt.n)
			}
			active, err := s.ActiveBans(ctx, t0)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, b := range active {
				got = append(got, describe(b))
			}
			slices.Sort(got)
			hist, err := s.History(ctx, netip.MustParseAddr("192.0.2.1"))
			if err != nil {
				t.Fatal(err)
			}
			for _, b := range hist {
				if !b.EndedAt.IsZero() {
					got = append(got, describe(b))
				}
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("got\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
	s, _ := openTemp(t)
	if _, err := s.EndBans(context.Background(), []store.End{{Prefix: pfx("192.0.2.1")}}); err == nil {
		t.Error("EndBans without a time succeeded")
	}
	if _, err := s.EndBans(context.Background(), []store.End{{At: t0}}); err == nil {
		t.Error("EndBans without a prefix succeeded")
	}
}

func TestExpireAndActive(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	mustAdd(t, s,
		ban("sshd", "192.0.2.1", 0, time.Hour),
		ban("sshd", "192.0.2.2", 0, 2*time.Hour),
		ban("sshd", "192.0.2.3", 0, 0),
		ban("sshd", "2001:db8::1", 0, time.Hour),
	)
	tests := []struct {
		now     time.Duration
		active  []string
		expired int
	}{
		{0, []string{"192.0.2.1/32", "192.0.2.2/32", "192.0.2.3/32", "2001:db8::1/128"}, 0},
		// At its end a ban is over: ActiveBans leaves it out even before
		// ExpireBans marks it.
		{time.Hour, []string{"192.0.2.2/32", "192.0.2.3/32"}, 2},
		{time.Hour, []string{"192.0.2.2/32", "192.0.2.3/32"}, 0},
		{3 * time.Hour, []string{"192.0.2.3/32"}, 1},
	}
	for i, tt := range tests {
		active, err := s.ActiveBans(ctx, at(tt.now))
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, b := range active {
			got = append(got, b.Prefix.String())
		}
		if !slices.Equal(got, tt.active) {
			t.Errorf("step %d: active at %v: %q, want %q", i, tt.now, got, tt.active)
		}
		n, err := s.ExpireBans(ctx, at(tt.now))
		if err != nil {
			t.Fatal(err)
		}
		if n != tt.expired {
			t.Errorf("step %d: ExpireBans at %v expired %d, want %d", i, tt.now, n, tt.expired)
		}
	}
	h, err := s.History(ctx, netip.MustParseAddr("192.0.2.2"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := describeAll(h), []string{"sshd 192.0.2.2/32 0s..2h0m0s ended 2h0m0s expired"}; !slices.Equal(got, want) {
		t.Errorf("history %q, want %q", got, want)
	}
}

func TestHistory(t *testing.T) {
	ctx := context.Background()
	s, _ := openTemp(t)
	mustAdd(t, s,
		ban("a", "192.0.2.0/24", 0, 0),
		ban("b", "192.0.2.7", time.Minute, 0),
		ban("c", "192.0.2.0/30", 2*time.Minute, 0), // does not contain .7
		ban("d", "0.0.0.0/0", 3*time.Minute, 0),
		ban("e", "::/0", 4*time.Minute, 0), // IPv6 only
		ban("f", "2001:db8::/32", 5*time.Minute, 0),
		ban("g", "2001:db8::7", 6*time.Minute, 0),
		ban("h", "198.51.100.7", 7*time.Minute, 0),
		ban("i", "255.255.255.255", 8*time.Minute, 0),
		ban("j", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 9*time.Minute, 0),
	)
	tests := []struct {
		addr  string
		jails string
	}{
		{"192.0.2.7", "dba"},
		{"::ffff:192.0.2.7", "dba"},
		{"192.0.2.1", "dca"},
		{"198.51.100.7", "hd"},
		{"203.0.113.1", "d"},
		{"255.255.255.255", "id"},
		{"2001:db8::7", "gfe"},
		{"2001:db8::8", "fe"},
		{"fe80::7%eth0", "e"},
		{"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "je"},
	}
	for _, tt := range tests {
		h, err := s.History(ctx, netip.MustParseAddr(tt.addr))
		if err != nil {
			t.Fatal(err)
		}
		var got string
		for _, b := range h {
			got += b.Jail
		}
		if got != tt.jails {
			t.Errorf("History(%s) = jails %q, want %q (newest first)", tt.addr, got, tt.jails)
		}
	}
	if _, err := s.History(ctx, netip.Addr{}); err == nil {
		t.Error("History of the zero address succeeded")
	}
}

func TestOffsets(t *testing.T) {
	ctx := context.Background()
	s, path := openTemp(t)
	if _, ok, err := s.Offset(ctx, "/var/log/auth.log"); err != nil || ok {
		t.Fatalf("Offset of an unknown file: ok=%v err=%v", ok, err)
	}
	offs := []store.Offset{
		{Path: "/var/log/auth.log", Inode: 12, Offset: 3456, Head: 1<<64 - 1},
		{Path: "/var/log/nginx/error.log", Inode: 1 << 63, Offset: 0, Head: 0},
	}
	if err := s.SaveOffsets(ctx, offs); err != nil {
		t.Fatal(err)
	}
	offs[0].Offset, offs[0].Inode = 7890, 13
	if err := s.SaveOffsets(ctx, offs[:1]); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path)
	for _, want := range offs {
		got, ok, err := s.Offset(ctx, want.Path)
		if err != nil || !ok || got != want {
			t.Errorf("Offset(%s) = %+v, %v, %v; want %+v", want.Path, got, ok, err, want)
		}
	}
}

func TestBanCountsAndPurge(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	p1, p2 := netip.MustParsePrefix("192.0.2.1/32"), netip.MustParsePrefix("2001:db8::/64")
	at := func(h int) time.Time { return t0.Add(time.Duration(h) * time.Hour) }
	for _, b := range []store.Ban{
		{Jail: "sshd", Prefix: p1, Start: at(0), End: at(1), Count: 1, Category: "ssh-bruteforce"},
		{Jail: "sshd", Prefix: p1, Start: at(2), End: at(3), Count: 2},
		{Jail: "web", Prefix: p1, Start: at(2), End: at(3)},
		{Jail: "sshd", Prefix: p2, Start: at(4)},
	} {
		if _, err := s.AddBans(ctx, []store.Ban{b}); err != nil {
			t.Fatal(err)
		}
	}
	counts, err := s.BanCounts(ctx, at(0))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.BanCount{}
	for _, c := range counts {
		got[c.Jail+" "+c.Prefix.String()] = c
	}
	if c := got["sshd 192.0.2.1/32"]; c.Count != 2 || !c.Last.Equal(at(2)) {
		t.Errorf("sshd 192.0.2.1: %+v", c)
	}
	if len(got) != 3 || got["web 192.0.2.1/32"].Count != 1 || got["sshd 2001:db8::/64"].Count != 1 {
		t.Errorf("counts %+v", counts)
	}
	if counts, _ := s.BanCounts(ctx, at(1)); len(counts) != 3 {
		t.Errorf("counts since hour 1: %+v", counts)
	}
	if _, err := s.ExpireBans(ctx, at(5)); err != nil {
		t.Fatal(err)
	}
	n, err := s.PurgeHistory(ctx, at(2))
	if err != nil || n != 1 {
		t.Fatalf("purged %d, %v", n, err)
	}
	h, _ := s.History(ctx, p1.Addr())
	if len(h) != 2 || h[1].Count != 2 {
		t.Fatalf("history after purge: %+v", h)
	}
	if h[0].Jail == "sshd" && h[0].Category != "" || h[1].Jail == "sshd" && h[1].Count != 2 {
		t.Fatalf("columns: %+v", h)
	}
	// Active bans are never purged.
	if n, _ := s.PurgeHistory(ctx, at(1000)); n != 2 {
		t.Fatalf("purged %d", n)
	}
	if active, _ := s.ActiveBans(ctx, at(5)); len(active) != 1 || active[0].Prefix != p2 {
		t.Fatalf("active after purge: %+v", active)
	}
}

func TestGeoAndBans(t *testing.T) {
	s, _ := openTemp(t)
	ctx := context.Background()
	g := store.Geo{Country: "NL", ASN: 64500, Org: "Example Hosting", City: "Amsterdam", Lat: 52.37, Lon: 4.89, HasCoords: true, RDNS: "scanner.example.net"}
	_, err := s.AddBans(ctx, []store.Ban{
		{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.1/32"), Start: t0, End: t0.Add(time.Hour), Geo: g},
		{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.2/32"), Start: t0.Add(time.Minute), Geo: store.Geo{Country: "DE"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	all, err := s.Bans(ctx, time.Time{})
	if err != nil || len(all) != 2 {
		t.Fatalf("bans %+v %v", all, err)
	}
	if all[0].Geo != g || all[1].Geo != (store.Geo{Country: "DE"}) {
		t.Fatalf("geo %+v / %+v", all[0].Geo, all[1].Geo)
	}
	if since, _ := s.Bans(ctx, t0.Add(time.Second)); len(since) != 1 || since[0].Prefix.String() != "192.0.2.2/32" {
		t.Fatalf("since: %+v", since)
	}
	active, _ := s.ActiveBans(ctx, t0)
	if len(active) != 2 || active[0].Geo != g {
		t.Fatalf("active geo %+v", active)
	}
	if err := s.SaveOffsets(ctx, []store.Offset{{Path: "journal:_SYSTEMD_UNIT=ssh.service", Cursor: "s=abc;i=1"}}); err != nil {
		t.Fatal(err)
	}
	if o, ok, err := s.Offset(ctx, "journal:_SYSTEMD_UNIT=ssh.service"); err != nil || !ok || o.Cursor != "s=abc;i=1" {
		t.Fatalf("cursor %+v %v %v", o, ok, err)
	}
}
