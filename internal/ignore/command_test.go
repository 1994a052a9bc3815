package ignore

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/testutil"
)

// script writes an executable /bin/sh script into dir and returns its path.
func script(t *testing.T, dir, name, body string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// runs counts the lines of a file a script appends to on each run.
func runs(t *testing.T, path string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func newCommand(t *testing.T, cfg CommandConfig) *Command {
	t.Helper()
	c, err := NewCommand(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var (
	addr1 = netip.MustParseAddr("192.0.2.1")
	addr2 = netip.MustParseAddr("192.0.2.2")
	addr3 = netip.MustParseAddr("2001:db8::3")
)

func TestCommandExitCodes(t *testing.T) {
	dir := t.TempDir()
	// The script decides by the address it is given: .1 is ignored, .2 is
	// not, anything else is an error with a message.
	check := script(t, dir, "check", `case "$1" in
192.0.2.1) exit 0 ;;
192.0.2.2) exit 1 ;;
*) echo "unknown address $1" >&2; exit 2 ;;
esac`)
	c := newCommand(t, CommandConfig{Command: check + " <ip>", CacheTTL: -1})
	tests := []struct {
		addr    netip.Addr
		ignored bool
		err     string
	}{
		{addr1, true, ""},
		{addr2, false, ""},
		{netip.MustParseAddr("::ffff:192.0.2.1"), true, ""}, // unmapped first
		{addr3, false, `ignorecommand for 2001:db8::3 exited with status 2 (want 0 to ignore the address or 1 not to): "unknown address 2001:db8::3"`},
	}
	for _, tt := range tests {
		got, err := c.Ignored(context.Background(), tt.addr)
		if got != tt.ignored || (err == nil) != (tt.err == "") || err != nil && err.Error() != tt.err {
			t.Errorf("Ignored(%v) = %v, %v; want %v, %q", tt.addr, got, err, tt.ignored, tt.err)
		}
	}
}

func TestCommandFailures(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		cfg  CommandConfig
		err  string
	}{
		{"missing program", CommandConfig{Command: filepath.Join(dir, "nonexistent") + " <ip>"}, "exited with status 127"},
		{"killed", CommandConfig{Command: "kill -9 $$"}, "killed"},
		{"no shell", CommandConfig{Command: "true", Shell: filepath.Join(dir, "nosh")}, "running ignorecommand for 192.0.2.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.CacheTTL = -1
			got, err := newCommand(t, tt.cfg).Ignored(context.Background(), addr1)
			if got || err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Ignored = %v, %v; want false, error containing %q", got, err, tt.err)
			}
		})
	}
	if _, err := NewCommand(CommandConfig{Command: "  "}); err == nil {
		t.Error("empty command accepted")
	}
	if _, err := NewCommand(CommandConfig{Command: "true"}); err != nil {
		t.Error(err)
	}
	if _, err := newCommand(t, CommandConfig{Command: "true"}).Ignored(context.Background(), netip.Addr{}); err == nil {
		t.Error("invalid address accepted")
	}
}

func TestCommandTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	// A background grandchild in the command's process group, then a wait
	// past the timeout.
	check := script(t, dir, "slow", `sleep 60 &
echo $! > `+pidFile+`
wait`)
	c := newCommand(t, CommandConfig{Command: check + " <ip>", Timeout: 200 * time.Millisecond})
	got, err := c.Ignored(context.Background(), addr1)
	if got || err == nil || !strings.Contains(err.Error(), "timed out after 200ms; its process group was killed") {
		t.Fatalf("Ignored = %v, %v; want a timeout", got, err)
	}
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// The grandchild dies (it may linger as a zombie until reaped).
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("grandchild %d survived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid runs (and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

func TestCommandContextCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := newCommand(t, CommandConfig{Command: "exit 0"})
	if got, err := c.Ignored(ctx, addr1); got || !errors.Is(err, context.Canceled) {
		t.Errorf("Ignored = %v, %v; want context.Canceled", got, err)
	}
	// A canceled check is not cached.
	if got, err := c.Ignored(context.Background(), addr1); !got || err != nil {
		t.Errorf("Ignored = %v, %v after cancel; want true", got, err)
	}
}

// TestCommandHostileValues feeds tag values crafted to break out of every
// quoting a command may put a tag in, and checks that none runs anything and
// each arrives intact.
func TestCommandHostileValues(t *testing.T) {
	dir := t.TempDir()
	pwned := filepath.Join(dir, "pwned")
	hostile := []string{
		"x'; touch " + pwned + "; '",
		`x"; touch ` + pwned + `; "`,
		"$(touch " + pwned + ")",
		"`touch " + pwned + "`",
		"; touch " + pwned,
		"a\ntouch " + pwned,
		`\'; touch ` + pwned + `; \'`,
		"${IFS}touch${IFS}" + pwned,
		"*",
		"-n",
		"~",
		"",
		"a b  c",
		"'\"'\"'",
		"x\\",
		"$HOME",
		"<ip>",
		"ünïcödé",
	}
	templates := []struct {
		name, cmd string
		want      func(v string) string
	}{
		{"unquoted", `printf '%s|' <F-USER> > "$OUT"`, func(v string) string { return v + "|" }},
		{"double", `printf '%s|' "<F-USER>" > "$OUT"`, func(v string) string { return v + "|" }},
		{"single", `printf '%s|' '<F-USER>' > "$OUT"`, func(v string) string { return v + "|" }},
		{"in a word", `printf '%s|' pre<F-USER>post > "$OUT"`, func(v string) string { return "pre" + v + "post|" }},
		{"in a double-quoted word", `printf '%s|' "pre <F-USER> post" > "$OUT"`, func(v string) string { return "pre " + v + " post|" }},
		{"in a single-quoted word", `printf '%s|' 'pre <F-USER> post' > "$OUT"`, func(v string) string { return "pre " + v + " post|" }},
		{"twice", `printf '%s|' <F-USER> "<F-USER>" > "$OUT"`, func(v string) string { return v + "|" + v + "|" }},
		{"test", `[ "<F-USER>" = "technical" ] && exit 1; printf '%s|' "<F-USER>" > "$OUT"`, func(v string) string { return v + "|" }},
	}
	out := filepath.Join(dir, "out")
	for _, tmpl := range templates {
		for i, v := range hostile {
			t.Run(fmt.Sprintf("%s/%d", tmpl.name, i), func(t *testing.T) {
				c := newCommand(t, CommandConfig{Command: tmpl.cmd, CacheTTL: -1, Env: []string{"OUT=" + out, "PATH=/usr/bin:/bin"}})
				os.Remove(out)
				got, err := c.IgnoredTags(context.Background(), addr1, map[string]string{"F-USER": v})
				if err != nil || !got {
					script, env := c.Render(context.Background(), addr1, map[string]string{"F-USER": v})
					t.Fatalf("Ignored = %v, %v; script %q env %q", got, err, script, env)
				}
				if _, err := os.Stat(pwned); err == nil {
					t.Fatalf("value %q ran a command", v)
				}
				b, err := os.ReadFile(out)
				if err != nil {
					t.Fatal(err)
				}
				if want := tmpl.want(v); string(b) != want {
					script, env := c.Render(context.Background(), addr1, map[string]string{"F-USER": v})
					t.Errorf("value %q arrived as %q, want %q; script %q env %q", v, b, want, script, env)
				}
			})
		}
	}
}

func TestCommandRender(t *testing.T) {
	c := newCommand(t, CommandConfig{
		Command:  `check <ip> "<family>" '<ip-rev>' <ip-host> <sh-hostname> <fq-hostname>a<sp>b<br><F-USER> <F-NONE> <unknown> <matches> <not a tag> <>`,
		Reverse:  fakeReverse{"192.0.2.1": "gw.example.org."},
		Hostname: func() (string, error) { return "gaol.example.net", nil },
	})
	script, env := c.Render(context.Background(), addr1, map[string]string{"F-USER": "alice", "matches": "line 1\nline 2"})
	want := "check 192.0.2.1 \"inet4\" '1.2.0.192.' gw.example.org gaol gaol.example.neta b\nalice \"${GAOL_TAG_F_NONE}\" <unknown> \"${GAOL_TAG_matches}\" <not a tag> <>"
	if script != want {
		t.Errorf("script\n %q\nwant\n %q", script, want)
	}
	if wantEnv := []string{"GAOL_TAG_F_NONE=", "GAOL_TAG_matches=line 1\nline 2"}; fmt.Sprint(env) != fmt.Sprint(wantEnv) {
		t.Errorf("env %q, want %q", env, wantEnv)
	}

	script, _ = c.Render(context.Background(), addr3, nil)
	if !strings.HasPrefix(script, `check 2001:db8::3 "inet6" '3.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.' "${GAOL_TAG_ip_host}"`) {
		t.Errorf("script %q", script)
	}
}

func TestVarNameCollision(t *testing.T) {
	c := newCommand(t, CommandConfig{Command: `x <F-A-B> <F-A_B> <F-A-B>`})
	script, env := c.Render(context.Background(), addr1, map[string]string{"F-A-B": "1 2", "F-A_B": "3 4"})
	if want := `x "${GAOL_TAG_F_A_B}" "${GAOL_TAG_F_A_B_2}" "${GAOL_TAG_F_A_B}"`; script != want {
		t.Errorf("script %q, want %q", script, want)
	}
	if want := "[GAOL_TAG_F_A_B=1 2 GAOL_TAG_F_A_B_2=3 4]"; fmt.Sprint(env) != want {
		t.Errorf("env %v, want %v", env, want)
	}
}

type fakeReverse map[string]string

func (f fakeReverse) LookupAddr(_ context.Context, addr string) ([]string, error) {
	if n, ok := f[addr]; ok {
		return []string{n}, nil
	}
	return nil, errors.New("no PTR")
}

func TestCommandCache(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "runs")
	check := script(t, dir, "check", `echo "$1" >> `+log+`
case "$1" in 192.0.2.1) exit 0 ;; 192.0.2.2) exit 1 ;; *) exit 3 ;; esac`)
	clock := testutil.NewClock(t0)
	c := newCommand(t, CommandConfig{Command: check + " <ip>", CacheTTL: 5 * time.Minute, CacheSize: 2, Now: clock.Now})
	ctx := context.Background()

	type step struct {
		advance time.Duration
		addr    netip.Addr
		ignored bool
		err     bool
		runs    int
	}
	steps := []step{
		{0, addr1, true, false, 1},
		{time.Minute, addr1, true, false, 1}, // cached
		{0, addr2, false, false, 2},
		{0, addr2, false, false, 2}, // "not ignored" is cached too
		{3 * time.Minute, addr1, true, false, 2},
		{time.Minute, addr1, true, false, 3},  // expired at 5m
		{time.Minute, addr2, false, false, 4}, // expired at 6m
		// An error is cached for at most a minute, without the error.
		{0, addr3, false, true, 5},
		{30 * time.Second, addr3, false, false, 5},
		// The cache holds two answers: addr3 pushed out addr1 (least recently used).
		{0, addr1, true, false, 6},
		{30 * time.Second, addr3, false, true, 7},
	}
	for i, st := range steps {
		clock.Advance(st.advance)
		got, err := c.Ignored(ctx, st.addr)
		if got != st.ignored || (err != nil) != st.err {
			t.Errorf("step %d: Ignored(%v) = %v, %v; want %v, error %v", i, st.addr, got, err, st.ignored, st.err)
		}
		if n := runs(t, log); n != st.runs {
			t.Errorf("step %d: %d runs, want %d", i, n, st.runs)
		}
	}
}

