package daemon

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
)

// TestReloadBanPrefix reloads a configuration that changes a jail's
// banprefix.ipv6: the firewall gets the new lengths, and the jail's bans,
// which a firewall may drop on such a change, are in it again after the
// reload. A reload that changes no length re-applies nothing.
func TestReloadBanPrefix(t *testing.T) {
	const jail = `
[DEFAULT]
bantime = 1h

[sshd]
enabled = true
logpath = DIR/auth.log
maxretry = 2
%s

[other]
enabled = true
filter = sshd
logpath = DIR/auth.log
maxretry = 2
`
	config := func(extra string) string { return strings.Replace(jail, "%s", extra, 1) }
	e := newEnv(t, config(""))
	e.start()
	ctx := context.Background()
	if _, err := e.d.Ban(ctx, control.BanRequest{Jail: "sshd", Targets: []string{"2001:db8:1::/64", "198.51.100.1", "2001:db8:2::7/128"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.d.Ban(ctx, control.BanRequest{Jail: "other", Targets: []string{"203.0.113.9"}}); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"sshd":  {"198.51.100.1/32", "2001:db8:1::/64", "2001:db8:2::7/128"},
		"other": {"203.0.113.9/32"},
	}
	check := func(step string) {
		t.Helper()
		for jail, w := range want {
			var got []string
			for p, left := range e.fw.set(jail) {
				got = append(got, p.String())
				if left <= 0 || left > time.Hour {
					t.Errorf("%s: %s %s: %v left, want in (0, 1h]", step, jail, p, left)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, w) {
				t.Errorf("%s: firewall set of %s holds %q, want %q", step, jail, got, w)
			}
		}
	}
	check("before the reload")
	lengths := func() [2]int {
		e.fw.mu.Lock()
		defer e.fw.mu.Unlock()
		return e.fw.lengths["sshd"]
	}
	if got := lengths(); got != [2]int{32, 64} {
		t.Errorf("firewall got sshd's lengths %v, want the defaults [32 64]", got)
	}
	calls := func() []string {
		e.fw.mu.Lock()
		defer e.fw.mu.Unlock()
		return slices.Clone(e.fw.calls)
	}

	// No length changes: nothing is re-applied.
	before := len(calls())
	if _, err := e.d.Reload(ctx, control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := calls()[before:]; !slices.Equal(got, []string{"setup other,sshd"}) {
		t.Errorf("firewall calls of a reload without changes: %q", got)
	}

	e.writeConfig(config("banprefix.ipv6 = 48"))
	before = len(calls())
	if _, err := e.d.Reload(ctx, control.ReloadRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := lengths(); got != [2]int{32, 48} {
		t.Errorf("firewall got sshd's lengths %v after the reload, want [32 48]", got)
	}
	got := calls()[before:]
	if len(got) == 0 || got[0] != "setup other,sshd" || !slices.Contains(got, "replace sshd 3") {
		t.Errorf("firewall calls of the reload: %q, want a setup, then sshd's bans replaced", got)
	}
	check("after the reload")
}
