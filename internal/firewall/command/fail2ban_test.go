package command_test

import (
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/firewall/command"
	"github.com/gaol-project/gaol/internal/ini"
	"github.com/gaol-project/gaol/internal/testutil/f2btree"
)

var update = flag.Bool("update", false, "rewrite golden files")

// actionDir returns the action.d directory of fail2ban's Debian package
// (package f2btree: fetched once into the git-ignored .cache/fail2ban).
func actionDir(t *testing.T) string {
	t.Helper()
	return filepath.Join(f2btree.Get(t).Etc(), "action.d")
}

// loadAction builds an Action from an action.d file the way fail2ban's
// client does: %(name)s interpolation by the configuration reader, the
// [Definition] commands, the other options and [Init] in Init (the jail's
// parameters winning), and the options of other sections as
// "section/name" for tags such as <ipt_<type>/_chain_rule>.
func loadAction(t *testing.T, dir, name string, params map[string]string) command.Action {
	t.Helper()
	c, err := ini.Load(os.DirFS(filepath.Dir(dir)), "action.d/"+name)
	if err != nil {
		t.Fatal(err)
	}
	vars := ini.Vars{}
	for k, v := range params {
		vars[k] = &ini.Value{Key: k, Raw: v}
	}
	get := func(section, key string) string {
		t.Helper()
		v, ok := c.Lookup(section, key)
		if !ok {
			t.Fatalf("%s: no %s in [%s]", name, key, section)
		}
		s, err := c.Expand(section, v, vars)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return s
	}
	a := command.Action{Name: name, Init: map[string]string{}}
	commands := map[string]*string{
		"actionstart": &a.Start, "actionstop": &a.Stop, "actioncheck": &a.Check,
		"actionban": &a.Ban, "actionunban": &a.Unban, "actionflush": &a.Flush,
		"actionprolong": &a.Prolong, "actionrepair": &a.Repair, "actionreban": &a.Reban,
	}
	for _, section := range append([]string{"DEFAULT"}, c.Sections()...) {
		switch section {
		case ini.IncludesSection, "Init":
			continue
		}
		for _, key := range c.Keys(section) {
			v := get(section, key)
			switch {
			case section == "Definition" && commands[key] != nil:
				*commands[key] = v
			case section == "Definition" || section == "DEFAULT":
				a.Init[key] = v
			default:
				a.Init[section+"/"+key] = v
			}
		}
	}
	for _, key := range c.Keys("Init") {
		a.Init[key] = get("Init", key)
	}
	for k, v := range params {
		a.Init[k] = v
	}
	return a
}

