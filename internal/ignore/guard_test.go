package ignore

import (
	"bytes"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/ignore/utmp"
)

func TestSSHClient(t *testing.T) {
	tests := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"SSH_CLIENT": "203.0.113.5 52114 22"}, "203.0.113.5"},
		{map[string]string{"SSH_CLIENT": "2001:db8::5 52114 22"}, "2001:db8::5"},
		{map[string]string{"SSH_CLIENT": "::ffff:203.0.113.5 52114 22"}, "203.0.113.5"},
		{map[string]string{"SSH_CLIENT": "fe80::5%eth0 52114 22"}, "fe80::5"},
		{map[string]string{"SSH_CONNECTION": "198.51.100.2 40000 192.0.2.1 22"}, "198.51.100.2"},
		{map[string]string{"SSH_CLIENT": "garbage 1 2", "SSH_CONNECTION": "198.51.100.2 40000 192.0.2.1 22"}, "198.51.100.2"},
		{map[string]string{"SSH_CLIENT": "203.0.113.5"}, ""},
		{map[string]string{"SSH_CLIENT": "  "}, ""},
		{map[string]string{"SSH_CLIENT": "x'; rm -rf / 1 2"}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		got, ok := SSHClient(func(k string) string { return tt.env[k] })
		if tt.want == "" {
			if ok {
				t.Errorf("%v: got %v, want none", tt.env, got)
			}
			continue
		}
		if !ok || got != netip.MustParseAddr(tt.want) {
			t.Errorf("%v: got %v, %v; want %s", tt.env, got, ok, tt.want)
		}
	}
	t.Setenv("SSH_CLIENT", "192.0.2.77 1 22")
	if got, ok := SSHClient(nil); !ok || got.String() != "192.0.2.77" {
		t.Errorf("SSHClient(nil) = %v, %v", got, ok)
	}
}

func writeUtmp(t *testing.T, path string, mod time.Time, recs ...utmp.Record) {
	t.Helper()
	var data []byte
	for _, r := range recs {
		b, err := r.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, b...)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mod, mod); err != nil {
		t.Fatal(err)
	}
}

func session(user, line, addr string, at time.Time) utmp.Record {
	return utmp.Record{Type: utmp.UserProcess, User: user, Line: line, Host: addr, Time: at,
		Addr: utmp.AddrBytes(netip.MustParseAddr(addr))}
}