func TestCommandCacheKeys(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "runs")
	clock := testutil.NewClock(t0)
	ctx := context.Background()
	tests := []struct {
		name string
		key  string
		runs int
	}{
		// By default the key holds the address and every filter tag used.
		{"default", "", 3},
		// fail2ban's ignorecache key decides otherwise.
		{"by ip", "<ip>", 2},
		{"by user", "<F-USER>", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			os.Remove(log)
			c := newCommand(t, CommandConfig{Command: `echo x >> ` + log + `; [ "<F-USER>" = root ]`, CacheKey: tt.key, Now: clock.Now})
			calls := []struct {
				addr netip.Addr
				user string
				want bool
			}{{addr1, "root", true}, {addr1, "root", true}, {addr1, "bob", false}, {addr2, "root", true}}
			for _, call := range calls {
				got, err := c.IgnoredTags(ctx, call.addr, map[string]string{"F-USER": call.user})
				if err != nil {
					t.Fatal(err)
				}
				if tt.key == "" && got != call.want {
					t.Errorf("Ignored(%v, %s) = %v, want %v", call.addr, call.user, got, call.want)
				}
			}
			if n := runs(t, log); n != tt.runs {
				t.Errorf("%d runs, want %d", n, tt.runs)
			}
		})
	}
}

