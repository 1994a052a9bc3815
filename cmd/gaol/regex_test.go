package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/testutil/authlog"
	"github.com/gaol-project/gaol/internal/testutil/f2btree"
)

// timeLineRE finds the summary's timing, which goldens cannot hold.
var timeLineRE = regexp.MustCompile(`(?m)^Time: .*$`)

func maskTime(s string) string { return timeLineRE.ReplaceAllString(s, "Time: (masked)") }

func TestRegexGolden(t *testing.T) {
	const conf = "testdata/regex/conf"
	const log = "testdata/regex/auth.log"
	now := []string{"--now", "2026-11-30 12:00:00"}
	tests := []struct {
		golden string
		tz     string // TZ; "" is UTC
		args   []string
		stderr string // what the standard error must hold; "": nothing
	}{
		{golden: "summary.txt", args: []string{"--config", conf, log, "myapp"}},
		{golden: "json.txt", args: []string{"--config", conf, "--json", log, "myapp"}},
		{golden: "ip.txt", args: []string{"--config", conf, "-o", "ip", log, "myapp"}},
		{golden: "user.txt", args: []string{"--config", conf, "-o", "user", log, "myapp"}},
		{golden: "msg.txt", args: []string{"--config", conf, "--out", "msg", log, "myapp"}},
		{golden: "print-all.txt", args: []string{"--config", conf, "--print-all-matched", "--print-all-missed", "--print-all-ignored", log, "myapp"}},
		{golden: "print-no.txt", args: []string{"--config", conf, "--print-no-missed", "--print-no-ignored", log, "myapp"}},
		{golden: "options.txt", args: []string{"--config", conf, log, "myapp[mode=strict]"}},
		{golden: "path.txt", args: []string{"--print-all-ignored", log, "testdata/regex/filters/standalone.conf"}},
		{golden: "path-noext.txt", args: []string{"-o", "ip", log, "testdata/regex/filters/standalone"}},
		{golden: "literal-line.txt", args: []string{"--config", conf, "--json", "Nov 30 00:00:01 web1 myapp[1]: login failed for bob from 192.0.2.9", "myapp"}},
		{golden: "literal-lines.txt", args: []string{"--config", conf, "--json", "Nov 30 00:00:01 web1 myapp[1]: login failed for bob from 192.0.2.9\n# comment\nNov 30 00:00:02 web1 myapp[1]: hello", "myapp"}},
		{golden: "literal-regex.txt", args: []string{log, `login failed for <F-USER>\S+</F-USER> from <HOST>$`}},
		{golden: "literal-regex-json.txt", args: []string{"--json", log, `login failed for <F-USER>\S+</F-USER> from <HOST>$`}},
		{golden: "ignore-literal.txt", args: []string{"--config", conf, log, "myapp", `from 198\.51\.100\.3 `}},
		{golden: "ignore-filter.txt", args: []string{"--config", conf, log, "myapp", "trusted"}},
		{golden: "ignore-bracket.txt", args: []string{"--config", conf, "-o", "ip", log, "myapp", "fran[k]"}},
		{golden: "session.txt", args: []string{"--config", conf, "--print-all-matched", "testdata/regex/session.log", "session"}},
		{golden: "session.json", args: []string{"--config", conf, "--json", "--workers", "2", "testdata/regex/session.log", "session"}},
		{golden: "session-ip.txt", args: []string{"--config", conf, "-o", "ip", "testdata/regex/session.log", "session"}},
		{golden: "twoline.txt", args: []string{"--config", conf, "--print-all-matched", "testdata/regex/twoline.log", "twoline"}},
		{golden: "twoline-maxlines1.txt", args: []string{"--config", conf, "-L", "1", "testdata/regex/twoline.log", "twoline"}},
		{golden: "isodate.json", tz: "CET-01CEST-02,M3.5.0,M10.5.0", args: []string{"--config", conf, "--json", "testdata/regex/isodate.log", "isodate"}},
		{golden: "isodate-utc.json", args: []string{"--config", conf, "--json", "testdata/regex/isodate.log", "isodate"}},
		{golden: "timezone.json", tz: "CET-01CEST-02,M3.5.0,M10.5.0", args: []string{"--config", conf, "--json", "--timezone", "UTC+0300", "testdata/regex/isodate.log", "isodate"}},
		{golden: "datepattern.json", args: []string{"--config", conf, "--json", "-d", "^%d/%m/%Y %H:%M:%S", "testdata/regex/otherdate.log", "myapp"}},
		{golden: "datepattern-summary.txt", args: []string{"--config", conf, "--datepattern", "^%d/%m/%Y %H:%M:%S", "testdata/regex/otherdate.log", "myapp"}},
		{golden: "now-last-year.json", args: []string{"--config", conf, "--json", "--now", "2026-06-01T00:00:00+02:00", log, "myapp"}},
		{golden: "usedns-yes.txt", args: []string{"-o", "ip", "--usedns", "yes", "Nov 30 00:00:01 web1 app: denied host.example", "denied <HOST>$"}},
		{golden: "usedns-no.txt", args: []string{"-o", "ip", "--usedns", "no", "Nov 30 00:00:01 web1 app: denied host.example", "denied <HOST>$"}},
		{golden: "usedns-raw.txt", args: []string{"-o", "ip", "--usedns", "raw", "Nov 30 00:00:01 web1 app: denied host.example", "denied <HOST>$"}},
		{golden: "usedns-ip.txt", args: []string{"-o", "ip", useDNSLog, "denied <HOST>$"}, stderr: useDNSWarning},
		{golden: "usedns-summary.txt", args: []string{"--print-all-missed", useDNSLog, "denied <HOST>$"}, stderr: useDNSWarning},
		{golden: "usedns.json", args: []string{"--json", useDNSLog, "denied <HOST>$"}, stderr: useDNSWarning},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			tz := tt.tz
			if tz == "" {
				tz = "UTC"
			}
			t.Setenv("TZ", tz)
			args := append([]string{"regex"}, tt.args...)
			if !hasFlag(tt.args, "--now") {
				args = append(args[:1], append(now, args[1:]...)...)
			}
			out, errOut, err := runOut(t, args...)
			if err != nil {
				t.Fatalf("%v\n%s", err, errOut)
			}
			if tt.stderr == "" && errOut != "" || !strings.Contains(errOut, tt.stderr) {
				t.Errorf("standard error: %q, want %q", errOut, tt.stderr)
			}
			golden(t, filepath.Join("regex", tt.golden), maskTime(out))
		})
	}
}

