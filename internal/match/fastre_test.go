package match

import (
	"regexp"
	"slices"
	"testing"
)

// fastCases are expressions and lines on which the fast matcher must agree
// with the regexp package.
var fastCases = []struct{ expr, line string }{
	{`a(b*)c`, "xxabbbcx"},
	{`a(b*?)(b*)c`, "abbbc"},
	{`(a|ab)(c|bcd)(d*)`, "abcd"},
	{`^(\S+)\s+(\S+)$`, "foo bar"},
	{`(?i)FAILED (\w+)`, "x failed Password"},
	{`(?i)straße`, "STRASSE strasse STRAßE"},
	{`x(?:ab)*y`, "xababy"},
	{`x(?:ab)+?(ab)*y`, "xababy"},
	{`(a)?(b)?c`, "bc"},
	{`\bfoo\b`, "a foo_ foo."},
	{`\Bo\B`, "foo"},
	{`(?m)^b$`, "a\nb\nc"},
	{`.*`, "héllo\nworld"},
	{`(?s).*`, "héllo\nworld"},
	{`h(.)llo`, "h\xffllo hél"},
	{`[^a]+`, "\xe2\x82 abc"},
	{`é+`, "éééa"},
	{`(.*) from (\S+)`, "user from x from y"},
	{`(.*?) from (\S+)`, "user from x from y"},
	{`(.+?)é`, "aéé"},
	{`(.*)é`, "aéxé\xc3"},
	{`(\S+) (.*)$`, "\xc3\xa9\xc3 b"},
	{`a{2,3}`, "aaaa"},
	{`(a{2,3}?)(a*)`, "aaaa"},
	{`(?:a|b)*c`, "ababc"},
	{`$`, "abc"},
	{`^`, ""},
	{`x*`, ""},
	{`(x*)(x*)`, "xx"},
	{hostPattern, "from 2001:db8::1 port"},
	{hostPattern, "::ffff:192.0.2.1"},
	{`from ` + hostPattern + ` port \d+$`, "from 203.0.113.5 port 22"},
}

func TestFastMatchAgrees(t *testing.T) {
	for _, c := range fastCases {
		checkFast(t, c.expr, c.line)
	}
}

// checkFast compares the fast matcher with the regexp package on one line.
func checkFast(t *testing.T, expr, line string) {
	t.Helper()
	re, err := regexp.Compile(expr)
	if err != nil {
		return
	}
	p, err := compileFast(expr)
	if err != nil {
		return
	}
	want := re.FindStringSubmatchIndex(line)
	m := &machine{}
	ok, done := p.find(m, line)
	if !done {
		return
	}
	var got []int
	if ok {
		got = m.caps
	}
	if !slices.Equal(got, want) {
		t.Fatalf("%q on %q: fast %v, regexp %v", expr, line, got, want)
	}
}

func TestFastUnsupported(t *testing.T) {
	for _, expr := range []string{`(a*)*`, `(?:a?)+b`, `(?:\b)*`} {
		if _, err := compileFast(expr); err == nil {
			t.Errorf("compileFast(%q) succeeded, want fallback", expr)
		}
	}
}

// TestFastBudget checks that a pathological expression runs out of budget
// (and Filter.Match falls back to the regexp package) instead of running
// for exponential time.
func TestFastBudget(t *testing.T) {
	expr := `^(?:a|aa)+(?:a|aa)+(?:a|aa)+(?:a|aa)+b from <HOST>$`
	f := mustCompile(t, Spec{FailRegex: []string{expr}})
	line := ""
	for range 60 {
		line += "a"
	}
	m := &machine{}
	if _, done := f.fail[0].fast.find(m, line); done {
		t.Fatal("pathological search finished within its budget")
	}
	if r := f.Match(Line{Text: line}); r.Matched {
		t.Fatal("matched")
	}
	r := f.Match(Line{Text: "aaaab from 192.0.2.1"})
	if !r.Matched || r.Addr.String() != "192.0.2.1" {
		t.Fatalf("got %+v", r)
	}
}

// FuzzFastMatch checks that the fast matcher agrees with the regexp package
// on arbitrary expressions and lines.
func FuzzFastMatch(f *testing.F) {
	for _, c := range fastCases {
		f.Add(c.expr, c.line)
	}
	spec := loadFilter(f, "sshd")
	for _, l := range readLines(f, "testdata/sshd/auth.log") {
		for _, e := range spec.FailRegex {
			f.Add(expandTags(e), l)
		}
	}
	f.Fuzz(func(t *testing.T, expr, line string) {
		if len(expr) > 200 {
			return
		}
		checkFast(t, expr, line)
	})
}