// fakePath returns a PATH whose first directory holds programs that
// record their arguments in log, one line per run ("prog [arg] [arg]"),
// and their standard input for sendmail. iptables' -C (check) and
// firewall-cmd's --get-chains fail, so that actions create what they
// check for.
func fakePath(t *testing.T, log string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	// sendmail reads its message before it records anything, so that
	// the commands of the pipeline that writes it come first.
	script := fmt.Sprintf(`#!/bin/sh
[ "${0##*/}" = sendmail ] && body=$(sed 's/^/  | /'; echo .)
{ printf '%%s' "${0##*/}"; for a; do printf ' [%%s]' "$a"; done; echo; } >> %[1]q
case "${0##*/}" in
sendmail) printf '%%s\n' "${body%%.}" >> %[1]q ;;
whois) echo "whois of $1" ;;
esac
case " $* " in *" -C "*|*" --get-chains "*) exit 1 ;; esac
exit 0
`, log)
	for _, prog := range []string{"iptables", "ip6tables", "ufw", "firewall-cmd", "sendmail", "whois", "ss", "conntrack"} {
		if err := os.WriteFile(filepath.Join(bin, prog), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin + ":" + os.Getenv("PATH")
}

// TestFail2banActions runs stock action.d files of fail2ban against
// programs that only record how they were called, and checks the
// commands their tags expanded to (testdata/*.golden).
func TestFail2banActions(t *testing.T) {
	dir := actionDir(t)
	testdata, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		action string
		params map[string]string
		want   []string // lines the record must contain
	}{
		{
			action: "iptables-multiport",
			params: map[string]string{"name": "sshd", "port": "ssh,2222", "protocol": "tcp", "chain": "INPUT"},
			want: []string{
				"iptables [-w] [-N] [f2b-sshd]",
				"iptables [-w] [-I] [INPUT] [-p] [tcp] [-m] [multiport] [--dports] [ssh,2222] [-j] [f2b-sshd]",
				"iptables [-w] [-I] [f2b-sshd] [1] [-s] [192.0.2.1] [-j] [REJECT] [--reject-with] [icmp-port-unreachable]",
				"ip6tables [-w] [-I] [f2b-sshd] [1] [-s] [2001:db8::1] [-j] [REJECT] [--reject-with] [icmp6-port-unreachable]",
				"iptables [-w] [-D] [f2b-sshd] [-s] [192.0.2.1] [-j] [REJECT] [--reject-with] [icmp-port-unreachable]",
				"ip6tables [-w] [-X] [f2b-sshd]",
			},
		},
		{
			action: "ufw",
			params: map[string]string{"name": "sshd", "port": "ssh", "protocol": "tcp"},
			want: []string{
				"ufw [prepend] [reject] [from] [192.0.2.1] [to] [any] [comment] [by Fail2Ban after 3 attempts against sshd]",
				"ufw [delete] [reject] [from] [192.0.2.1] [to] [any]",
			},
		},
		{
			action: "firewallcmd-multiport",
			params: map[string]string{"name": "sshd", "port": "ssh", "protocol": "tcp"},
			want: []string{
				"firewall-cmd [--direct] [--add-chain] [ipv4] [filter] [f2b-sshd]",
				"firewall-cmd [--direct] [--add-rule] [ipv4] [filter] [f2b-sshd] [0] [-s] [192.0.2.1] [-j] [REJECT] [--reject-with] [icmp-port-unreachable]",
				"firewall-cmd [--direct] [--add-rule] [ipv6] [filter] [f2b-sshd] [0] [-s] [2001:db8::1] [-j] [REJECT] [--reject-with] [icmp6-port-unreachable]",
			},
		},
		{
			// A mail with the matched lines: a crafted log line is mailed
			// as it is and runs nothing.
			action: "sendmail-whois-matches",
			params: map[string]string{"name": "sshd", "dest": "admin@example.org", "sender": "gaol@example.org", "mailcmd": `sendmail -f "<sender>" "<dest>"`},
			want: []string{
				"sendmail [-f] [gaol@example.org] [admin@example.org]",
				"  | Subject: [Fail2Ban] sshd: banned 192.0.2.1 from gaol.example.org",
				"  | whois of 192.0.2.1",
				"  | Failed password for $(touch CANARY) from 192.0.2.1",
				"  | Failed password for `touch CANARY`; '\"; touch CANARY from 192.0.2.1",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			work := t.TempDir()
			t.Chdir(work)
			log := filepath.Join(work, "record")
			a := loadAction(t, dir, tt.action, tt.params)
			b, err := command.New(command.Options{
				Actions:  map[string][]command.Action{"sshd": {a}},
				Env:      []string{"PATH=" + fakePath(t, log), "LC_ALL=C"},
				Parallel: 1,
				Hostname: "gaol.example.org",
				Logger:   slog.New(slog.DiscardHandler),
			})
			if err != nil {
				t.Fatal(err)
			}
			jail := firewall.Jail{Name: "sshd", Ports: []firewall.PortRange{{From: 22, To: 22}}, Protocol: "tcp"}
			steps := []struct {
				name string
				fn   func() error
			}{
				{"setup", func() error { return b.Setup([]firewall.Jail{jail}) }},
				{"ban 192.0.2.1", func() error {
					return b.BanInfo("sshd", []command.Info{{
						Prefix: pfx("192.0.2.1"), Failures: 3,
						Matches: []string{
							"Failed password for $(touch CANARY) from 192.0.2.1",
							"Failed password for `touch CANARY`; '\"; touch CANARY from 192.0.2.1",
						},
					}})
				}},
				{"ban 2001:db8::1", func() error {
					return b.BanInfo("sshd", []command.Info{{Prefix: pfx("2001:db8::1"), Failures: 4}})
				}},
				{"unban 192.0.2.1", func() error { return b.Unban("sshd", []netip.Prefix{pfx("192.0.2.1")}) }},
				{"stop", b.Stop},
			}
			var record strings.Builder
			for _, s := range steps {
				if err := s.fn(); err != nil {
					t.Fatalf("%s: %v", s.name, err)
				}
				data, _ := os.ReadFile(log)
				os.Remove(log)
				fmt.Fprintf(&record, "# %s\n%s", s.name, stripDates(string(data)))
			}
			got := record.String()
			for _, w := range tt.want {
				if !strings.Contains(got, w+"\n") {
					t.Errorf("the commands lack %q", w)
				}
			}
			if _, err := os.Stat(filepath.Join(work, "CANARY")); err == nil {
				t.Error("a matched line ran a command")
			}
			golden(t, filepath.Join(testdata, tt.action+".golden"), got)
		})
	}
}

// stripDates replaces the Date: header of mails, which changes with time.
func stripDates(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  | Date: ") {
			lines[i] = "  | Date: (date)"
		}
	}
	return strings.Join(lines, "\n")
}

func golden(t *testing.T, path, got string) {
	t.Helper()
	name := filepath.Base(path)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to rewrite):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
