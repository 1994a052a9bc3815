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
			want: []string{"filter f", "failregex #2", `"x(<HOST>"`, "missing closing )"},
		},
		{
			name: "lookahead is not RE2",
			spec: Spec{FailRegex: []string{`(?=x)<HOST>`}},
			want: []string{"failregex #1", "(?="},
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
		{`from <HOST> port \d+`, "from ::FFFF:192.0.2.1 port 22", "192.0.2.1"},
		{`from <HOST> port \d+`, "from ::ffff:c000:201 port 22", "192.0.2.1"},
		{`from <HOST> port \d+`, "from 2001:db8:: port 22", "2001:db8::"},
		{`from <HOST> port \d+`, "from ::1 port 22", "::1"},
		{`from <HOST> port \d+`, "from 2001:db8:0:0:0:0:0:1 port 22", "2001:db8::1"},
		{`from <HOST> port \d+`, "from 2001:db8::192.0.2.1 port 22", "2001:db8::c000:201"},
		{`from <HOST> port \d+`, "from host.example.org port 22", ""},
		{`from <HOST> port \d+`, "from 192.0.2.300 port 22", ""},
		{`from <HOST> port \d+`, "from 192.0.2.1234 port 22", ""},
		{`from <HOST> port \d+`, "from 192.0.02.1 port 22", ""},
		{`from <HOST> port \d+`, "from 1:2:3:4:5:6:7:8:9 port 22", ""},
		{`from <HOST>`, "from 192.0.2.1 port 22", "192.0.2.1"},
		{`from <HOST>`, "from 192.0.2.1:22", "192.0.2.1"},
		{`from <HOST>`, "from 192.0.2.1.", "192.0.2.1"},
		{`from <HOST>`, "from 192.0.2.12345", ""},
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
	got := expandTags(`<F-USER>.*</F-USER> <F-ID>x</F-ID> <F-ALT-USER1>y</F-ALT-USER1>`)
	want := `(?P<user>.*) (?P<fid>x) (?P<alt_user1>y)`
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
		},
		IgnoreRegex: []string{`from 192\.0\.2\.99$`, `^ host app\[1\]: probe`},
	}
	f := mustCompile(t, spec)
	tests := []struct {
		name string
		text string
		want Result
	}{
		{"first failregex wins", " host app[7]: bad login from 192.0.2.1", Result{Matched: true, Addr: netip.MustParseAddr("192.0.2.1"), Regex: 0}},
		{"second failregex", " host app[7]: bad token from 192.0.2.2", Result{Matched: true, Addr: netip.MustParseAddr("192.0.2.2"), Regex: 1}},
		{"prefregex must match", " host other[7]: bad login from 192.0.2.1", Result{}},
		{"failregex sees only the content", " host app[7]: x bad login from 192.0.2.1", Result{}},
		{"ignoreregex vetoes", " host app[7]: bad login from 192.0.2.99", Result{Ignored: true, Addr: netip.MustParseAddr("192.0.2.99"), Regex: 0}},
		{"ignoreregex sees the whole line", " host app[1]: probe from 192.0.2.3", Result{Ignored: true, Addr: netip.MustParseAddr("192.0.2.3"), Regex: 2}},
		{"ignoreregex alone is nothing", " host app[1]: hello from 192.0.2.99", Result{}},
		{"invalid address is no match", " host app[7]: bad login from 192.0.2.256", Result{}},
		{"no match", " host app[7]: good login from 192.0.2.1", Result{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := f.Match(Line{Text: tt.text}); got != tt.want {
				t.Errorf("Match(%q) = %+v, want %+v", tt.text, got, tt.want)
			}
		})
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

func TestRequiredLiteral(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`^Failed password for .* from \S+`, "Failed password for "},
		{`^\s*\S+ sshd(?:\[\d+\])?: Invalid user .* from`, ": Invalid user "},
		{`(?:a|b)cd`, "cd"},
		{`(?i)abcdef`, ""},
		{`x*`, ""},
		{`(?:abc)+`, "abc"},
		{`(?:abc){2}`, "abc"},
		{`(?:abc)?`, ""},
		{`ab\bcd`, "abcd"},
		{`[`, ""},
	}
	for _, tt := range tests {
		if got := requiredLiteral(tt.expr); got != tt.want {
			t.Errorf("requiredLiteral(%q) = %q, want %q", tt.expr, got, tt.want)
		}
	}
}