// useDNSLog names hosts: one that resolves to an IPv4 and an IPv6 address
// (twice), one that does not resolve, and an address.
const useDNSLog = "Nov 30 00:00:01 web1 app: denied attacker.example\n" +
	"Nov 30 00:00:02 web1 app: denied attacker.example\n" +
	"Nov 30 00:00:03 web1 app: denied gone.example\n" +
	"Nov 30 00:00:04 web1 app: denied 203.0.113.4"

const useDNSWarning = "warning: unable to find a corresponding IP address for gone.example: lookup gone.example: no such host\n"

func hasFlag(args []string, name string) bool {
	for _, a := range args {
		if a == name || strings.HasPrefix(a, name+"=") {
			return true
		}
	}
	return false
}

// TestRegexEmbedded runs gaol's own sshd filter by name, which the other
// tests avoid for their goldens (the embedded filters change).
func TestRegexEmbedded(t *testing.T) {
	t.Setenv("TZ", "UTC")
	line := "Nov 30 10:00:00 web1 sshd[42]: Failed password for invalid user admin from 2001:db8::5 port 40000 ssh2"
	out, _, err := runOut(t, "regex", "-o", "ip", line, "sshd")
	if err != nil {
		t.Fatal(err)
	}
	if out != "2001:db8::5\n" {
		t.Errorf("-o ip: %q", out)
	}
	out, _, err = runOut(t, "regex", line, "sshd")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Filter        sshd (embedded:filter.d/sshd.conf)", "Lines: 1 line, 1 matched, 0 ignored, 0 missed", "RE2"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}

// TestRegexStdin reads LOG from the standard input.
func TestRegexStdin(t *testing.T) {
	t.Setenv("TZ", "UTC")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdin
	os.Stdin = r
	t.Cleanup(func() { os.Stdin = old; r.Close() })
	data, err := os.ReadFile("testdata/regex/auth.log")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		w.Write(data)
		w.Close()
	}()
	out, _, err := runOut(t, "regex", "--config", "testdata/regex/conf", "-o", "ip", "-", "myapp")
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/regex/ip.txt")
	if err != nil {
		t.Fatal(err)
	}
	if out != string(want) {
		t.Errorf("got %q, want %q", out, want)
	}
}

