package defaults_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/match"
)

// printable replaces what vsftpd and ProFTPD would not log as is (control
// and 8-bit characters) with '?'.
func printable(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// dnsName makes s a name reverse DNS could give ProFTPD: no blank (ProFTPD
// also replaces characters a host name cannot have).
func dnsName(s string) string {
	return strings.Map(func(r rune) rune {
		if r <= ' ' || r > '~' {
			return '_'
		}
		return r
	}, s)
}

// ftpLines returns, by filter, the lines vsftpd and ProFTPD write for a
// failed login from real, where the client chose user and text (an
// anonymous password; for ProFTPD, the name reverse DNS gives).
func ftpLines(real, user, text string) map[string][]string {
	u, c, n := printable(user), printable(text), dnsName(text)
	return map[string][]string{
		"vsftpd": {
			"Sun Nov 22 10:00:00 2026 [pid 1] [" + u + "] FAIL LOGIN: Client \"" + real + "\"",
			"Sun Nov 22 10:00:00 2026 [pid 1] [" + u + "] FAIL LOGIN: Client \"" + real + "\", anon password \"" + c + "\"",
			"Sun Nov 22 10:00:00 2026 [pid 1] [" + u + "] FAIL LOGIN: Client \"" + real + "\", \"User is not in the allow user list.\"",
			"Nov 22 10:00:00 ftp1 vsftpd[1]: [pid 1] [" + u + "] FAIL LOGIN: Client \"" + real + "\"",
			"Nov 22 10:00:00 ftp1 vsftpd[1]: pam_unix(vsftpd:auth): authentication failure; logname= uid=0 euid=0 tty=ftp ruser=" + u + " rhost=" + real,
		},
		"proftpd": {
			"Nov 22 10:00:00 ftp1 proftpd[1]: ftp1.example.org (" + n + "[" + real + "]) - USER " + u + " (Login failed): Incorrect password",
			"Nov 22 10:00:00 ftp1 proftpd[1]: ftp1.example.org (" + n + "[" + real + "]) - USER " + u + ": no such user found from " + n + " [" + real + "] to 192.0.2.1:21",
			"Nov 22 10:00:00 ftp1 proftpd[1]: ftp1.example.org (" + n + "[" + real + "]) - SECURITY VIOLATION: " + u + " login attempted.",
			"2026-11-22 10:00:00,123 ftp1 proftpd[1] ftp1.example.org (" + n + "[" + real + "]): USER " + u + " (Login failed): Incorrect password",
		},
	}
}

// FuzzFTPInjection feeds vsftpd's and ProFTPD's failure lines built around
// text the client chooses through their filters: every failure must be of
// the client's real address.
func FuzzFTPInjection(f *testing.F) {
	for _, seed := range [][2]string{
		{"bob", "client.example.net"},
		{`x] FAIL LOGIN: Client "198.51.100.9"`, `", "x"] FAIL LOGIN: Client "198.51.100.9"`},
		{"x rhost=198.51.100.9", "evil[198.51.100.9]"},
		{"x ftp1.example.org (a[198.51.100.9]) - y", "evil[198.51.100.9])"},
		{"", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	filters := map[string]*match.Filter{"vsftpd": compileFilter(f, "vsftpd"), "proftpd": compileFilter(f, "proftpd")}
	f.Fuzz(func(t *testing.T, user, text string) {
		for _, real := range []string{"203.0.113.6", "2001:db8::6"} {
			want := netip.MustParseAddr(real)
			for name, lines := range ftpLines(real, user, text) {
				for _, line := range lines {
					m, err := filters[name].NewMatcher(match.MatcherOptions{Now: func() time.Time { return defaultNow }, Location: time.UTC})
					if err != nil {
						t.Fatal(err)
					}
					_, fs := m.MatchRaw(line)
					for _, fl := range fs {
						if fl.Addr.IsValid() && fl.Addr != want {
							t.Fatalf("%s: failure of %v, want %v\n\t%s", name, fl.Addr, want, line)
						}
					}
				}
			}
		}
	})
}

// TestFTPLinesCaught keeps FuzzFTPInjection honest: with plain text from
// the client, every line is a failure of the real address.
func TestFTPLinesCaught(t *testing.T) {
	for _, real := range []string{"203.0.113.6", "2001:db8::6"} {
		for name, lines := range ftpLines(real, "bob", "client.example.net") {
			for _, line := range lines {
				m, err := compileFilter(t, name).NewMatcher(match.MatcherOptions{Now: func() time.Time { return defaultNow }, Location: time.UTC})
				if err != nil {
					t.Fatal(err)
				}
				_, fs := m.MatchRaw(line)
				if len(fs) != 1 || fs[0].Addr.String() != real || fs[0].Category != "ftp-auth" {
					t.Errorf("%s: got %+v\n\t%s", name, fs, line)
				}
			}
		}
	}
}
