package match

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// matcherCase is a filter, lines, and what fail2ban 1.0.2's Filter reported
// for each line (checked with fail2ban itself, with checkAllRegex off and
// on): per failure "regex host user users nofail|fail attempts", "-" for
// none, failures separated by " | ".
type matcherCase struct {
	name  string
	spec  Spec
	lines []string
	first []string // CheckAll off (the daemon)
	all   []string // CheckAll on (fail2ban-regex, fail2ban's tests)
}

var matcherCases = []matcherCase{
	{
		name: "connection state",
		spec: Spec{
			PrefRegex: `^<F-MLFID>srv\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$`,
			FailRegex: []string{
				`^<F-NOFAIL>connect</F-NOFAIL> from <HOST>$`,
				`^auth failed for <F-USER>\S+</F-USER>$`,
				`^<F-MLFFORGET>disconnect</F-MLFFORGET>$`,
				`^<F-MLFGAINED>accepted</F-MLFGAINED> <F-USER>\S+</F-USER>$`,
			},
		},
		lines: []string{
			"srv[1]: connect from 192.0.2.5", "srv[1]: auth failed for root", "srv[2]: auth failed for bob",
			"srv[1]: auth failed for admin", "srv[2]: connect from 192.0.2.6", "srv[1]: disconnect",
			"srv[1]: auth failed for x", "srv[3]: connect from 192.0.2.7", "srv[3]: auth failed for alice",
			"srv[3]: accepted alice", "srv[3]: disconnect",
		},
		first: []string{
			"",
			"1 192.0.2.5 root root fail 2",
			"",
			"1 192.0.2.5 admin admin,root fail 1",
			"0 192.0.2.6 bob bob fail 2",
			"2 192.0.2.5 admin admin,root fail 1",
			"",
			"",
			"1 192.0.2.7 alice alice fail 2",
			"",
			"2 192.0.2.7 alice alice fail 2",
		},
		all: []string{
			"0 192.0.2.5 - - nofail 0",
			"1 192.0.2.5 root root fail 2",
			"1 - bob bob fail 1",
			"1 192.0.2.5 admin admin,root fail 1",
			"0 192.0.2.6 bob bob fail 2",
			"2 192.0.2.5 admin admin,root fail 1",
			"1 - x x fail 1",
			"0 192.0.2.7 - - nofail 0",
			"1 192.0.2.7 alice alice fail 2",
			"3 192.0.2.7 alice alice nofail 0",
			"2 192.0.2.7 alice alice fail 2",
		},
	},
	{
		name: "multi-line",
		spec: Spec{
			FailRegex:   []string{`^conn (?P<id>\d+) from <HOST><SKIPLINES>^conn (?P=id) auth failed$`},
			IgnoreRegex: []string{`^conn \d+ auth failed by admin$`},
			MaxLines:    5,
		},
		lines: []string{
			"conn 1 from 192.0.2.1", "noise", "conn 2 from 192.0.2.2", "conn 1 auth failed", "conn 2 auth failed",
			"conn 3 from 192.0.2.3", "conn 3 auth failed by admin", "conn 3 auth failed",
		},
		first: []string{"", "", "", "0 192.0.2.1 - - fail 2", "0 192.0.2.2 - - fail 2", "", "", "0 192.0.2.3 - - fail 2"},
		all:   []string{"", "", "", "0 192.0.2.1 - - fail 2", "0 192.0.2.2 - - fail 2", "", "", "0 192.0.2.3 - - fail 2"},
	},
}