// TestRegexBlocks checks that a log read in many blocks by several
// workers gives what one block gives, for every way of matching.
func TestRegexBlocks(t *testing.T) {
	t.Setenv("TZ", "UTC")
	var b bytes.Buffer
	authlog.Write(&b, 30000, 7)
	path := filepath.Join(t.TempDir(), "auth.log")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if b.Len() < 2*regexBlockSize {
		t.Fatalf("the log (%d bytes) fills fewer than 2 blocks", b.Len())
	}
	filters := []string{
		"sshd", // stateless
		`(?:Failed password for|Invalid user) (?:invalid user )?<F-USER>\S+</F-USER> from <HOST>`, // stateless
		"testdata/regex/conf/filter.d/sshmlfid.conf",                                              // <F-MLFID>
	}
	// Lines without a date take the previous line's when it is recent:
	// across blocks too.
	var c bytes.Buffer
	for i := 0; c.Len() < 3*regexBlockSize; i++ {
		if i%3 == 0 {
			fmt.Fprintf(&c, "2026-03-05T00:00:%02d client 192.0.2.%d denied\n", i%60, i%200+1)
		} else {
			fmt.Fprintf(&c, "client 198.51.100.%d denied by the rules of the house, which are long\n", i%200+1)
		}
	}
	carry := filepath.Join(t.TempDir(), "carry.log")
	if err := os.WriteFile(carry, c.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	type run struct{ log, filter string }
	var runs []run
	for _, f := range filters {
		runs = append(runs, run{path, f})
	}
	runs = append(runs, run{carry, `client <HOST> denied`})
	for _, rn := range runs {
		path, f := rn.log, rn.filter
		for _, mode := range [][]string{{"-o", "ip"}, {"--json"}} {
			var outs []string
			for _, workers := range []string{"1", "3"} {
				args := append([]string{"regex", "--now", "2026-03-05 00:00:30", "--workers", workers}, mode...)
				out, _, err := runOut(t, append(args, path, f)...)
				if err != nil {
					t.Fatal(err)
				}
				outs = append(outs, out)
			}
			if outs[0] != outs[1] {
				t.Errorf("filter %.30q %v: 1 and 3 workers differ", f, mode)
			}
			if strings.Count(outs[0], "\n") < 1000 {
				t.Errorf("filter %.30q %v: only %d lines of output", f, mode, strings.Count(outs[0], "\n"))
			}
		}
	}
}

func TestRegexErrors(t *testing.T) {
	t.Setenv("TZ", "UTC")
	const conf = "testdata/regex/conf"
	const log = "testdata/regex/auth.log"
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no arguments", nil, 2, []string{"usage: gaol regex"}},
		{"one argument", []string{log}, 2, []string{"usage: gaol regex"}},
		{"four arguments", []string{log, "a", "b", "c"}, 2, []string{"usage: gaol regex"}},
		{"missing log file", []string{"testdata/regex/nosuch.log", "sshd"}, 1, []string{`LOG "testdata/regex/nosuch.log": no such file`, "only if it has a space"}},
		{"log directory", []string{"testdata/regex", "sshd"}, 1, []string{"testdata/regex is a directory"}},
		{"unknown filter", []string{log, "nosuch"}, 1, []string{`unknown filter: filter "nosuch" not found (looked in the embedded filter.d)`, "<HOST>"}},
		{"unknown filter with config", []string{"--config", conf, log, "nosuch[mode=x]"}, 1, []string{"looked in testdata/regex/conf/filter.d and the embedded filter.d"}},
		{"missing filter file", []string{log, "testdata/regex/filters/nosuch.conf"}, 1, []string{"unknown filter: filter file testdata/regex/filters/nosuch.conf"}},
		{"config not a directory", []string{"--config", log, log, "sshd"}, 1, []string{"not a directory"}},
		{"bad regex", []string{log, `failed from (<HOST>`}, 1, []string{`regex: failregex #1 "failed from (<HOST>": missing )`}},
		{"regex without address", []string{log, "login failed"}, 1, []string{"no address group"}},
		{"bad filter file", []string{"--config", conf, log, "bad"}, 1, []string{`testdata/regex/conf/filter.d/bad.conf:4: filter "bad": failregex #2 "^broken (<HOST>$": missing )`}},
		{"bad ignoreregex", []string{log, "from <HOST>", "(unclosed"}, 1, []string{"ignoreregex #1", "missing )"}},
		{"bad options", []string{"--config", conf, log, "myapp[mode]"}, 1, []string{"expected key=value"}},
		{"bad now", []string{"--now", "yesterday", log, "sshd"}, 2, []string{`--now: "yesterday" is neither RFC 3339`}},
		{"bad usedns", []string{"--usedns", "maybe", log, "sshd"}, 1, []string{`usedns "maybe"`}},
		{"bad datepattern", []string{"--datepattern", "%Q(", log, "sshd"}, 1, []string{"datepattern"}},
		{"bad timezone", []string{"--timezone", "Mars/Olympus", log, "sshd"}, 1, []string{"Mars/Olympus"}},
		{"json and out", []string{"--json", "-o", "ip", log, "sshd"}, 2, []string{"exclude each other"}},
		{"print all and no", []string{"--print-all-missed", "--print-no-missed", log, "sshd"}, 2, []string{"exclude each other"}},
		{"bad out", []string{"-o", "a b", log, "sshd"}, 2, []string{`-o "a b"`}},
		{"bad maxlines", []string{"--maxlines", "-2", log, "sshd"}, 2, []string{"--maxlines -2"}},
		{"unknown flag", []string{"--nosuch", log, "sshd"}, 2, []string{"flag provided but not defined"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, err := runOut(t, append([]string{"regex"}, tt.args...)...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if got := exitCode(err); got != tt.code {
				t.Errorf("exit code %d, want %d (%v)", got, tt.code, err)
			}
			msg := err.Error() + "\n" + errOut
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

func TestRegexHelp(t *testing.T) {
	out, _, err := runOut(t, "regex", "--help")
	if exitCode(err) != 0 {
		t.Fatalf("exit code %d: %v", exitCode(err), err)
	}
	for _, want := range []string{"usage: gaol regex", "-print-all-missed", "POSIX rule"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

func TestEnvZone(t *testing.T) {
	jan := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
	jul := time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		tz        string
		unset     bool
		jan, jul  int // offsets east of UTC, in hours
		loc       *time.Location
		wantWarn  bool
		minutesOf int // extra minutes of the offsets
	}{
		{unset: true, loc: time.Local},
		{tz: "", jan: 0, jul: 0},
		{tz: "UTC", jan: 0, jul: 0},
		{tz: ":UTC", jan: 0, jul: 0},
		{tz: "UTC0", jan: 0, jul: 0},
		{tz: "CET-01CEST-02,M3.5.0,M10.5.0", jan: 1, jul: 2},
		{tz: "CET-1CEST,M3.5.0,M10.5.0/3", jan: 1, jul: 2},
		{tz: "EST5EDT,M3.2.0,M11.1.0", jan: -5, jul: -4},
		{tz: "<-03>3", jan: -3, jul: -3},
		{tz: "AEST-10AEDT,M10.1.0,M4.1.0/3", jan: 11, jul: 10},
		{tz: "<+0330>-3:30", jan: 3, jul: 3, minutesOf: 30},
		{tz: "not a zone!", wantWarn: true, jan: 0, jul: 0},
		{tz: "CET-01CEST-02,M13.5.0,M10.5.0", wantWarn: true, jan: 0, jul: 0},
	}
	for _, tt := range tests {
		lookup := func(string) (string, bool) { return tt.tz, !tt.unset }
		loc, warn := envZone(lookup)
		if (warn != nil) != tt.wantWarn {
			t.Errorf("TZ=%q: warning %v", tt.tz, warn)
		}
		if tt.loc != nil {
			if loc != tt.loc {
				t.Errorf("TZ unset: %v, want %v", loc, tt.loc)
			}
			continue
		}
		for _, c := range []struct {
			at    time.Time
			hours int
		}{{jan, tt.jan}, {jul, tt.jul}} {
			_, off := c.at.In(loc).Zone()
			want := c.hours*3600 + tt.minutesOf*60
			if off != want {
				t.Errorf("TZ=%q at %s: offset %ds, want %ds", tt.tz, c.at.Format(time.DateOnly), off, want)
			}
		}
	}
	// Go's time package does not read POSIX rules itself: this is why
	// envZone does.
	if _, err := time.LoadLocation("CET-01CEST-02,M3.5.0,M10.5.0"); err == nil {
		t.Log("time.LoadLocation reads POSIX TZ rules now; envZone could use it")
	}
}

func TestCheckPosixTZ(t *testing.T) {
	good := []string{"UTC0", "EST5", "EST5EDT", "EST+5EDT+4,M3.2.0/2,M11.1.0/2", "CET-1CEST,M3.5.0,M10.5.0/3", "<+0330>-3:30", "IST-5:30", "WART4WARST,J1/0,J365/25", "XXX-1YYY,0,365"}
	bad := []string{"", "CE", "CET", "CET-", "CET-1C", "CET-1CEST,M3.5.0", "CET-1CEST,M0.5.0,M10.5.0", "CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,M3.5.7,M10.5.0", "CET-25", "CET-1:60", "<AB>1", "CET-1CEST,J0,J365", "CET-1 "}
	for _, s := range good {
		if _, _, err := checkPosixTZ(s); err != nil {
			t.Errorf("%q: %v", s, err)
		}
	}
	for _, s := range bad {
		if _, _, err := checkPosixTZ(s); err == nil {
			t.Errorf("%q: no error", s)
		}
	}
}

// TestRegexAgainstFail2ban runs fail2ban's own fail2ban-regex and
// `gaol regex` on the same generated auth.log with fail2ban's stock sshd
// filter, and compares the failures per address and the line counts.
func TestRegexAgainstFail2ban(t *testing.T) {
	if testing.Short() {
		t.Skip("runs fail2ban-regex")
	}
	const python = "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("fail2ban-regex needs %s: %v", python, err)
		}
		t.Skipf("fail2ban-regex needs %s: %v", python, err)
	}
	tree := f2btree.Get(t)
	t.Setenv("TZ", "UTC")
	dir := t.TempDir()
	logPath := filepath.Join(dir, "auth.log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	bw := bufio.NewWriter(f)
	authlog.Write(bw, 2000, 1)
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	filter := filepath.Join(tree.Etc(), "filter.d", "sshd.conf")
	f2b := func(args ...string) string {
		cmd := exec.Command(python, append([]string{filepath.Join(tree.Root, "usr", "bin", "fail2ban-regex")}, args...)...)
		cmd.Env = append(os.Environ(), "PYTHONPATH="+tree.PythonPath(), "TZ=UTC")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("fail2ban-regex %v: %v\n%s", args, err, stderr.Bytes())
		}
		return string(out)
	}
	gaol := func(args ...string) string {
		out, errOut, err := runOut(t, append([]string{"regex"}, args...)...)
		if err != nil {
			t.Fatalf("gaol regex %v: %v\n%s", args, err, errOut)
		}
		return out
	}
	for _, mode := range []string{"normal", "aggressive"} {
		spec := filter + "[mode=" + mode + "]"
		want, got := countLines(f2b("-o", "ip", logPath, spec)), countLines(gaol("-o", "ip", logPath, spec))
		if len(want) == 0 {
			t.Fatalf("mode %s: fail2ban-regex found no failure", mode)
		}
		total := 0
		for a, n := range want {
			total += n
			if got[a] != n {
				t.Errorf("mode %s: %s: gaol %d failures, fail2ban %d", mode, a, got[a], n)
			}
		}
		for a, n := range got {
			if _, ok := want[a]; !ok {
				t.Errorf("mode %s: %s: gaol %d failures, fail2ban none", mode, a, n)
			}
		}
		t.Logf("mode %s: %d failures from %d addresses, the same", mode, total, len(want))

		// The summaries count the same lines.
		f2bLines := regexp.MustCompile(`Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed`).FindStringSubmatch(f2b(logPath, spec))
		gaolLines := regexp.MustCompile(`Lines: ([\d,]+) lines, ([\d,]+) matched, ([\d,]+) ignored, ([\d,]+) missed`).FindStringSubmatch(gaol(logPath, spec))
		if f2bLines == nil || gaolLines == nil {
			t.Fatalf("mode %s: no Lines: in the summaries", mode)
		}
		unsep := func(s string) string { return strings.ReplaceAll(s, ",", "") }
		if w, g := fmt.Sprintf("%s %s %s %s", f2bLines[1], f2bLines[3], f2bLines[2], f2bLines[4]),
			unsep(fmt.Sprintf("%s %s %s %s", gaolLines[1], gaolLines[2], gaolLines[3], gaolLines[4])); w != g {
			t.Errorf("mode %s: lines, matched, ignored, missed: gaol %s, fail2ban %s", mode, g, w)
		}
	}
}

// countLines counts the lines of out by content.
func countLines(out string) map[string]int {
	m := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			m[l]++
		}
	}
	return m
}

// TestReadRegexBlocks cuts logs into lines: the last line may lack its
// "\n", and a line longer than a block is cut.
func TestReadRegexBlocks(t *testing.T) {
	long := strings.Repeat("x", regexBlockSize+10)
	tests := []struct {
		name, in string
		want     []string
	}{
		{"empty", "", nil},
		{"one line", "a\n", []string{"a"}},
		{"no final newline", "a\nb", []string{"a", "b"}},
		{"crlf kept for the matcher", "a\r\nb\r\n", []string{"a\r", "b\r"}},
		{"empty lines", "\n\na\n", []string{"", "", "a"}},
		{"long line", "a\n" + long + "\nb\n", []string{"a", long[:regexBlockSize], long[regexBlockSize:], "b"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			work := make(chan *regexBlock, 100)
			ordered := make(chan *regexBlock, 100)
			in := &regexLog{name: "test", r: strings.NewReader(tt.in)}
			if err := readRegexBlocks(t.Context(), in, work, ordered); err != nil {
				t.Fatal(err)
			}
			close(ordered)
			var got []string
			next := 1
			for b := range ordered {
				if b.first != next {
					t.Errorf("block starts at line %d, want %d", b.first, next)
				}
				next += len(b.lines)
				got = append(got, b.lines...)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d lines, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("line %d: %.20q (%d bytes), want %.20q (%d bytes)", i+1, got[i], len(got[i]), tt.want[i], len(tt.want[i]))
				}
			}
		})
	}
}

// FuzzCheckPosixTZ: the POSIX TZ parser never panics, and what it accepts
// loads as a zone whose standard offset it found.
func FuzzCheckPosixTZ(f *testing.F) {
	for _, s := range []string{"UTC0", "CET-1CEST,M3.5.0,M10.5.0/3", "<+0330>-3:30", "EST5EDT", "WART4WARST,J1/0,J365/25", "CET-01CEST-02,M3.5.0,M10.5.0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		name, off, err := checkPosixTZ(s)
		if err != nil {
			return
		}
		if len(name) < 3 || off < -25*3600 || off > 25*3600 {
			t.Fatalf("%q: name %q offset %d", s, name, off)
		}
		loc, err := posixZone(s)
		if err != nil {
			t.Fatalf("%q accepted, but: %v", s, err)
		}
		time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).In(loc).Zone()
	})
}

