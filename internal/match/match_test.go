package match

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/match/date"
)

func mustCompile(t testing.TB, spec Spec) *Filter {
	t.Helper()
	f, err := Compile(spec)
	if err != nil {
		t.Fatalf("Compile: %v", err)
	}
	return f
}

func TestCompileErrors(t *testing.T) {
	tests := []struct {
		name string
		spec Spec
		want []string // substrings of the error
	}{
		{
			name: "bad failregex",
			spec: Spec{Name: "f", FailRegex: []string{`from <HOST>`, `x(<HOST>`}},
			want: []string{"filter f", "failregex #2", `"x(<HOST>"`, "missing )"},
		},
		{
			name: "group defined twice",
			spec: Spec{FailRegex: []string{`(?P<user>a) (?P<user>b) <HOST>`}},
			want: []string{"failregex #1", "redefinition of group name"},
		},
		{
			name: "two hosts",
			spec: Spec{FailRegex: []string{`<HOST> <HOST>`}},
			want: []string{"failregex #1", "redefinition of group name"},
		},
		{
			name: "bad usedns",
			spec: Spec{FailRegex: []string{`<HOST>`}, UseDNS: "maybe"},
			want: []string{"usedns"},
		},
		{
			name: "bad datepattern",
			spec: Spec{FailRegex: []string{`<HOST>`}, DatePattern: "%Q"},
			want: []string{"datepattern"},
		},
		{
			name: "no address group",
			spec: Spec{FailRegex: []string{`^Failed password`}},
			want: []string{"failregex #1", "no address group"},
		},
		{
			name: "bad ignoreregex",
			spec: Spec{FailRegex: []string{`<HOST>`}, IgnoreRegex: []string{`ok`, `[`}},
			want: []string{"ignoreregex #2", `"["`},
		},
		{
			name: "bad prefregex",
			spec: Spec{PrefRegex: `<F-CONTENT>(`, FailRegex: []string{`<HOST>`}},
			want: []string{"prefregex", "<F-CONTENT>("},
		},
		{
			name: "no failregex",
			spec: Spec{},
			want: []string{"no failregex"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Compile(tt.spec)
			if err == nil {
				t.Fatal("Compile succeeded, want error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

func TestTags(t *testing.T) {
	tests := []struct {
		regex string
		text  string
		want  string // "" = no match
	}{
		{`from <HOST> port \d+`, "from 192.0.2.1 port 22", "192.0.2.1"},
		{`from <HOST> port \d+`, "from 2001:db8::1 port 22", "2001:db8::1"},
		{`from <HOST> port \d+`, "from [2001:db8::1] port 22", "2001:db8::1"},
		{`from <HOST> port \d+`, "from [192.0.2.1] port 22", "192.0.2.1"},
		{`from <HOST> port \d+`, "from ::ffff:192.0.2.1 port 22", "192.0.2.1"},
		// As fail2ban: only lower-case ::ffff: is an IPv4-mapped prefix,
		// and IPv6 addresses with a dotted quad are no addresses.
		{`from <HOST> port \d+`, "from ::FFFF:192.0.2.1 port 22", ""},
		{`from <HOST> port \d+`, "from ::ffff:c000:201 port 22", "192.0.2.1"},
		{`from <HOST> port \d+`, "from 2001:db8:: port 22", "2001:db8::"},
		{`from <HOST> port \d+`, "from ::1 port 22", "::1"},
		{`from <HOST> port \d+`, "from 2001:db8:0:0:0:0:0:1 port 22", "2001:db8::1"},
		{`from <HOST> port \d+`, "from 2001:db8::192.0.2.1 port 22", ""},
		{`from <HOST> port \d+`, "from host.example.org port 22", ""},
		{`from <HOST> port \d+`, "from 192.0.2.300 port 22", ""},
		{`from <HOST> port \d+`, "from 192.0.2.1234 port 22", ""},
		{`from <HOST> port \d+`, "from 192.0.02.1 port 22", ""},
		{`from <HOST> port \d+`, "from 1:2:3:4:5:6:7:8:9 port 22", ""},
		{`from <HOST>`, "from 192.0.2.1 port 22", "192.0.2.1"},
		{`from <HOST>`, "from 192.0.2.1:22", "192.0.2.1"},
		{`from <HOST>`, "from 192.0.2.1.", "192.0.2.1"},
		// As fail2ban: <HOST> ends where the expression lets it.
		{`from <HOST>`, "from 192.0.2.12345", "192.0.2.123"},
		{`from <HOST>$`, "from 192.0.2.12345", ""},
		{`from <HOST>$`, "from 192.0.2.1", "192.0.2.1"},
		{`from <HOST>$`, "from 2001:db8::1", "2001:db8::1"},
		{`from <HOST>:`, "from 2001:db8::1: x", "2001:db8::1"},
		{`<HOST> port`, "x11.2.3.4 port", ""},
		{`<ADDR> port`, "from 192.0.2.7 port", "192.0.2.7"},
		{`<ADDR> port`, "from [2001:db8::7] port", "2001:db8::7"},
		{`<ADDR> port`, "from host port", ""},
		{`^<IP4> `, "192.0.2.8 x", "192.0.2.8"},
		{`^<IP4> `, "2001:db8::8 x", ""},
		{`^<IP6> `, "2001:db8::8 x", "2001:db8::8"},
		{`^<IP6> `, "192.0.2.8 x", ""},
		{`^<DNS> `, "192.0.2.9 x", "192.0.2.9"},
		{`^<DNS> `, "example.org x", ""},
		{`(?P<ip4>\S+) y`, "192.0.2.10 y", "192.0.2.10"},
		{`^user <F-USER>\S+</F-USER> from <HOST>`, "user root from 192.0.2.11", "192.0.2.11"},
		{`^<F-ALT_USER>\S+</F-ALT_USER> <F-ID>\S+</F-ID> <HOST>`, "a b 192.0.2.12", "192.0.2.12"},
	}
	for _, tt := range tests {
		f := mustCompile(t, Spec{FailRegex: []string{tt.regex}})
		r := f.Match(Line{Text: tt.text})
		got := ""
		if r.Matched {
			got = r.Addr.String()
		}
		if got != tt.want {
			t.Errorf("%q on %q: got %q, want %q", tt.regex, tt.text, got, tt.want)
		}
	}
}

func TestFieldGroups(t *testing.T) {
	got := expandTags(`<F-USER>.*</F-USER> <F-ID>x</F-ID> <F-ALT_USER1>y</F-ALT_USER1> </F-NOPE> <F-lower>`, "warn")
	want := `(?P<user>.*) (?P<fid>x) (?P<alt_user1>y) </F-NOPE> <F-lower>`
	if got != want {
		t.Errorf("expandTags = %q, want %q", got, want)
	}
}

func TestMatchSemantics(t *testing.T) {
	spec := Spec{
		PrefRegex: `^\s*\S+ app\[\d+\]: <F-CONTENT>.+</F-CONTENT>$`,
		FailRegex: []string{
			`^bad login from <HOST>$`,
			`^bad (?:login|token) from <HOST>$`,
			`^probe from <HOST>$`,
			`^(?:user|account) <F-USER>\S+</F-USER> from <HOST>$`,
			`^helper <F-NOFAIL>ok</F-NOFAIL> from <HOST>$`,
		},
		// Three of them: no precheck on the whole line (see below).
		IgnoreRegex: []string{`from 192\.0\.2\.99$`, `^ host app\[1\]: probe`, `^never$`},
	}
	f := mustCompile(t, spec)
	addr := netip.MustParseAddr
	tests := []struct {
		name string
		text string
		want Result
	}{
		{"first failregex wins", " host app[7]: bad login from 192.0.2.1", Result{Matched: true, Addr: addr("192.0.2.1"), Host: "192.0.2.1", Regex: 0}},
		{"second failregex", " host app[7]: bad token from 192.0.2.2", Result{Matched: true, Addr: addr("192.0.2.2"), Host: "192.0.2.2", Regex: 1}},
		{"prefregex must match", " host other[7]: bad login from 192.0.2.1", Result{}},
		{"failregex sees only the content", " host app[7]: x bad login from 192.0.2.1", Result{}},
		{"ignoreregex vetoes", " host app[7]: bad login from 192.0.2.99", Result{Ignored: true, Addr: addr("192.0.2.99"), Host: "192.0.2.99", Regex: 0}},
		// As fail2ban: the ignoreregexes see what the failregexes see, the
		// content of the prefregex (the whole line only when there are
		// fewer than len(failregex)-2 of them).
		{"ignoreregex sees the content", " host app[1]: probe from 192.0.2.3", Result{Matched: true, Addr: addr("192.0.2.3"), Host: "192.0.2.3", Regex: 2}},
		{"ignoreregex alone is nothing", " host app[1]: hello from 192.0.2.99", Result{}},
		{"invalid address", " host app[7]: bad login from 192.0.2.256", Result{Unresolved: true, Host: "192.0.2.256", Regex: 0}},
		{"host name", " host app[7]: bad login from host.example.org", Result{Unresolved: true, Host: "host.example.org", HostName: true, Regex: 0}},
		{"IPv6", " host app[7]: user x from 2001:db8::1", Result{Matched: true, Addr: addr("2001:db8::1"), Host: "2001:db8::1", Regex: 3}},
		{"nofail is no failure", " host app[7]: helper ok from 192.0.2.4", Result{Regex: 4}},
		{"no match", " host app[7]: good login from 192.0.2.1", Result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.Match(Line{Text: tt.text}); got != tt.want {
				t.Errorf("Match(%q) = %+v, want %+v", tt.text, got, tt.want)
			}
		})
	}
	// With few ignoreregexes they are tried on the whole line first.
	g := mustCompile(t, Spec{FailRegex: []string{`a <HOST>`, `b <HOST>`, `c <HOST>`, `d <HOST>`}, IgnoreRegex: []string{`^skip`}})
	if got := g.Match(Line{Text: "skip a 192.0.2.1"}); got != (Result{Ignored: true, Regex: -1}) {
		t.Errorf("precheck: %+v", got)
	}
}

func TestUseDNS(t *testing.T) {
	for _, tt := range []struct {
		usedns, text string
		want         Result
	}{
		{"warn", "from host.example.org", Result{Unresolved: true, Host: "host.example.org", HostName: true}},
		{"raw", "from host.example.org", Result{Unresolved: true, Host: "host.example.org", HostName: true}},
		{"no", "from host.example.org", Result{}},
		{"no", "from 192.0.2.1", Result{Matched: true, Addr: netip.MustParseAddr("192.0.2.1"), Host: "192.0.2.1"}},
	} {
		f := mustCompile(t, Spec{FailRegex: []string{`^from <HOST>$`}, UseDNS: tt.usedns})
		if got := f.Match(Line{Text: tt.text}); got != tt.want {
			t.Errorf("usedns %s, %q: %+v, want %+v", tt.usedns, tt.text, got, tt.want)
		}
	}
}

func TestSubnet(t *testing.T) {
	f := mustCompile(t, Spec{FailRegex: []string{`^net <SUBNET> x$`, `^addr <ADDR>/<CIDR>$`, `^id <F-ID/>$`}})
	for _, tt := range []struct {
		text string
		want Result
	}{
		{"net 192.0.2.77/24 x", Result{Matched: true, Addr: netip.MustParseAddr("192.0.2.0"), Bits: 24, Host: "192.0.2.77"}},
		{"net 192.0.2.77 x", Result{Matched: true, Addr: netip.MustParseAddr("192.0.2.77"), Host: "192.0.2.77"}},
		{"addr 2001:db8::1/32", Result{Matched: true, Addr: netip.MustParseAddr("2001:db8::"), Bits: 32, Host: "2001:db8::1", Regex: 1}},
		{"id session-42", Result{Unresolved: true, Host: "session-42", Regex: 2}},
		{"id 192.0.2.5", Result{Matched: true, Addr: netip.MustParseAddr("192.0.2.5"), Host: "192.0.2.5", Regex: 2}},
	} {
		if got := f.Match(Line{Text: tt.text}); got != tt.want {
			t.Errorf("%q: %+v, want %+v", tt.text, got, tt.want)
		}
	}
}

func TestGlobalFlagsToLocal(t *testing.T) {
	tests := []struct{ in, want string }{
		{`SASL ((?i)LOGIN|PLAIN) x`, `SASL (?i:LOGIN|PLAIN) x`},
		{`(?:(?i)a|b)`, `(?i:a|b)`},
		{`\((?i)a)`, `\((?i)a)`},
		{`(?i)x`, `(?i)x`},
	}
	for _, tt := range tests {
		if got := globalFlagsToLocal(tt.in); got != tt.want {
			t.Errorf("globalFlagsToLocal(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestPrefRegexWithoutContent(t *testing.T) {
	f := mustCompile(t, Spec{PrefRegex: `app:`, FailRegex: []string{`^app: bad from <HOST>$`}})
	r := f.Match(Line{Text: "app: bad from 192.0.2.1"})
	if !r.Matched {
		t.Errorf("without <F-CONTENT> the failregexes must see the whole line: %+v", r)
	}
}

func TestPrepare(t *testing.T) {
	d := date.NewDetector(func() time.Time { return time.Date(2026, 11, 22, 3, 0, 0, 0, time.UTC) }, time.UTC)
	tests := []struct {
		raw, text string
		hasTime   bool
	}{
		{"Nov 22 02:15:46 web1 sshd[1]: x", " web1 sshd[1]: x", true},
		{"2026-11-22T02:15:46.123456+00:00 web1 sshd[1]: x", " web1 sshd[1]: x", true},
		{"[Nov 22 02:15:46] x", "[] x", true},
		{"no date here", "no date here", false},
		{"Nov 22 02:15:46 web1 sshd[1]: x\r", " web1 sshd[1]: x", true},
		{"", "", false},
	}
	for _, tt := range tests {
		l := Prepare(tt.raw, d)
		if l.Raw != tt.raw || l.Text != tt.text || l.HasTime != tt.hasTime {
			t.Errorf("Prepare(%q) = %+v, want text %q, hasTime %v", tt.raw, l, tt.text, tt.hasTime)
		}
	}
	if l := Prepare("Nov 22 02:15:46 x", nil); l.HasTime || l.Text != l.Raw {
		t.Errorf("Prepare without detector = %+v", l)
	}
}