// describe renders failures as the cases write them.
func describe(fs []Failure) string {
	var parts []string
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, f := range fs {
		kind := "fail"
		if f.NoFail {
			kind = "nofail"
		}
		parts = append(parts, fmt.Sprintf("%d %s %s %s %s %d", f.Regex, dash(f.Host), dash(f.Fields["user"]), dash(strings.Join(sorted(f.Users), ",")), kind, len(f.Matches)))
	}
	return strings.Join(parts, " | ")
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestMatcher(t *testing.T) {
	now := time.Date(2005, 8, 14, 10, 0, 0, 0, time.UTC)
	for _, tc := range matcherCases {
		for _, all := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/checkall=%v", tc.name, all), func(t *testing.T) {
				spec := tc.spec
				spec.DatePattern = "{NONE}"
				f := mustCompile(t, spec)
				if !f.Stateful() {
					t.Error("Stateful() is false")
				}
				m, err := f.NewMatcher(MatcherOptions{Now: func() time.Time { return now }, Location: time.UTC, CheckAll: all})
				if err != nil {
					t.Fatal(err)
				}
				want := tc.first
				if all {
					want = tc.all
				}
				for i, line := range tc.lines {
					_, fs := m.MatchRaw(line)
					if got := describe(fs); got != want[i] {
						t.Errorf("line %d %q: %q, want %q", i+1, line, got, want[i])
					}
					for _, fl := range fs {
						if !fl.HasTime || !fl.Time.Equal(now) {
							t.Errorf("line %d: time %v, want now ({NONE})", i+1, fl.Time)
						}
					}
				}
			})
		}
	}
}

