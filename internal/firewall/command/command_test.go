package command_test

import (
	"errors"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/firewall/command"
)

func pfx(s string) netip.Prefix {
	if !strings.Contains(s, "/") {
		a := netip.MustParseAddr(s)
		return netip.PrefixFrom(a, a.BitLen())
	}
	return netip.MustParsePrefix(s)
}

// clock is a fake clock with the timer the backend schedules expiry on.
type clock struct {
	mu    sync.Mutex
	now   time.Time
	after time.Duration
	fn    func()
}

var epoch = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

func newClock() *clock { return &clock{now: epoch} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) AfterFunc(d time.Duration, fn func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.after, c.fn = d, fn
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.fn = nil
		return true
	}
}

// advance moves the clock to the pending timer and fires it.
func (c *clock) advance(t *testing.T) {
	t.Helper()
	c.mu.Lock()
	fn, d := c.fn, c.after
	c.now = c.now.Add(d)
	c.fn = nil
	c.mu.Unlock()
	if fn == nil {
		t.Fatal("no timer pending")
	}
	fn()
}

func (c *clock) pending() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fn != nil
}

// env is a test's directory, log file and clock.
type env struct {
	dir, log string
	clock    *clock
}

func newEnv(t *testing.T) *env {
	dir := t.TempDir()
	return &env{dir: dir, log: filepath.Join(dir, "log"), clock: newClock()}
}

// action returns an action whose commands append a line to the log: by
// default the operation's name ("start", "ban <ip>", ...); cmds replaces
// them by key, and adds flush, check, prolong and repair.
func (e *env) action(name string, cmds map[string]string) command.Action {
	a := command.Action{Name: name, Init: map[string]string{"log": e.log}}
	line := func(op string) string {
		if c, ok := cmds[op]; ok {
			return c
		}
		return `echo "` + op + `" >> <log>`
	}
	a.Start, a.Stop, a.Ban, a.Unban = line("start"), line("stop"), line("ban <ip>"), line("unban <ip>")
	a.Flush, a.Check, a.Prolong, a.Repair = cmds["flush"], cmds["check"], cmds["prolong"], cmds["repair"]
	return a
}

