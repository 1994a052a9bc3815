package ignore

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/gaol-project/gaol/internal/ignore/utmp"
)

// SSHClient returns the address of the SSH client the current process runs
// under, from SSH_CLIENT ("ADDR PORT PORT") or else SSH_CONNECTION ("ADDR
// PORT ADDR PORT"). env looks up a variable; nil means os.Getenv. The CLI
// sends it along with `gaol ban` so that the daemon's Guard refuses to ban
// the administrator's own connection.
func SSHClient(env func(string) string) (netip.Addr, bool) {
	if env == nil {
		env = os.Getenv
	}
	for _, v := range []string{"SSH_CLIENT", "SSH_CONNECTION"} {
		f := strings.Fields(env(v))
		if len(f) < 2 {
			continue
		}
		a, err := netip.ParseAddr(strings.Trim(f[0], "[]"))
		if err != nil {
			continue
		}
		return a.Unmap().WithZone(""), true
	}
	return netip.Addr{}, false
}

// Guard keeps manual bans from locking out the people administering the
// host: it refuses a prefix that holds the address of a logged-in remote
// session (from utmp, read again whenever it changes) or of the SSH client
// asking for the ban. Its exported fields may be set before first use. A
// Guard is safe for concurrent use; WithClient copies share the utmp state.
type Guard struct {
	// Now is the clock used to word session times; nil means time.Now.
	Now func() time.Time
	// Location is the time zone of session times; nil means time.Local.
	Location *time.Location
	// Logger receives utmp read errors; nil means slog.Default().
	Logger *slog.Logger

	client netip.Addr
	st     *guardState
}

type guardState struct {
	path     string
	mu       sync.Mutex
	sig      fileSig
	loaded   bool
	sessions []utmp.Session
	lastErr  string
}

// NewGuard returns a Guard reading the utmp file at path (empty means
// utmp.DefaultPath).
func NewGuard(utmpPath string) *Guard {
	if utmpPath == "" {
		utmpPath = utmp.DefaultPath
	}
	return &Guard{st: &guardState{path: utmpPath}}
}

// WithClient returns a copy of g that also refuses to ban client, the
// address of the SSH connection the request came over (see SSHClient). An
// invalid client is ignored.
func (g *Guard) WithClient(client netip.Addr) *Guard {
	c := *g
	c.client = client.Unmap().WithZone("")
	return &c
}

// Sessions returns the remote sessions (those with an address) now logged
// in. A utmp file that does not exist holds none; one that cannot be read
// keeps the sessions last read, and the error is returned.
func (g *Guard) Sessions() ([]utmp.Session, error) {
	st := g.st
	st.mu.Lock()
	defer st.mu.Unlock()
	fi, err := os.Stat(st.path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		st.sessions, st.loaded, st.lastErr = nil, false, ""
		return nil, nil
	case err != nil:
		return slices.Clone(st.sessions), fmt.Errorf("checking utmp: %w", err)
	}
	sig := sigOf(fi)
	if st.loaded && sig == st.sig {
		return slices.Clone(st.sessions), nil
	}
	all, err := utmp.LoggedIn(st.path)
	if err != nil {
		return slices.Clone(st.sessions), err
	}
	remote := all[:0]
	for _, s := range all {
		if s.Addr.IsValid() {
			remote = append(remote, s)
		}
	}
	slices.SortStableFunc(remote, func(a, b utmp.Session) int { return a.Time.Compare(b.Time) })
	st.sessions, st.sig, st.loaded, st.lastErr = remote, sig, true, ""
	return slices.Clone(remote), nil
}

// Check says whether banning p must be refused without --force, and why:
// p holds the requesting client's address, or that of a logged-in remote
// session. A utmp read error is logged (once until it changes) and the
// sessions last read are used.
func (g *Guard) Check(p netip.Prefix) (reason string, refused bool) {
	p = Canonical(p)
	if !p.IsValid() {
		return "", false
	}
	if g.client.IsValid() && p.Contains(g.client) {
		return fmt.Sprintf("this would ban your own SSH connection from %v (use --force)", g.client), true
	}
	sessions, err := g.Sessions()
	if err != nil {
		g.st.mu.Lock()
		if msg := err.Error(); msg != g.st.lastErr {
			g.st.lastErr = msg
			g.logger().Warn("cannot read utmp to protect logged-in sessions from manual bans", "path", g.st.path, "err", err)
		}
		g.st.mu.Unlock()
	}
	var hits []utmp.Session
	for _, s := range sessions {
		if p.Contains(s.Addr) {
			hits = append(hits, s)
		}
	}
	if len(hits) == 0 {
		return "", false
	}
	s := hits[0]
	var b strings.Builder
	if p.IsSingleIP() {
		fmt.Fprintf(&b, "%v is logged in over SSH", s.Addr)
	} else {
		fmt.Fprintf(&b, "%v contains %v, which is logged in over SSH", p, s.Addr)
	}
	if s.User != "" {
		fmt.Fprintf(&b, " as %s", printable(s.User))
	}
	if s.Line != "" {
		fmt.Fprintf(&b, " on %s", printable(s.Line))
	}
	if !s.Time.IsZero() {
		fmt.Fprintf(&b, " since %s", g.when(s.Time))
	}
	if n := len(hits) - 1; n == 1 {
		b.WriteString(", and 1 more session")
	} else if n > 1 {
		fmt.Fprintf(&b, ", and %d more sessions", n)
	}
	b.WriteString(" (use --force)")
	return b.String(), true
}

// when words a session's start: "10:02" today, "Mar 4 10:02" this year,
// "2024-03-04 10:02" before.
func (g *Guard) when(t time.Time) string {
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	loc := g.Location
	if loc == nil {
		loc = time.Local
	}
	t, n := t.In(loc), now().In(loc)
	switch {
	case t.Year() == n.Year() && t.YearDay() == n.YearDay():
		return t.Format("15:04")
	case t.Year() == n.Year():
		return t.Format("Jan 2 15:04")
	}
	return t.Format("2006-01-02 15:04")
}

func (g *Guard) logger() *slog.Logger {
	if g.Logger != nil {
		return g.Logger
	}
	return slog.Default()
}

// printable replaces characters that could disturb a terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == unicode.ReplacementChar || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}
