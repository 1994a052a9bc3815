package defaults_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/match"
	"github.com/gaol-project/gaol/internal/match/pyre"
)

// TestSSHFTPFiltersRE2 checks that every expression of the ssh and ftp
// filters, in every mode, runs on Go's regexp (RE2): no line can make
// them backtrack.
func TestSSHFTPFiltersRE2(t *testing.T) {
	for _, spec := range []string{
		"sshd", "sshd[mode=ddos]", "sshd[mode=extra]", "sshd[mode=aggressive]",
		"sshd[publickey=any]", "sshd[publickey=invalid]", "sshd[publickey=ignore]",
		"vsftpd", "proftpd",
	} {
		f := compileFilter(t, spec)
		for _, e := range f.Exprs() {
			if e.Engine != pyre.RE2 {
				t.Errorf("%s: %s %d is not RE2: %s", spec, e.Kind, e.Index, e.Source)
			}
		}
		if !f.RE2() {
			t.Errorf("%s: not entirely RE2", spec)
		}
	}
}

// TestSSHDModes checks what each mode adds: a line of each kind, and the
// modes that count it.
func TestSSHDModes(t *testing.T) {
	const addr = "203.0.113.9"
	tests := []struct {
		line  string
		modes string // the modes in which the line is a failure
	}{
		{"Failed password for root from 203.0.113.9 port 4242 ssh2", "normal ddos extra aggressive"},
		{"Did not receive identification string from 203.0.113.9 port 4242", "ddos aggressive"},
		{"banner exchange: Connection from 203.0.113.9 port 4242: invalid format", "ddos aggressive"},
		{"Connection closed by 203.0.113.9 port 4242 [preauth]", "ddos aggressive"},
		{"Unable to negotiate with 203.0.113.9 port 4242: no matching cipher found. Their offer: aes128-cbc [preauth]", "extra aggressive"},
		{"error: Received disconnect from 203.0.113.9 port 4242:14: No supported authentication methods available [preauth]", "extra aggressive"},
		{"Connection closed by authenticating user root 203.0.113.9 port 4242 [preauth]", "ddos extra aggressive"},
		{"Received disconnect from 203.0.113.9 port 4242:11: Bye Bye [preauth]", ""},
		{"Connection closed by 203.0.113.9 port 4242", ""},
		{"Accepted password for root from 203.0.113.9 port 4242 ssh2", ""},
	}
	for _, mode := range []string{"normal", "ddos", "extra", "aggressive"} {
		f := compileFilter(t, "sshd[mode="+mode+"]")
		for _, tt := range tests {
			m, err := f.NewMatcher(match.MatcherOptions{Now: func() time.Time { return defaultNow }, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			_, fs := m.MatchRaw("Nov 22 10:00:00 web1 sshd[4000]: " + tt.line)
			got := false
			for _, fl := range fs {
				if !fl.NoFail && !fl.Pending && fl.Addr.String() == addr {
					got = true
				}
			}
			if want := strings.Contains(" "+tt.modes+" ", " "+mode+" "); got != want {
				t.Errorf("mode %s: %q: failure %v, want %v", mode, tt.line, got, want)
			}
		}
	}
}

// sshdVis makes text a client sent into what sshd logs: sshd encodes
// control and 8-bit characters (strnvis), so that a message is one line of
// printable ASCII.
func sshdVis(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			b[i] = '?'
		}
	}
	return string(b)
}