func TestGuard(t *testing.T) {
	path := filepath.Join(t.TempDir(), "utmp")
	now := time.Date(2026, 3, 4, 15, 0, 0, 0, time.UTC)
	writeUtmp(t, path, now,
		session("alice", "pts/0", "203.0.113.5", time.Date(2026, 3, 4, 10, 2, 0, 0, time.UTC)),
		session("bob", "pts/1", "2001:db8::5", time.Date(2026, 1, 15, 8, 30, 0, 0, time.UTC)),
		session("carol", "pts/2", "203.0.113.6", time.Date(2025, 12, 31, 23, 59, 0, 0, time.UTC)),
		session("dave", "pts/3", "203.0.113.7", time.Date(2026, 3, 4, 11, 0, 0, 0, time.UTC)),
		session("mallory\x1b[2J", "pts/4", "198.51.100.66", time.Date(2026, 3, 4, 11, 0, 0, 0, time.UTC)),
		utmp.Record{Type: utmp.UserProcess, User: "root", Line: "tty1", Time: now}, // local login
		utmp.Record{Type: utmp.DeadProcess, User: "eve", Line: "pts/9", Host: "192.0.2.9",
			Addr: utmp.AddrBytes(netip.MustParseAddr("192.0.2.9"))},
	)
	g := NewGuard(path)
	g.Now = func() time.Time { return now }
	g.Location = time.UTC
	client := g.WithClient(netip.MustParseAddr("192.0.2.50"))

	tests := []struct {
		g      *Guard
		prefix string
		want   string
	}{
		{g, "203.0.113.5/32", "203.0.113.5 is logged in over SSH as alice on pts/0 since 10:02 (use --force)"},
		{g, "::ffff:203.0.113.5/128", "203.0.113.5 is logged in over SSH as alice on pts/0 since 10:02 (use --force)"},
		{g, "2001:db8::/32", "2001:db8::/32 contains 2001:db8::5, which is logged in over SSH as bob on pts/1 since Jan 15 08:30 (use --force)"},
		{g, "203.0.113.6/32", "203.0.113.6 is logged in over SSH as carol on pts/2 since 2025-12-31 23:59 (use --force)"},
		{g, "203.0.113.0/24", "203.0.113.0/24 contains 203.0.113.6, which is logged in over SSH as carol on pts/2 since 2025-12-31 23:59, and 2 more sessions (use --force)"},
		{g, "198.51.100.66/32", "198.51.100.66 is logged in over SSH as mallory?[2J on pts/4 since 11:00 (use --force)"},
		{g, "203.0.113.8/32", ""},
		{g, "192.0.2.9/32", ""}, // a dead process
		{g, "192.0.2.50/32", ""},
		{client, "192.0.2.50/32", "this would ban your own SSH connection from 192.0.2.50 (use --force)"},
		{client, "192.0.2.0/24", "this would ban your own SSH connection from 192.0.2.50 (use --force)"},
		{client, "203.0.113.5/32", "203.0.113.5 is logged in over SSH as alice on pts/0 since 10:02 (use --force)"},
		{client, "198.51.100.0/24", "198.51.100.0/24 contains 198.51.100.66, which is logged in over SSH as mallory?[2J on pts/4 since 11:00 (use --force)"},
		{client, "2001:db8:1::/48", ""},
	}
	for _, tt := range tests {
		reason, refused := tt.g.Check(netip.MustParsePrefix(tt.prefix))
		if refused != (tt.want != "") || reason != tt.want {
			t.Errorf("Check(%s) = %q, %v; want %q", tt.prefix, reason, refused, tt.want)
		}
	}

	// utmp changes: alice logs out, dave stays. The copy with a client sees
	// it too.
	writeUtmp(t, path, now.Add(time.Minute),
		session("dave", "pts/3", "203.0.113.7", time.Date(2026, 3, 4, 11, 0, 0, 0, time.UTC)))
	if reason, refused := client.Check(netip.MustParsePrefix("203.0.113.5/32")); refused {
		t.Errorf("after logout: %q", reason)
	}
	if _, refused := g.Check(netip.MustParsePrefix("203.0.113.7/32")); !refused {
		t.Error("dave not protected after the change")
	}

	// No utmp file: no sessions, no error.
	os.Remove(path)
	if reason, refused := g.Check(netip.MustParsePrefix("203.0.113.7/32")); refused {
		t.Errorf("without utmp: %q", reason)
	}
	if s, err := g.Sessions(); len(s) != 0 || err != nil {
		t.Errorf("Sessions without utmp = %v, %v", s, err)
	}
}

func TestGuardReadError(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "utmp")
	writeUtmp(t, path, time.Now(), session("alice", "pts/0", "203.0.113.5", time.Now()))
	var logs bytes.Buffer
	g := NewGuard(path)
	g.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	if _, refused := g.Check(netip.MustParsePrefix("203.0.113.5/32")); !refused {
		t.Fatal("not refused")
	}
	// utmp becomes unreadable (a directory): the sessions last read stay.
	os.Remove(path)
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, refused := g.Check(netip.MustParsePrefix("203.0.113.5/32")); !refused {
			t.Error("previous sessions lost on a read error")
		}
	}
	if n := strings.Count(logs.String(), "cannot read utmp"); n != 1 {
		t.Errorf("%d warnings, want 1: %s", n, logs.String())
	}
}

func TestGuardInvalidPrefix(t *testing.T) {
	g := NewGuard(filepath.Join(t.TempDir(), "utmp")).WithClient(netip.MustParseAddr("192.0.2.1"))
	if _, refused := g.Check(netip.Prefix{}); refused {
		t.Error("invalid prefix refused")
	}
	if NewGuard("").st.path != utmp.DefaultPath {
		t.Error("default path")
	}
}
