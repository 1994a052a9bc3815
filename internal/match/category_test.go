package match

import (
	"strings"
	"testing"
)

func TestCategory(t *testing.T) {
	f := mustCompile(t, Spec{
		Name:     "web",
		Category: "web-probe",
		FailRegex: []string{
			`<CAT=web-probe:git>^<HOST> \S+ \S+ \[\] "GET /\.git/`,
			`^<HOST> \S+ \S+ \[\] "GET /\.env<CAT=web-probe:credentials>`,
			`^<HOST> \S+ \S+ \[\] "GET /cgi-bin/`,
		},
		IgnoreRegex: []string{`"GET /\.git/HEAD`},
	})
	tests := []struct {
		line    string
		matched bool
		cat     string
	}{
		{`192.0.2.1 - - [] "GET /.git/config HTTP/1.1"`, true, "web-probe:git"},
		{`192.0.2.2 - - [] "GET /.env HTTP/1.1"`, true, "web-probe:credentials"},
		{`192.0.2.3 - - [] "GET /cgi-bin/x HTTP/1.1"`, true, "web-probe"},
		// The tag is removed, not matched as text.
		{`192.0.2.4 - - [] "GET /<CAT=web-probe:git>/.git/ HTTP/1.1"`, false, ""},
		{`192.0.2.5 - - [] "GET /index.html HTTP/1.1"`, false, ""},
	}
	for _, tt := range tests {
		r := f.Match(Prepare(tt.line, nil))
		if r.Matched != tt.matched || r.Category != tt.cat {
			t.Errorf("%q: matched %v category %q, want %v %q", tt.line, r.Matched, r.Category, tt.matched, tt.cat)
		}
	}
	// A Matcher reports the same categories.
	m, err := f.NewMatcher(MatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, fs := m.MatchRaw(`192.0.2.1 - - [] "GET /.git/config HTTP/1.1"`)
	if len(fs) != 1 || fs[0].Category != "web-probe:git" {
		t.Errorf("Matcher: %+v, want one failure of category web-probe:git", fs)
	}
	var cats []string
	for _, e := range f.Exprs() {
		cats = append(cats, e.Category)
	}
	if got := strings.Join(cats, ","); got != "web-probe:git,web-probe:credentials,web-probe," {
		t.Errorf("Exprs categories %q", got)
	}
}

func TestCategoryErrors(t *testing.T) {
	tests := []struct {
		spec Spec
		want string
	}{
		{Spec{Category: "Web Probe", FailRegex: []string{`<HOST>`}}, `category "Web Probe"`},
		{Spec{FailRegex: []string{`<CAT=a><CAT=b><HOST>`}}, "more than one"},
		{Spec{FailRegex: []string{`<CAT=>x <HOST>`}}, "<CAT=>"},
		{Spec{FailRegex: []string{`<CAT=a b><HOST>`}}, "<CAT=a b>"},
		{Spec{FailRegex: []string{`<HOST>`}, IgnoreRegex: []string{`<CAT=x>y`}}, "belongs in a failregex"},
		{Spec{PrefRegex: `<CAT=x><F-CONTENT>.+</F-CONTENT>`, FailRegex: []string{`<HOST>`}}, "belongs in a failregex"},
	}
	for _, tt := range tests {
		_, err := Compile(tt.spec)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.spec, err, tt.want)
		}
	}
}