func TestMatcherMatchesAndFields(t *testing.T) {
	f := mustCompile(t, Spec{
		FailRegex: []string{`^\s*login (?:user <F-ALT_USER>\S+</F-ALT_USER>|<F-USER>\S+</F-USER>) failed from <HOST> port <F-PORT/>$`},
	})
	m, err := f.NewMatcher(MatcherOptions{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	raw := "2026-11-22T02:15:46Z login user alice failed from 192.0.2.9 port 22"
	l, fs := m.MatchRaw(raw)
	if len(fs) != 1 {
		t.Fatalf("got %d failures", len(fs))
	}
	fl := fs[0]
	if fl.Fields["user"] != "alice" || fl.Fields["alt_user"] != "alice" || fl.Fields["fport"] != "22" || fl.Fields["ip4"] != "192.0.2.9" {
		t.Errorf("fields %v", fl.Fields)
	}
	if fl.Addr.String() != "192.0.2.9" || fl.Host != "192.0.2.9" || fl.Unresolved() {
		t.Errorf("address %v host %q", fl.Addr, fl.Host)
	}
	if len(fl.Matches) != 1 || fl.Matches[0] != raw {
		t.Errorf("matches %q", fl.Matches)
	}
	if want := time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC); !fl.HasTime || !fl.Time.Equal(want) || !l.Time.Equal(want) {
		t.Errorf("time %v, want %v", fl.Time, want)
	}
	if hits, _ := m.Hits(); hits[0] != 1 {
		t.Errorf("hits %v", hits)
	}
	// A line without a date takes the previous line's date, if it is
	// recent.
	m2, err := f.NewMatcher(MatcherOptions{Now: func() time.Time { return time.Date(2026, 11, 22, 2, 16, 0, 0, time.UTC) }, Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	m2.MatchRaw("2026-11-22T02:15:46Z hello")
	_, fs = m2.MatchRaw("login bob failed from 192.0.2.10 port 23")
	if len(fs) != 1 || !fs[0].HasTime || fs[0].Time.Second() != 46 {
		t.Errorf("dateless line: %+v", fs)
	}
}

func TestMatcherDatePattern(t *testing.T) {
	f := mustCompile(t, Spec{FailRegex: []string{`^ denied <HOST>$`}, DatePattern: `^%d.%m.%Y %H:%M:%S`})
	if f.DatePattern() == "" {
		t.Fatal("DatePattern lost")
	}
	m, err := f.NewMatcher(MatcherOptions{Location: time.UTC})
	if err != nil {
		t.Fatal(err)
	}
	_, fs := m.MatchRaw("22.11.2026 02:15:46 denied 192.0.2.1")
	if len(fs) != 1 || fs[0].Time != time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC) {
		t.Errorf("got %+v", fs)
	}
	// The default templates would have found the ISO date here.
	_, fs = m.MatchRaw("2026-11-22 02:15:46 denied 192.0.2.1")
	if len(fs) != 0 {
		t.Errorf("matched with another date format: %+v", fs)
	}
}

func TestMatcherJournal(t *testing.T) {
	f := mustCompile(t, Spec{FailRegex: []string{`^host sshd\[\d+\]: bad from <HOST>$`}})
	m, err := f.NewMatcher(MatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	when := time.Date(2026, 11, 22, 2, 15, 46, 0, time.UTC)
	// A journal entry has its time: no date is looked for in the text.
	fs := m.Match(Line{Raw: "host sshd[1]: bad from 192.0.2.3", Text: "host sshd[1]: bad from 192.0.2.3", Time: when, HasTime: true})
	if len(fs) != 1 || fs[0].Time != when || fs[0].Addr.String() != "192.0.2.3" {
		t.Errorf("got %+v", fs)
	}
}

// A line that names its own address is not attributed to the address an
// earlier line of the same connection id gave (fail2ban would keep an
// earlier IPv4 address over this line's IPv6 one): a reused pid, or a
// listener's pid, must not move a failure to another address.
func TestMLFIDOwnAddressWins(t *testing.T) {
	f := mustCompile(t, Spec{
		PrefRegex: `^<F-MLFID>srv\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$`,
		FailRegex: []string{`^auth failed from <HOST>$`, `^auth failed$`},
	})
	m, err := f.NewMatcher(MatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range []string{"srv[1]: auth failed from 192.0.2.1", "srv[1]: auth failed from 2001:db8::1", "srv[1]: auth failed"} {
		_, fs := m.MatchRaw(l)
		for _, fl := range fs {
			got = append(got, fl.Addr.String())
		}
	}
	if want := "192.0.2.1 2001:db8::1 2001:db8::1"; strings.Join(got, " ") != want {
		t.Errorf("failures %q, want %q", strings.Join(got, " "), want)
	}
}

// TestSearchApply: lines searched out of order, then
// applied in order give what the Matcher gives (the cases checked against
// fail2ban above).
func TestSearchApply(t *testing.T) {
	now := time.Date(2005, 8, 14, 10, 0, 0, 0, time.UTC)
	for _, tc := range matcherCases {
		for _, all := range []bool{false, true} {
			spec := tc.spec
			spec.DatePattern = "{NONE}"
			f := mustCompile(t, spec)
			if !f.Searchable() {
				continue
			}
			m, err := f.NewMatcher(MatcherOptions{Now: func() time.Time { return now }, Location: time.UTC, CheckAll: all})
			if err != nil {
				t.Fatal(err)
			}
			lines := make([]Line, len(tc.lines))
			searches := make([]Search, len(tc.lines))
			for i := len(tc.lines) - 1; i >= 0; i-- { // out of order
				lines[i] = Prepare(tc.lines[i], m.Detector())
				searches[i] = f.Search(lines[i], all)
			}
			want := tc.first
			if all {
				want = tc.all
			}
			for i := range lines {
				if got := describe(m.Apply(lines[i], searches[i])); got != want[i] {
					t.Errorf("%s/checkall=%v line %d: %q, want %q", tc.name, all, i+1, got, want[i])
				}
			}
			hits, _ := m.Hits()
			if fmt.Sprint(hits) == fmt.Sprint(make([]int, len(hits))) {
				t.Errorf("%s: no hits counted", tc.name)
			}
		}
	}
}

// TestFailureHostName checks that a failure says when its identifier is a
// host name (which usedns may resolve), and not when it is an address or
// an <F-ID>.
func TestFailureHostName(t *testing.T) {
	f := mustCompile(t, Spec{FailRegex: []string{`^bad login from <HOST>$`, `^token <F-ID>\S+</F-ID> refused$`}})
	for _, tt := range []struct {
		text     string
		hostName bool
	}{
		{"bad login from host.example.org", true},
		{"bad login from 192.0.2.7", false},
		{"bad login from [2001:db8::7]", false},
		{"token abc.def refused", false},
	} {
		m, err := f.NewMatcher(MatcherOptions{})
		if err != nil {
			t.Fatal(err)
		}
		fs := m.Match(Line{Text: tt.text, Raw: tt.text})
		if len(fs) != 1 {
			t.Fatalf("%q: %d failures", tt.text, len(fs))
		}
		if fs[0].HostName != tt.hostName {
			t.Errorf("%q: HostName %v, want %v (%+v)", tt.text, fs[0].HostName, tt.hostName, fs[0])
		}
	}
}