func (e *env) open(t *testing.T, actions map[string][]command.Action, parallel int) *command.Backend {
	t.Helper()
	b, err := command.New(command.Options{
		Actions:   actions,
		Parallel:  parallel,
		Hostname:  "gaol.example.org",
		Logger:    slog.New(slog.DiscardHandler),
		Now:       e.clock.Now,
		AfterFunc: e.clock.AfterFunc,
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// lines returns the log's lines and empties it.
func (e *env) lines(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(e.log)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(e.log); err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

func (e *env) expect(t *testing.T, what string, want ...string) {
	t.Helper()
	if got := e.lines(t); !slices.Equal(got, want) {
		t.Errorf("%s: ran\n%q\nwant\n%q", what, got, want)
	}
}

// expectSorted compares the lines of commands that ran concurrently.
func (e *env) expectSorted(t *testing.T, what string, want ...string) {
	t.Helper()
	got := e.lines(t)
	slices.Sort(got)
	want = slices.Clone(want)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s: ran\n%q\nwant\n%q", what, got, want)
	}
}

var sshd = firewall.Jail{Name: "sshd", Ports: []firewall.PortRange{{From: 22, To: 22}}, Protocol: "tcp"}

// elems is a test shorthand: "192.0.2.1" or "192.0.2.0/24", with an
// optional "@10m" timeout.
func elems(specs ...string) []firewall.Element {
	var out []firewall.Element
	for _, s := range specs {
		p, d, ok := strings.Cut(s, "@")
		e := firewall.Element{Prefix: pfx(p)}
		if ok {
			e.Timeout, _ = time.ParseDuration(d)
		}
		out = append(out, e)
	}
	return out
}

func TestSequence(t *testing.T) {
	e := newEnv(t)
	a := e.action("seq", map[string]string{"flush": `echo flush >> <log>`})
	b := e.open(t, map[string][]command.Action{"sshd": {a}}, 1)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Setup", "start")
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Setup again")
	if err := b.Ban("sshd", elems("192.0.2.1@10m", "2001:db8::1", "::ffff:192.0.2.9", "198.51.100.0/24@1h")); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Ban", "ban 192.0.2.1", "ban 2001:db8::1", "ban 192.0.2.9", "ban 198.51.100.0/24")
	if err := b.Unban("sshd", []netip.Prefix{pfx("192.0.2.1"), pfx("203.0.113.1")}); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Unban", "unban 192.0.2.1")
	if err := b.Replace("sshd", elems("203.0.113.5@1h")); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Replace", "flush", "ban 203.0.113.5")
	got, err := b.List("sshd")
	if err != nil || len(got) != 1 || got[0].Prefix != pfx("203.0.113.5") || got[0].Timeout != time.Hour {
		t.Errorf("List = %v, %v", got, err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Close", "flush", "stop")
	if err := b.Ban("sshd", elems("192.0.2.1")); err == nil {
		t.Error("Ban after Close succeeded")
	}
}

// Without actionflush, stopping and replacing unban each ban.
func TestUnbanEachWithoutFlush(t *testing.T) {
	e := newEnv(t)
	b := e.open(t, map[string][]command.Action{"sshd": {e.action("noflush", nil)}}, 1)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("sshd", elems("192.0.2.2", "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	e.lines(t)
	if err := b.Replace("sshd", elems("192.0.2.3")); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Replace", "unban 192.0.2.1", "unban 192.0.2.2", "ban 192.0.2.3")
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Stop", "unban 192.0.2.3", "stop")
	// The backend may be set up again after Stop.
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Setup after Stop", "start")
}

func TestErrors(t *testing.T) {
	e := newEnv(t)
	b := e.open(t, nil, 1)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("sshd", elems("192.0.2.1")); err != nil {
		t.Errorf("Ban in a jail without actions: %v", err)
	}
	if err := b.Ban("web", elems("192.0.2.1")); !errors.Is(err, command.ErrUnknownJail) {
		t.Errorf("Ban in an unknown jail: %v", err)
	}
	if err := b.Ban("sshd", []firewall.Element{{}}); err == nil {
		t.Error("Ban of an invalid prefix succeeded")
	}
	if err := b.Ban("sshd", []firewall.Element{{Prefix: pfx("192.0.2.1"), Timeout: -time.Second}}); err == nil {
		t.Error("Ban with a negative timeout succeeded")
	}
	if err := b.Setup([]firewall.Jail{sshd, sshd}); err == nil {
		t.Error("Setup with a jail twice succeeded")
	}
	if _, err := command.New(command.Options{Shell: "/nonexistent/sh"}); err == nil {
		t.Error("New accepted a missing shell")
	}
	// A command that fails makes the call fail, with its output.
	bad := command.Action{Name: "bad", Ban: `echo "no such chain" >&2; exit 3`}
	b2 := e.open(t, map[string][]command.Action{"sshd": {bad}}, 1)
	if err := b2.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	if err := b2.Ban("sshd", elems("192.0.2.1")); !errors.Is(err, command.ErrActionFailed) || !strings.Contains(err.Error(), "no such chain") {
		t.Errorf("failing ban: %v, want ErrActionFailed with the output", err)
	}
	// A self-referencing option fails the command.
	loop := command.Action{Name: "loop", Ban: "echo <a>", Init: map[string]string{"a": "<b>", "b": "<a>"}}
	b3 := e.open(t, map[string][]command.Action{"sshd": {loop}}, 1)
	if err := b3.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	if err := b3.Ban("sshd", elems("192.0.2.1")); err == nil || !strings.Contains(err.Error(), "refers to itself") {
		t.Errorf("self-referencing option: %v", err)
	}
}

// The tags of a ban, from the action's options and the ban's values.
func TestTags(t *testing.T) {
	e := newEnv(t)
	a := command.Action{
		Name: "tags",
		Init: map[string]string{
			"log":                    e.log,
			"name":                   "ssh-jail",
			"port":                   "22,2222",
			"blocktype":              "REJECT",
			"blocktype?family=inet6": "REJECT6",
			"what":                   "<name>:<port>",
		},
		Ban: `echo "ip=<ip> fam=<family> rev=<ip-rev> fail=<failures> ipfail=<ipfailures> time=<time> bantime=<bantime> count=<bancount> restored=<restored>" >> <log>
echo "what=<what> block=<blocktype> host=<fq-hostname>/<sh-hostname><sp>end" >> <log>
echo "fid=<fid> user=<F-USER> port=<F-PORT> missing=[<F-NOPE>] host=<ip-host> unknown=<nothing>" >> <log>
printf '%s\n' '<matches>' "<ipjailmatches>" >> <log>`,
	}
	b := e.open(t, map[string][]command.Action{"sshd": {a}}, 1)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	start := time.Date(2024, 5, 1, 11, 0, 0, 0, time.UTC)
	err := b.BanInfo("sshd", []command.Info{{
		Prefix:   pfx("192.0.2.1"),
		Timeout:  10 * time.Minute,
		BanTime:  time.Hour,
		Time:     start,
		Failures: 5, IPFailures: 7,
		Count:   2,
		ID:      "id-1",
		Host:    "client.example.net",
		Matches: []string{"line 1", "line 2"},
		Fields:  map[string]string{"user": "admin", "fport": "2222"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.expect(t, "BanInfo",
		"ip=192.0.2.1 fam=inet4 rev=1.2.0.192. fail=5 ipfail=7 time="+strconv.FormatInt(start.Unix(), 10)+" bantime=3600 count=2 restored=0",
		"what=ssh-jail:22,2222 block=REJECT host=gaol.example.org/gaol end",
		"fid=id-1 user=admin port=2222 missing=[] host=client.example.net unknown=<nothing>",
		"line 1", "line 2", "line 1", "line 2",
	)
	if err := b.Ban("sshd", elems("2001:db8::1/128", "198.51.100.0/24")); err != nil {
		t.Fatal(err)
	}
	got := e.lines(t)
	if len(got) != 10 ||
		!strings.HasPrefix(got[0], "ip=2001:db8::1 fam=inet6 rev=1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2. fail=0 ipfail=0 time="+strconv.FormatInt(epoch.Unix(), 10)) ||
		!strings.HasSuffix(got[0], "bantime=-1 count=0 restored=0") ||
		!strings.Contains(got[1], "block=REJECT6") ||
		!strings.HasPrefix(got[2], "fid=2001:db8::1 ") ||
		!strings.HasPrefix(got[5], "ip=198.51.100.0/24 fam=inet4") {
		t.Errorf("Ban ran\n%q", got)
	}
}

// TestLogLineCannotRunCommands is fail2ban's CVE-2021-32749: values taken
// from log lines (matched lines, <F-*> groups, the failure ID) and the
// host name of an address, crafted to break out of every kind of quoting,
// reach the commands unchanged and run nothing.
func TestLogLineCannotRunCommands(t *testing.T) {
	e := newEnv(t)
	canary := filepath.Join(e.dir, "pwned")
	payloads := []string{
		"$(touch " + canary + ")",
		"`touch " + canary + "`",
		"'; touch " + canary + "; '",
		`"; touch ` + canary + `; "`,
		"x\ntouch " + canary + "\n",
		"EOF\ntouch " + canary + "\nEOF",
		"\\'; touch " + canary + " #",
		"${IFS}$(touch${IFS}" + canary + ")",
		"<ip> <F-USER> <br> %s %n",
		"-e \\ntouch",
	}
	// The action shows each value from a different place of the script,
	// on one line (newlines as \n) between brackets.
	a := command.Action{
		Name: "cve",
		Init: map[string]string{"log": e.log},
		Ban: `show() { printf '[%s]\n' "$(printf '%s.' "$1" | sed ':a;N;$!ba;s/\n/\\n/g')" >> <log>; }
show <F-USER>
show "<F-USER>"
show '<F-USER>'
show "$(printf '%s' "<matches>")"
show "$(printf '%s' '<fid>')"
x=` + "`printf '%s.' <ip-host>`" + `
show "${x%.}"
cat >> <log> <<EOF
[<F-USER>]
EOF
body=$(printf '%s\n' "User: <F-USER>" | sed 's/^User: //')
show "$body"`,
	}
	b := e.open(t, map[string][]command.Action{"sshd": {a}}, 1)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	// show adds a '.' so that command substitution keeps trailing
	// newlines, and prints newlines as \n.
	shown := func(s string) string { return "[" + strings.ReplaceAll(s, "\n", `\n`) + ".]" }
	for _, p := range payloads {
		err := b.BanInfo("sshd", []command.Info{{
			Prefix:  pfx("192.0.2.1"),
			Matches: []string{p},
			ID:      p,
			Host:    p,
			Fields:  map[string]string{"user": p},
		}})
		if err != nil {
			t.Fatalf("%q: %v", p, err)
		}
		if err := b.Unban("sshd", []netip.Prefix{pfx("192.0.2.1")}); err != nil {
			t.Fatal(err)
		}
		got := e.lines(t)
		want := []string{shown(p), shown(p), shown(p), shown(strings.TrimRight(p, "\n")), shown(strings.TrimRight(p, "\n")), shown(p)}
		// The here-document writes the value's lines as they are.
		want = append(want, strings.Split("["+p+"]", "\n")...)
		want = append(want, shown(strings.TrimRight(p, "\n")))
		if len(got) != len(want) {
			t.Errorf("%q: ran\n%q\nwant\n%q", p, got, want)
		} else {
			for i := range got {
				if got[i] != want[i] {
					t.Errorf("%q: line %d is %q, want %q", p, i, got[i], want[i])
				}
			}
		}
		if _, err := os.Stat(canary); err == nil {
			t.Fatalf("payload %q ran a command", p)
		}
	}
}

func TestTimeout(t *testing.T) {
	e := newEnv(t)
	pidFile := filepath.Join(e.dir, "child")
	// The timeout comes from the action's "timeout" option, in seconds,
	// when Timeout is not set.
	a := command.Action{
		Name: "slow",
		Init: map[string]string{"pid": pidFile, "timeout": "0.2"},
		Ban:  `sleep 60 & echo $! > <pid>; wait`,
	}
	b, err := command.New(command.Options{
		Actions:   map[string][]command.Action{"sshd": {a}},
		KillGrace: 200 * time.Millisecond,
		Logger:    slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = b.Ban("sshd", elems("192.0.2.1"))
	if !errors.Is(err, command.ErrTimeout) || !errors.Is(err, command.ErrActionFailed) {
		t.Fatalf("Ban = %v, want ErrTimeout and ErrActionFailed", err)
	}
	t.Logf("timing out (twice: a failed command runs again) took %v", time.Since(start))
	data, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	// The background child was in the command's process group: it is
	// killed too (gone, or a zombie not reaped yet).
	deadline := time.Now().Add(10 * time.Second)
	for {
		stat, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
		if err != nil {
			break
		}
		if f := strings.Fields(string(stat)); len(f) > 2 && f[2] == "Z" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %d still running: %s", pid, stat)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A command that fails runs actioncheck; a failing check repairs the
// action with actionstop and actionstart, and the command runs again.
func TestCheckAndRestart(t *testing.T) {
	e := newEnv(t)
	ok := filepath.Join(e.dir, "ok")
	a := e.action("restart", map[string]string{
		"start":    `touch ` + ok + `; echo start >> <log>`,
		"stop":     `rm -f ` + ok + `; echo stop >> <log>`,
		"check":    `echo check >> <log>; [ -e ` + ok + ` ]`,
		"ban <ip>": `if [ -e ` + ok + ` ]; then echo "ban <ip>" >> <log>; else echo "ban <ip> failed" >> <log>; exit 1; fi`,
	})
	b := e.open(t, map[string][]command.Action{"sshd": {a}}, 1)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("sshd", elems("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "healthy", "start", "ban 192.0.2.1")
	// Someone removes the action's state.
	if err := os.Remove(ok); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("sshd", elems("192.0.2.2")); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "repaired", "ban 192.0.2.2 failed", "check", "stop", "start", "check", "ban 192.0.2.2")

	// With actionrepair, that runs instead; if the check still fails,
	// the ban fails.
	a2 := e.action("repair", map[string]string{
		"check":    `echo check >> <log>; [ -e ` + ok + ` ]`,
		"repair":   `echo repair >> <log>`,
		"ban <ip>": `echo "ban <ip> failed" >> <log>; exit 1`,
	})
	b2 := e.open(t, map[string][]command.Action{"sshd": {a2}}, 1)
	if err := b2.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	os.Remove(ok)
	e.lines(t)
	if err := b2.Ban("sshd", elems("192.0.2.3")); err == nil {
		t.Error("Ban succeeded with a broken action")
	}
	e.expect(t, "repair fails", "ban 192.0.2.3 failed", "check", "repair", "check")

	// Without actioncheck, a failed command simply runs once more.
	a3 := e.action("retry", map[string]string{"ban <ip>": `echo "ban <ip> failed" >> <log>; exit 1`})
	b3 := e.open(t, map[string][]command.Action{"sshd": {a3}}, 1)
	if err := b3.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	e.lines(t)
	if err := b3.Ban("sshd", elems("192.0.2.4")); err == nil {
		t.Error("Ban succeeded with a failing command")
	}
	e.expect(t, "retry", "ban 192.0.2.4 failed", "ban 192.0.2.4 failed")
}

// Actions with options conditional on the family start on demand, for
// the family of their first ban, and stop for each family started.
func TestFamilies(t *testing.T) {
	e := newEnv(t)
	a := command.Action{
		Name: "fam",
		Init: map[string]string{
			"log":              e.log,
			"ipt":              "iptables",
			"ipt?family=inet6": "ip6tables",
		},
		Start: `echo "start <ipt> <family>" >> <log>`,
		Stop:  `echo "stop <ipt>" >> <log>`,
		Ban:   `echo "ban <ipt> <ip>" >> <log>`,
		Unban: `echo "unban <ipt> <ip>" >> <log>`,
		Flush: `echo "flush <ipt>" >> <log>`,
	}
	b := e.open(t, map[string][]command.Action{"sshd": {a}}, 1)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Setup")
	if err := b.Ban("sshd", elems("192.0.2.1", "192.0.2.2")); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "IPv4 bans", "start iptables inet4", "ban iptables 192.0.2.1", "ban iptables 192.0.2.2")
	if err := b.Ban("sshd", elems("2001:db8::1")); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "IPv6 ban", "start ip6tables inet6", "ban ip6tables 2001:db8::1")
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "Stop", "flush iptables", "flush ip6tables", "stop iptables", "stop ip6tables")
}

// An operation whose command is the same for both families runs once.
func TestFamilyCommandsOnce(t *testing.T) {
	e := newEnv(t)
	a := command.Action{
		Name:  "once",
		Init:  map[string]string{"log": e.log, "x?family=inet6": "6"},
		Start: `echo start >> <log>`,
		Stop:  `echo stop >> <log>`,
		Ban:   `echo "ban <ip> <x>" >> <log>`,
	}
	b := e.open(t, map[string][]command.Action{"sshd": {a}}, 1)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("sshd", elems("192.0.2.1", "2001:db8::1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Stop(); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "both families", "start", "ban 192.0.2.1 <x>", "ban 2001:db8::1 6", "stop")
}

// Actions with norestored skip bans re-applied after a restart.
func TestNoRestored(t *testing.T) {
	e := newEnv(t)
	mail := e.action("mail", nil)
	mail.Init["norestored"] = "1"
	mail.Unban = ""
	b := e.open(t, map[string][]command.Action{"sshd": {mail}}, 1)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	if err := b.Replace("sshd", elems("192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if err := b.BanInfo("sshd", []command.Info{{Prefix: pfx("192.0.2.2"), Restored: true}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("sshd", elems("192.0.2.3")); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "restored bans skipped", "start", "ban 192.0.2.3")
}

// Banning a banned prefix again runs actionprolong, if the action has
// one, and moves the ban's end.
func TestProlong(t *testing.T) {
	e := newEnv(t)
	a := e.action("prolong", map[string]string{"prolong": `echo "prolong <ip> <bantime>" >> <log>`})
	b := e.open(t, map[string][]command.Action{"sshd": {a}}, 1)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("sshd", elems("192.0.2.1@10m")); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("sshd", elems("192.0.2.1@1h")); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "ban twice", "start", "ban 192.0.2.1", "prolong 192.0.2.1 3600")
	e.clock.advance(t)
	if got := e.clock.Now().Sub(epoch); got != time.Hour {
		t.Errorf("the ban ended after %v, want 1h", got)
	}
	e.expect(t, "expiry", "unban 192.0.2.1")
}

// Bans end when their timeout passes: the backend runs actionunban.
func TestExpiry(t *testing.T) {
	e := newEnv(t)
	b := e.open(t, map[string][]command.Action{"sshd": {e.action("exp", nil)}}, 2)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("sshd", elems("192.0.2.1@10m", "192.0.2.2@10m", "192.0.2.3@20m", "192.0.2.4")); err != nil {
		t.Fatal(err)
	}
	e.lines(t)
	e.clock.advance(t)
	e.expectSorted(t, "after 10m", "unban 192.0.2.1", "unban 192.0.2.2")
	e.clock.advance(t)
	e.expect(t, "after 20m", "unban 192.0.2.3")
	if e.clock.pending() {
		t.Error("a timer is pending for a permanent ban")
	}
	got, err := b.List("sshd")
	if err != nil || len(got) != 1 || got[0] != (firewall.Element{Prefix: pfx("192.0.2.4")}) {
		t.Errorf("List = %v, %v", got, err)
	}
	// Unbanning early cancels the expiry.
	if err := b.Ban("sshd", elems("192.0.2.5@1m")); err != nil {
		t.Fatal(err)
	}
	if err := b.Unban("sshd", []netip.Prefix{pfx("192.0.2.5")}); err != nil {
		t.Fatal(err)
	}
	if e.clock.pending() {
		t.Error("a timer is pending for an unbanned address")
	}
}

// A reload stops the jails that went, restarts jails whose actions
// changed (banning their bans again as restored ones) and leaves the
// others alone.
func TestReload(t *testing.T) {
	e := newEnv(t)
	web := firewall.Jail{Name: "web"}
	ftp := firewall.Jail{Name: "ftp"}
	actions := map[string][]command.Action{
		"sshd": {e.action("a", map[string]string{"start": `echo "start sshd" >> <log>`})},
		"web":  {e.action("a", map[string]string{"start": `echo "start web" >> <log>`, "stop": `echo "stop web" >> <log>`})},
		"ftp":  {e.action("a", map[string]string{"start": `echo "start ftp" >> <log>`, "stop": `echo "stop ftp" >> <log>`, "ban <ip>": `echo "ftp ban <ip> <restored>" >> <log>`})},
	}
	b := e.open(t, actions, 1)
	if err := b.Setup([]firewall.Jail{sshd, web, ftp}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("ftp", elems("192.0.2.1@1h")); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("web", elems("192.0.2.2")); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "start", "start sshd", "start web", "start ftp", "ftp ban 192.0.2.1 0", "ban 192.0.2.2")
	actions["ftp"] = []command.Action{e.action("b", map[string]string{"start": `echo "start ftp2" >> <log>`, "ban <ip>": `echo "ftp2 ban <ip> <restored>" >> <log>`})}
	b.SetActions(actions)
	if err := b.Setup([]firewall.Jail{sshd, ftp}); err != nil {
		t.Fatal(err)
	}
	e.expect(t, "reload", "unban 192.0.2.2", "stop web", "unban 192.0.2.1", "stop ftp", "start ftp2", "ftp2 ban 192.0.2.1 1")
	if err := b.Ban("web", elems("192.0.2.3")); !errors.Is(err, command.ErrUnknownJail) {
		t.Errorf("Ban in a removed jail: %v", err)
	}
}

// The bans of one call run concurrently, at most Parallel at once.
func TestParallel(t *testing.T) {
	e := newEnv(t)
	running := filepath.Join(e.dir, "running")
	if err := os.Mkdir(running, 0o755); err != nil {
		t.Fatal(err)
	}
	// Each ban marks itself running, records how many are, and waits a
	// little for the others.
	a := e.action("par", map[string]string{
		"ban <ip>": `touch ` + running + `/<ip>; ls ` + running + ` | wc -l >> <log>; sleep 0.05; rm ` + running + `/<ip>`,
	})
	b := e.open(t, map[string][]command.Action{"sshd": {a}}, 3)
	if err := b.Setup([]firewall.Jail{sshd}); err != nil {
		t.Fatal(err)
	}
	var bans []string
	for i := range 30 {
		bans = append(bans, netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}).String())
	}
	if err := b.Ban("sshd", elems(bans...)); err != nil {
		t.Fatal(err)
	}
	got := e.lines(t)
	if len(got) != 31 { // start and the bans
		t.Fatalf("ran %d commands, want 31: %q", len(got), got)
	}
	most := 0
	for _, l := range got[1:] {
		n, err := strconv.Atoi(strings.TrimSpace(l))
		if err != nil {
			t.Fatalf("%q: %v", l, err)
		}
		most = max(most, n)
	}
	if most > 3 {
		t.Errorf("%d bans ran at once, want at most 3", most)
	}
	t.Logf("at most %d bans ran at once", most)
}
