package daemon

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
)

const useDNSJails = `
[DEFAULT]
bantime = 1h
maxretry = 3

[app]
enabled = true
filter = nameapp
logpath = DIR/app.log
usedns = yes

# usedns = warn, the default.
[app-warn]
enabled = true
filter = nameapp
logpath = DIR/app.log
ignoreip = 192.0.2.50

[app-no]
enabled = true
filter = nameapp
logpath = DIR/app.log
usedns = no

[sshd]
enabled = true
logpath = DIR/auth.log
usedns = yes
`

// nameAppFilter is stateless: the workers match it (match.Result). The
// second failregex identifies failures by a token, which is never looked
// up even if it looks like a name.
const nameAppFilter = `[Definition]
failregex = ^\s*\S+ app\[\d+\]: denied access for <HOST>$
            ^\s*\S+ app\[\d+\]: bad token <F-ID>\S+</F-ID>$
`

// TestUseDNS: under usedns = yes or warn a failure that names a host is a
// failure of each of its addresses, in stateless filters and in filters
// with connection state (sshd, match.Failure); under no it is none. Names
// are looked up once, a name that does not resolve bans nothing and is
// reported once, and the daemon goes on.
func TestUseDNS(t *testing.T) {
	e := newEnv(t, useDNSJails)
	if err := os.MkdirAll(filepath.Join(e.etc, "filter.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.etc, "filter.d", "nameapp.conf"), []byte(nameAppFilter), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	e.logger = slog.New(slog.NewTextHandler(&logs, nil))
	e.resolver.set("attacker.example", "2001:db8::50", "::ffff:192.0.2.50")
	e.resolver.set("tok.example", "203.0.113.9") // an <F-ID>: must not be looked up
	e.start()

	stamp := e.clock.Now().Format(time.Stamp)
	app := func(msg string) string { return fmt.Sprintf("%s web1 app[5]: %s", stamp, msg) }
	pid := 100
	sshd := func(host string) string {
		pid++
		return fmt.Sprintf("%s web1 sshd[%d]: User root from %s not allowed because not listed in AllowUsers", stamp, pid, host)
	}
	var appLines, authLines []string
	for _, host := range []string{"attacker.example", "gone.example"} {
		for range 3 {
			appLines = append(appLines, app("denied access for "+host))
			authLines = append(authLines, sshd(host))
		}
	}
	for range 3 {
		appLines = append(appLines, app("bad token tok.example"))
	}
	// Addresses after the names (IPv6 addresses are banned by /64): once they are banned, every line before
	// them has been counted.
	for range 3 {
		appLines = append(appLines, app("denied access for 198.51.100.9"))
		authLines = append(authLines, sshd("198.51.100.10"))
	}
	e.appendLines("app.log", appLines...)
	e.appendLines("auth.log", authLines...)

	tests := []struct {
		jail   string
		banned []string
	}{
		{"app", []string{"192.0.2.50", "198.51.100.9", "2001:db8::/64"}},
		{"app-warn", []string{"198.51.100.9", "2001:db8::/64"}}, // ignoreip applies per address
		{"app-no", []string{"198.51.100.9"}},
		{"sshd", []string{"192.0.2.50", "198.51.100.10", "2001:db8::/64"}},
	}
	for _, tt := range tests {
		js := e.waitJail(tt.jail, func(js control.JailStatus) bool { return js.CurrentlyBanned >= len(tt.banned) })
		got := slices.Clone(js.Banned)
		slices.Sort(got)
		if !slices.Equal(got, tt.banned) {
			t.Errorf("%s: banned %v, want %v", tt.jail, got, tt.banned)
		}
	}
	if js := e.jail("app"); js.TotalFailed != 9 {
		t.Errorf("app: %d failures, want 9 (3 lines for each of 2 addresses, 3 for the address)", js.TotalFailed)
	}
	if got := e.fw.set("sshd"); len(got) != 3 {
		t.Errorf("sshd firewall set %v", got)
	}
	for host, want := range map[string]int{"attacker.example": 1, "gone.example": 1, "tok.example": 0} {
		if n := e.resolver.lookups(host); n != want {
			t.Errorf("%s looked up %d times, want %d", host, n, want)
		}
	}

	out := logs.String()
	var unable, determined []string
	for _, l := range strings.Split(out, "\n") {
		switch {
		case strings.Contains(l, "unable to find a corresponding IP address"):
			unable = append(unable, l)
		case strings.Contains(l, "determined IP using DNS lookup"):
			determined = append(determined, l)
		}
	}
	if len(unable) != 1 || !strings.Contains(unable[0], "host=gone.example") || !strings.Contains(unable[0], "level=WARN") {
		t.Errorf("failed lookups logged: %q", unable)
	}
	// usedns = warn warns of every name resolved (as fail2ban); yes does not.
	if len(determined) != 3 {
		t.Errorf("%d resolutions logged, want 3: %q", len(determined), determined)
	}
	for _, l := range determined {
		if !strings.Contains(l, "jail=app-warn") || !strings.Contains(l, "host=attacker.example") || !strings.Contains(l, "192.0.2.50") || !strings.Contains(l, "2001:db8::50") {
			t.Errorf("resolution logged as %q", l)
		}
	}
}