// TestCommandFlood checks that concurrent checks of one address run the
// command once.
func TestCommandFlood(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "runs")
	release := filepath.Join(dir, "release")
	check := script(t, dir, "check", `echo "$1" >> `+log+`
while [ ! -e `+release+` ]; do sleep 0.01; done
exit 0`)
	clock := testutil.NewClock(t0)
	c := newCommand(t, CommandConfig{Command: check + " <ip>", Now: clock.Now})
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if got, err := c.Ignored(context.Background(), addr1); !got || err != nil {
				t.Errorf("Ignored = %v, %v", got, err)
			}
		}()
	}
	// Let the first run start, then release it.
	deadline := time.Now().Add(10 * time.Second)
	for runs(t, log) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := os.WriteFile(release, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if n := runs(t, log); n != 1 {
		t.Errorf("%d runs for one address, want 1", n)
	}
}

func TestLRU(t *testing.T) {
	c := newLRU(2)
	c.put("a", true, t0.Add(time.Minute))
	c.put("b", false, t0.Add(time.Minute))
	if v, ok := c.get("a", t0); !ok || !v {
		t.Fatal("a missing")
	}
	c.put("c", true, t0.Add(time.Minute)) // evicts b, the least recently used
	if _, ok := c.get("b", t0); ok {
		t.Error("b not evicted")
	}
	if _, ok := c.get("a", t0.Add(time.Minute)); ok {
		t.Error("a not expired")
	}
	if c.len() != 1 {
		t.Errorf("len %d, want 1", c.len())
	}
	c.put("c", false, t0.Add(2*time.Minute))
	if v, ok := c.get("c", t0.Add(time.Minute)); !ok || v {
		t.Error("c not updated")
	}
}

func TestShellSafe(t *testing.T) {
	for _, s := range []string{"192.0.2.1", "2001:db8::1", "user@example.org", "a,b", "50%", "x-y"} {
		if !shellSafe(s) {
			t.Errorf("shellSafe(%q) = false", s)
		}
	}
	for _, s := range []string{"", "-n", "~root", "a b", "a;b", "$x", "a'b", "a\"b", "a\\b", "*", "a=b", "fe80::1%eth0;x", "\n", "ü"} {
		if shellSafe(s) {
			t.Errorf("shellSafe(%q) = true", s)
		}
	}
}