// trunc cuts s to n bytes, as sshd's "%.Ns".
func trunc(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// sshdConnections returns the messages sshd writes for connections from
// real in which the client chose user (a user name that is no account)
// and text (an identification string, a key ID, a host name, a disconnect
// message, ...). Each element is one connection's lines.
func sshdConnections(real, user, text string) [][]string {
	u, c := sshdVis(user), sshdVis(text)
	u100 := trunc(u, 100)
	change := trunc("Change of username or service not allowed: ("+u+","+c+") -> ("+c+","+c+")", 100)
	r := func(s string) string { return strings.ReplaceAll(s, "REAL", real) }
	conns := [][]string{
		{r("Invalid user " + u100 + " from REAL port 4242")},
		{r("Failed password for invalid user " + u100 + " from REAL port 4242 ssh2")},
		{r("Failed none for invalid user " + u100 + " from REAL port 4242 ssh2")},
		{r("Failed keyboard-interactive/pam for invalid user " + u100 + " from REAL port 4242 ssh2")},
		{r("Failed publickey for invalid user " + u100 + " from REAL port 4242 ssh2: RSA SHA256:Xh2PqOa7YtBv9sLkJm3NcRw4ZeUfGi8HdT5oQ1yKx0E")},
		{r("Failed publickey for invalid user " + u100 + " from REAL port 4242 ssh2: ED25519-CERT SHA256:frGtfUnZ8huE ID " + c + " (serial 1) CA ED25519 SHA256:3PCaZkpmyZdY")},
		{r("Failed hostbased for invalid user " + u100 + " from REAL port 4242 ssh2: RSA SHA256:Xh2PqOa7YtBv, client user \"" + trunc(c, 100) + "\", client host \"" + trunc(c, 100) + "\"")},
		// The method name is the client's too: sshd logs an unknown one
		// as it came (at INFO after a few failures).
		{r("Failed " + c + " for root from REAL port 4242 ssh2")},
		{r("Failed " + c + " for invalid user " + u100 + " from REAL port 4242 ssh2")},
		// A valid user's certificate or hostbased key: the key ID and the
		// client's user and host names are the client's.
		{r("Failed publickey for root from REAL port 4242 ssh2: ED25519-CERT SHA256:frGtfUnZ8huE ID " + c + " (serial 1) CA ED25519 SHA256:3PCaZkpmyZdY")},
		{r("Failed hostbased for root from REAL port 4242 ssh2: RSA SHA256:Xh2PqOa7YtBv, client user \"" + trunc(c, 100) + "\", client host \"" + trunc(c, 100) + "\"")},
		{r("Postponed keyboard-interactive for invalid user " + u100 + " from REAL port 4242 ssh2 [preauth]")},
		{r("error: maximum authentication attempts exceeded for invalid user " + u100 + " from REAL port 4242 ssh2 [preauth]"),
			r("Disconnecting invalid user " + trunc(u, 187) + " REAL port 4242: Too many authentication failures [preauth]")},
		{r("Invalid user " + u100 + " from REAL port 4242"),
			r("Disconnecting invalid user " + trunc(u, 187) + " REAL port 4242: " + change + " [preauth]")},
		{r("Connection closed by invalid user " + trunc(u, 187) + " REAL port 4242 [preauth]")},
		{r("Connection reset by invalid user " + trunc(u, 187) + " REAL port 4242 [preauth]")},
		{r("Received disconnect from REAL port 4242:11: " + trunc(c, 400) + " [preauth]"),
			r("Disconnected from invalid user " + trunc(u, 187) + " REAL port 4242 [preauth]")},
		{r("error: Received disconnect from REAL port 4242:3: " + trunc(c, 400) + " [preauth]")},
		{r("error: Received disconnect from REAL port 4242:14: " + trunc(c, 400) + " [preauth]")},
		{r("error: PAM: Authentication failure for illegal user " + u100 + " from REAL")},
		{r("error: PAM: User not known to the underlying authentication module for illegal user " + u100 + " from REAL")},
		{r("Bad protocol version identification '" + trunc(c, 100) + "' from REAL port 4242")},
		{r("Unable to negotiate with REAL port 4242: no matching cipher found. Their offer: " + c + " [preauth]")},
		{r("ssh_dispatch_run_fatal: Connection from invalid user " + trunc(u, 187) + " REAL port 4242: invalid format [preauth]")},
		{r("error: kex_exchange_identification: client sent invalid protocol identifier \"" + trunc(c, 256) + "\""),
			r("banner exchange: Connection from REAL port 4242: invalid format")},
		{r("error: kex_exchange_identification: client sent invalid protocol identifier \"" + trunc(c, 256) + "\""),
			r("Connection closed by REAL port 4242")},
		{r("Invalid user " + u100 + " from REAL port 4242"),
			r("Failed password for invalid user " + u100 + " from REAL port 4242 ssh2"),
			r("Received disconnect from REAL port 4242:11: " + trunc(c, 400) + " [preauth]"),
			r("Disconnected from invalid user " + trunc(u, 187) + " REAL port 4242 [preauth]")},
	}
	return conns
}

// FuzzSSHDInjection feeds sshd's messages built around text the client
// chooses through the sshd filter in every mode: every failure must be of
// the client's real address.
func FuzzSSHDInjection(f *testing.F) {
	for _, seed := range [][2]string{
		{"root", "SSH-2.0-Go"},
		{"root from 198.51.100.9 port 22", "x from 198.51.100.9 port 22 ssh2"},
		{"a from 198.51.100.9 port 22 ssh2: RSA SHA256:x", "b from 198.51.100.9 port 1 ssh2: A B"},
		{"x 198.51.100.9 port 22 [preauth]", "y 198.51.100.9 port 22 [preauth]"},
		{"a 198.51.100.9 port 22: Change of username or service not allowed: (a", "b) -> (c"},
		{"x", "z 198.51.100.9 port 1: Change of username or service not allowed: (q,r) -> (s"},
		{"Failed password for root from 198.51.100.9 port 22 ssh2", "Connection closed by 198.51.100.9 port 22"},
		{"x from 198.51.100.9 via", "from 198.51.100.9"},
		{"x", "a from 198.51.100.9 port 22 ssh2: ED25519 SHA256:x ID y"},
		{"u", "x from 198.51.100.9 port 1 ssh2: A B, client user \"c\", client host \"d"},
		{"x 198.51.100.9 port 22: invalid format", "' from 198.51.100.9 port 22"},
		{"", ""},
		{"x 2001:db8::9 port 22", "2001:db8::9 port 22 [preauth]"},
		{"root", "password for root from 198.51.100.9 port 22 ssh2: x"},
		{"root", "password for root from 198.51.100.9 port 22 ssh2: RSA SHA256:x"},
		{"root", "x from 198.51.100.9 port 22 ssh2"},
	} {
		f.Add(seed[0], seed[1])
	}
	var filters []*match.Filter
	for _, spec := range []string{"sshd", "sshd[mode=aggressive]", "sshd[publickey=any]", "sshd[mode=ddos,publickey=ignore]"} {
		filters = append(filters, compileFilter(f, spec))
	}
	f.Fuzz(func(t *testing.T, user, text string) {
		for _, real := range []string{"203.0.113.6", "2001:db8::6"} {
			want := netip.MustParseAddr(real)
			for _, conn := range sshdConnections(real, user, text) {
				for _, flt := range filters {
					m, err := flt.NewMatcher(match.MatcherOptions{Now: func() time.Time { return defaultNow }, Location: time.UTC})
					if err != nil {
						t.Fatal(err)
					}
					for _, msg := range conn {
						line := "Nov 22 10:00:00 web1 sshd[4000]: " + msg
						_, fs := m.MatchRaw(line)
						for _, fl := range fs {
							if fl.Addr.IsValid() && fl.Addr != want {
								t.Fatalf("%s: failure of %v, want %v\n\t%s", flt.Name(), fl.Addr, want, line)
							}
						}
					}
				}
			}
		}
	})
}

// TestSSHDConnectionsCaught keeps FuzzSSHDInjection honest: with plain
// text from the client, the aggressive mode finds a failure of the real
// address in every connection of sshdConnections but these: one that only
// postpones authentication; an invalid user's certificate or hostbased
// key, whose key ID or host name (the client's) follows the address and,
// with the user name, could spell another one; a valid user's failed
// certificate (a failed key of a valid user is no failure by itself); a
// disconnect with code 3 that is not a client's "Auth fail".
func TestSSHDConnectionsCaught(t *testing.T) {
	f := compileFilter(t, "sshd[mode=aggressive]")
	for _, real := range []string{"203.0.113.6", "2001:db8::6"} {
		for i, conn := range sshdConnections(real, "admin", "SSH-2.0-Go") {
			m, err := f.NewMatcher(match.MatcherOptions{Now: func() time.Time { return defaultNow }, Location: time.UTC})
			if err != nil {
				t.Fatal(err)
			}
			caught := false
			for _, msg := range conn {
				_, fs := m.MatchRaw("Nov 22 10:00:00 web1 sshd[4000]: " + msg)
				for _, fl := range fs {
					caught = caught || fl.Addr.String() == real
				}
			}
			first := conn[0]
			missed := strings.HasPrefix(first, "Postponed") || strings.Contains(first, "-CERT ") ||
				strings.HasPrefix(first, "Failed hostbased for invalid user") || strings.Contains(first, ":3: ")
			if caught == missed {
				t.Errorf("connection %d: caught %v\n\t%s", i, caught, strings.Join(conn, "\n\t"))
			}
		}
	}
}