// fakeHosts resolves host names from a table (documentation addresses
// only) and counts lookups; other names do not resolve.
type fakeHosts struct {
	mu    sync.Mutex
	names map[string][]netip.Addr
	calls map[string]int
}

func (f *fakeHosts) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.calls == nil {
		f.calls = map[string]int{}
	}
	f.calls[host]++
	if a, ok := f.names[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

func (f *fakeHosts) lookups(host string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[host]
}

// testHosts is the resolver of every test of this package (TestMain).
var testHosts = &fakeHosts{names: map[string][]netip.Addr{
	"attacker.example": {netip.MustParseAddr("2001:db8::50"), netip.MustParseAddr("192.0.2.50"), netip.MustParseAddr("::ffff:192.0.2.50")},
	"host.example":     {netip.MustParseAddr("198.51.100.80")},
}}

// withHosts makes f the resolver of the test.
func withHosts(t *testing.T, f *fakeHosts) {
	t.Helper()
	old := hostLookup
	hostLookup = f
	t.Cleanup(func() { hostLookup = old })
}

// TestRegexUseDNS: under usedns = yes or warn, a failure that names a host
// counts for each of its addresses whatever way the filter is matched
// (line by line, <F-MLFID> connections, several lines); each name is looked
// up once, a name that does not resolve is reported once, and an <F-ID> is
// never looked up.
func TestRegexUseDNS(t *testing.T) {
	t.Setenv("TZ", "UTC")
	dir := t.TempDir()
	lines := func(ls ...string) string {
		var b strings.Builder
		for i, l := range ls {
			fmt.Fprintf(&b, "Nov 30 00:00:%02d web1 %s\n", i, l)
		}
		return b.String()
	}
	tests := []struct {
		name    string
		log     string
		filter  string
		args    []string
		want    string
		lookups map[string]int
		stderr  string
	}{
		{
			name:    "line by line",
			log:     lines("app: denied attacker.example", "app: denied gone.example", "app: denied attacker.example", "app: denied gone.example"),
			filter:  `app: denied <HOST>$`,
			want:    "192.0.2.50\n2001:db8::50\n192.0.2.50\n2001:db8::50\n",
			lookups: map[string]int{"attacker.example": 1, "gone.example": 1},
			stderr:  "warning: unable to find a corresponding IP address for gone.example: lookup gone.example: no such host\n",
		},
		{
			name:    "usedns = yes, one worker",
			log:     lines("app: denied attacker.example", "app: denied attacker.example"),
			filter:  `app: denied <HOST>$`,
			args:    []string{"--usedns", "yes", "--workers", "1"},
			want:    "192.0.2.50\n2001:db8::50\n192.0.2.50\n2001:db8::50\n",
			lookups: map[string]int{"attacker.example": 1},
		},
		{
			name:    "connections",
			log:     lines("sshd[5]: Invalid user bob from attacker.example", "sshd[5]: Failed password for bob", "sshd[6]: Invalid user eve from 198.51.100.6", "sshd[6]: Failed password for eve"),
			filter:  "testdata/regex/conf/filter.d/sshmlfid.conf",
			want:    "192.0.2.50\n2001:db8::50\n198.51.100.6\n",
			lookups: map[string]int{"attacker.example": 1},
		},
		{
			name:    "several lines",
			log:     lines("twoline[3]: request from attacker.example", "twoline[3]: denied", "twoline[3]: request from host.example", "twoline[3]: allowed"),
			filter:  "testdata/regex/conf/filter.d/twoline.conf",
			want:    "192.0.2.50\n2001:db8::50\n",
			lookups: map[string]int{"attacker.example": 1},
		},
		{
			name:    "no",
			log:     lines("app: denied attacker.example"),
			filter:  `app: denied <HOST>$`,
			args:    []string{"--usedns", "no"},
			lookups: map[string]int{"attacker.example": 0},
		},
		{
			name:    "raw",
			log:     lines("app: denied attacker.example"),
			filter:  `app: denied <HOST>$`,
			args:    []string{"--usedns", "raw"},
			want:    "attacker.example\n",
			lookups: map[string]int{"attacker.example": 0},
		},
		{
			name:    "failure id",
			log:     lines("app: bad token attacker.example"),
			filter:  `app: bad token <F-ID>\S+</F-ID>$`,
			want:    "attacker.example\n",
			lookups: map[string]int{"attacker.example": 0},
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hosts := &fakeHosts{names: testHosts.names}
			withHosts(t, hosts)
			log := filepath.Join(dir, fmt.Sprintf("%d.log", i))
			if err := os.WriteFile(log, []byte(tt.log), 0o644); err != nil {
				t.Fatal(err)
			}
			args := append([]string{"regex", "--now", "2026-11-30 12:00:00", "-o", "ip"}, tt.args...)
			out, errOut, err := runOut(t, append(args, log, tt.filter)...)
			if err != nil {
				t.Fatal(err)
			}
			if out != tt.want {
				t.Errorf("-o ip: %q, want %q", out, tt.want)
			}
			if errOut != tt.stderr {
				t.Errorf("standard error: %q, want %q", errOut, tt.stderr)
			}
			for name, n := range tt.lookups {
				if got := hosts.lookups(name); got != n {
					t.Errorf("%s looked up %d times, want %d", name, got, n)
				}
			}
		})
	}
}

// TestTrimEOL checks trimEOL against strings.TrimRight(s, "\r\n").
func TestTrimEOL(t *testing.T) {
	for _, s := range []string{"", "\n", "\r\n", "a", "a\n", "a\r\n", "a\n\r\n", "a\rb\n", "\r", "é\r\r"} {
		if got, want := trimEOL(s), strings.TrimRight(s, "\r\n"); got != want {
			t.Errorf("trimEOL(%q) = %q, want %q", s, got, want)
		}
	}
}
