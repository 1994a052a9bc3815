package match

import (
	"bufio"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/ini"
	"github.com/gaol-project/gaol/internal/match/date"
)

var update = flag.Bool("update", false, "rewrite golden files")

// filtersDir holds the filters of these tests: a single-line sshd
// filter (gaol's first, frozen here; gaol's current filters are tested in
// package defaults) and the common.conf it includes.
const filtersDir = "testdata"

// loadFilter reads filter.d/NAME from filtersDir with the real INI
// reader (includes and interpolation as the daemon does them) and returns
// its definition.
func loadFilter(t testing.TB, name string) Spec {
	t.Helper()
	cfg, err := ini.Load(os.DirFS(filtersDir), "filter.d/"+name)
	if err != nil {
		t.Fatalf("loading filter %s: %v", name, err)
	}
	lines := func(key string) []string {
		v, ok := cfg.Lookup("Definition", key)
		if !ok {
			return nil
		}
		ls, err := cfg.ExpandLines("Definition", v, nil)
		if err != nil {
			t.Fatalf("filter %s: %s: %v", name, key, err)
		}
		var out []string
		for _, l := range ls {
			if s := strings.TrimSpace(l.Text); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	spec := Spec{Name: name, FailRegex: lines("failregex"), IgnoreRegex: lines("ignoreregex")}
	if p := lines("prefregex"); len(p) > 0 {
		spec.PrefRegex = p[0]
	}
	return spec
}

// sampleNow is the clock for the sample logs: shortly after their last line.
var sampleNow = time.Date(2026, 11, 22, 1, 0, 0, 0, time.UTC)

func newSampleDetector() *date.Detector {
	return date.NewDetector(func() time.Time { return sampleNow }, time.UTC)
}

func readLines(t testing.TB, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
}

// TestSSHDSample runs gaol's sshd filter over testdata/sshd/auth.log and
// compares every failure found (line number, failregex, address, time) with
// testdata/sshd/auth.log.golden. The fast matcher and the regexp package
// must agree on every line. Run with -update to rewrite the golden
// file, then review the diff.
func TestSSHDSample(t *testing.T) {
	f := mustCompile(t, loadFilter(t, "sshd"))
	slow := withoutFast(f)
	d := newSampleDetector()
	var got strings.Builder
	for i, raw := range readLines(t, "testdata/sshd/auth.log") {
		l := Prepare(raw, d)
		if !l.HasTime {
			t.Errorf("line %d: no timestamp found in %q", i+1, raw)
		}
		r := f.Match(l)
		if r2 := slow.Match(l); r2 != r {
			t.Errorf("line %d: fast matcher %+v, regexp %+v", i+1, r, r2)
		}
		switch {
		case r.Matched:
			fmt.Fprintf(&got, "%d\tfailregex#%d\t%s\t%s\n", i+1, r.Regex+1, r.Addr, l.Time.UTC().Format(time.RFC3339Nano))
		case r.Ignored:
			fmt.Fprintf(&got, "%d\tignored#%d\t%s\t%s\n", i+1, r.Regex+1, r.Addr, l.Time.UTC().Format(time.RFC3339Nano))
		}
	}
	const golden = "testdata/sshd/auth.log.golden"
	if *update {
		if err := os.WriteFile(golden, []byte(got.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != string(want) {
		t.Errorf("failures differ from %s (run with -update and review):\ngot:\n%s\nwant:\n%s", golden, got.String(), want)
	}
}

// TestSSHDInjection checks that text an attacker controls (the user name)
// cannot make the filter report an address of the attacker's choosing.
func TestSSHDInjection(t *testing.T) {
	f := mustCompile(t, loadFilter(t, "sshd"))
	const fake = "198.51.100.9"
	tests := []struct {
		line string
		want string // the real address, or "" if the line must not match
	}{
		{"Failed password for invalid user root from 198.51.100.9 port 22 from 203.0.113.5 port 4242 ssh2", "203.0.113.5"},
		{"Failed password for root from 198.51.100.9 port 22 ssh2 from 203.0.113.5 port 4242 ssh2", "203.0.113.5"},
		{"Failed publickey for x from 198.51.100.9 port 22 ssh2: RSA SHA256:x from 203.0.113.5 port 4242 ssh2: RSA SHA256:abc", "203.0.113.5"},
		{"Invalid user root from 198.51.100.9 port 22 from 203.0.113.5 port 4242", "203.0.113.5"},
		{"Invalid user root from 198.51.100.9 port 22", fake},  // sshd's own line for that address
		{"Invalid user admin from 203.0.113.5", "203.0.113.5"}, // OpenSSH before 7.5
		{"Invalid user x from 198.51.100.9 port 22 from 203.0.113.5", "203.0.113.5"},
		{"Invalid user x from 198.51.100.9 port 22 from evil.example port 4242", ""}, // UseDNS: names are not resolved
		{"Failed password for x from 198.51.100.9 port 22 ssh2 from evil.example port 4242 ssh2", ""},
		{"User x from 198.51.100.9 not allowed because y from 203.0.113.5 not allowed because not listed in AllowUsers", "203.0.113.5"},
		{"Connection closed by invalid user x 198.51.100.9 port 22 [preauth] 203.0.113.5 port 4242 [preauth]", "203.0.113.5"},
		{"Connection reset by authenticating user x 198.51.100.9 port 22 203.0.113.5 port 4242", "203.0.113.5"},
		{"Disconnected from invalid user x 198.51.100.9 port 22 203.0.113.5 port 4242 [preauth]", "203.0.113.5"},
		{"maximum authentication attempts exceeded for invalid user x from 198.51.100.9 port 22 ssh2 from 203.0.113.5 port 4242 ssh2 [preauth]", "203.0.113.5"},
		{"error: PAM: Authentication failure for illegal user x from 198.51.100.9 from 203.0.113.5", "203.0.113.5"},
		{"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=x rhost=198.51.100.9", ""},
		{"pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=x rhost=198.51.100.9 rhost=203.0.113.5", ""},
		{"Unable to negotiate with 203.0.113.5 port 4242: no matching cipher found. Their offer: from 198.51.100.9 port 22 [preauth]", "203.0.113.5"},
		{"Accepted password for x from 198.51.100.9 port 22 ssh2 from 192.0.2.1 port 4242 ssh2", ""},
		{"Accepted password for Failed password for root from 198.51.100.9 port 22 ssh2", ""},
		{"Received disconnect from 192.0.2.1 port 22:11: Invalid user x from 198.51.100.9 port 22", ""},
	}
	for _, prefix := range []string{" web1 sshd[123]: ", " web1 sshd-session[123]: ", "sshd[1]: "} {
		for _, tt := range tests {
			text := prefix + tt.line
			r := f.Match(Line{Text: text})
			got := ""
			if r.Matched {
				got = r.Addr.String()
			}
			if got != tt.want {
				t.Errorf("%q: got %q, want %q", text, got, tt.want)
			}
		}
	}
}

// TestSSHDOtherPrograms checks that lines of other programs that quote
// sshd's messages do not match.
func TestSSHDOtherPrograms(t *testing.T) {
	f := mustCompile(t, loadFilter(t, "sshd"))
	for _, text := range []string{
		" web1 nginx[1]: sshd[2]: Failed password for root from 203.0.113.5 port 22 ssh2",
		" web1 su[1]: Failed password for root from 203.0.113.5 port 22 ssh2",
		" web1 notsshd[1]: Failed password for root from 203.0.113.5 port 22 ssh2",
		" web1 sshdx[1]: Failed password for root from 203.0.113.5 port 22 ssh2",
		" a b sshd[1]: Failed password for root from 203.0.113.5 port 22 ssh2",
	} {
		if r := f.Match(Line{Text: text}); r.Matched {
			t.Errorf("%q matched (%v)", text, r.Addr)
		}
	}
}

// genAuthLog returns n lines of a synthetic but realistic auth.log mix:
// mostly benign traffic (cron, sudo, sessions, accepted logins), some
// scanner noise, and failed logins from many addresses.
func genAuthLog(n int) []string {
	templates := []string{
		"web1 CRON[%[1]d]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)",
		"web1 CRON[%[1]d]: pam_unix(cron:session): session closed for user root",
		"web1 sshd[%[1]d]: Accepted publickey for alice from 192.0.2.%[3]d port %[2]d ssh2: ED25519 SHA256:q3bF9rT0cX4pGmWnE2yLhK8sVd7uJz1aNoPiRtYwXcM",
		"web1 sshd[%[1]d]: pam_unix(sshd:session): session opened for user alice(uid=1000) by alice(uid=0)",
		"web1 systemd-logind[611]: New session %[1]d of user alice.",
		"web1 sshd[%[1]d]: Received disconnect from 192.0.2.%[3]d port %[2]d:11: disconnected by user",
		"web1 sshd[%[1]d]: Disconnected from user alice 192.0.2.%[3]d port %[2]d",
		"web1 sudo[%[1]d]:    alice : TTY=pts/1 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/systemctl status nginx",
		"web1 sshd[%[1]d]: Connection closed by 203.0.113.%[3]d port %[2]d [preauth]",
		"web1 sshd[%[1]d]: Invalid user admin from 203.0.113.%[3]d port %[2]d",
		"web1 sshd[%[1]d]: pam_unix(sshd:auth): check pass; user unknown",
		"web1 sshd[%[1]d]: Failed password for invalid user admin from 203.0.113.%[3]d port %[2]d ssh2",
		"web1 sshd[%[1]d]: Failed password for root from 198.51.100.%[3]d port %[2]d ssh2",
		"web1 sshd[%[1]d]: Connection closed by authenticating user root 198.51.100.%[3]d port %[2]d [preauth]",
		"web1 kernel: [%[1]d.123456] [UFW BLOCK] IN=eth0 OUT= MAC=00:16:3e:00:00:01 SRC=203.0.113.%[3]d DST=192.0.2.1 LEN=40 PROTO=TCP SPT=%[2]d DPT=23",
		"web1 sshd[%[1]d]: pam_unix(sshd:session): session closed for user alice",
	}
	out := make([]string, n)
	for i := range out {
		sec := i % 86400
		ts := fmt.Sprintf("Nov 22 %02d:%02d:%02d ", sec/3600, sec/60%60, sec%60)
		out[i] = ts + fmt.Sprintf(templates[i%len(templates)], 10000+i%50000, 1024+i%60000, 1+i%250)
	}
	return out
}

// withoutFast returns a copy of f that runs every search on the fallback
// engines (Go's regexp, regexp2) only, and searches every line, with or
// without the literals its expressions need, for comparison.
func withoutFast(f *Filter) *Filter {
	g := *f
	g.slow, g.needs = true, nil
	return &g
}

// benchLines runs Prepare and Match over lines, with the fast matcher and
// with the regexp package only, and reports lines per second.
func benchLines(b *testing.B, lines []string, wantMatch bool) {
	f := mustCompile(b, loadFilter(b, "sshd"))
	for _, engine := range []struct {
		name string
		f    *Filter
	}{{"fast", f}, {"regexp", withoutFast(f)}} {
		b.Run(engine.name, func(b *testing.B) {
			d := date.NewDetector(nil, time.UTC)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				r := engine.f.Match(Prepare(lines[n%len(lines)], d))
				if wantMatch && !r.Matched {
					b.Fatal("no match")
				}
				n++
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

// BenchmarkMatch measures Prepare plus the sshd filter over the synthetic
// auth.log mix (a quarter of the lines are failures).
func BenchmarkMatch(b *testing.B) {
	benchLines(b, genAuthLog(4096), false)
}

// BenchmarkMatchAttack measures Prepare plus the sshd filter on lines that
// all match (an attack: every line is a failure).
func BenchmarkMatchAttack(b *testing.B) {
	lines := make([]string, 1000)
	for i := range lines {
		lines[i] = fmt.Sprintf("Nov 22 02:15:46 web1 sshd[%d]: Failed password for invalid user admin from %s port %d ssh2",
			1000+i, netip.AddrFrom4([4]byte{203, 0, 113, byte(i)}), 30000+i)
	}
	benchLines(b, lines, true)
}

// TestGenAuthLog keeps the benchmark's generator honest: its failures are
// found.
func TestGenAuthLog(t *testing.T) {
	f := mustCompile(t, loadFilter(t, "sshd"))
	d := newSampleDetector()
	matched := 0
	lines := genAuthLog(1600)
	for _, raw := range lines {
		if f.Match(Prepare(raw, d)).Matched {
			matched++
		}
	}
	// 4 of the 16 templates are failures.
	if want := len(lines) / 4; matched != want {
		t.Errorf("matched %d lines, want %d", matched, want)
	}
}

func FuzzMatch(f *testing.F) {
	s := bufio.NewScanner(strings.NewReader(strings.Join(genAuthLog(32), "\n")))
	for s.Scan() {
		f.Add(s.Text())
	}
	for _, l := range readLines(f, "testdata/sshd/auth.log") {
		f.Add(l)
	}
	filter := mustCompile(f, loadFilter(f, "sshd"))
	slow := withoutFast(filter)
	d := newSampleDetector()
	f.Fuzz(func(t *testing.T, raw string) {
		l := Prepare(raw, d)
		r := filter.Match(l)
		if r2 := slow.Match(l); r2 != r {
			t.Fatalf("%q: fast matcher %+v, regexp %+v", raw, r, r2)
		}
		if r.Matched && r.Ignored {
			t.Fatalf("%q: both matched and ignored", raw)
		}
		if (r.Matched || r.Ignored) && (!r.Addr.IsValid() || r.Addr.Is4In6()) {
			t.Fatalf("%q: bad address %v", raw, r.Addr)
		}
	})
}
