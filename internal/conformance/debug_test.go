package conformance

import (
	"os"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/match"
)

// TestDebugLine shows how one filter sees one line: set
// GAOL_CONFORMANCE_FILTER (and _OPTS as "k=v") and GAOL_CONFORMANCE_LINE.
func TestDebugLine(t *testing.T) {
	name, line := os.Getenv("GAOL_CONFORMANCE_FILTER"), os.Getenv("GAOL_CONFORMANCE_LINE")
	if name == "" || line == "" {
		t.Skip("set GAOL_CONFORMANCE_FILTER and GAOL_CONFORMANCE_LINE")
	}
	tr := fail2banTree(t)
	loc, err := posixZone("CET", testTZ)
	if err != nil {
		t.Fatal(err)
	}
	r := &runner{tr: tr, name: name, loc: loc, res: &filterResult{}, usedRe: map[string]bool{}}
	r.load(configDir(t, tr))
	if r.loadErr != nil {
		t.Fatal(r.loadErr)
	}
	opts := map[string]any{}
	if o := os.Getenv("GAOL_CONFORMANCE_OPTS"); o != "" {
		for _, kv := range splitOpts(o) {
			opts[kv[0]] = kv[1]
		}
	}
	cf := r.filters[optionsKey(opts)]
	if cf == nil {
		t.Fatalf("no filter for options %v", opts)
	}
	s := spec(cf)
	t.Logf("datepattern: %q maxlines %d", s.DatePattern, s.MaxLines)
	f, err := match.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f.Exprs() {
		t.Logf("%s #%d [%s fast=%v]\n  %s\n  %s", e.Kind, e.Index+1, e.Engine, e.Fast, e.Source, e.Fallback)
	}
	now := time.Unix(testNow, 0)
	m, err := f.NewMatcher(match.MatcherOptions{Now: func() time.Time { return now }, Location: loc, CheckAll: true})
	if err != nil {
		t.Fatal(err)
	}
	l, fails := m.MatchRaw(line)
	t.Logf("line: text %q time %v (%v)", l.Text, l.Time, l.HasTime)
	for _, fl := range fails {
		t.Logf("failure: %+v", fl)
	}
}

func splitOpts(s string) [][2]string {
	var out [][2]string
	for _, kv := range splitComma(s) {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				out = append(out, [2]string{kv[:i], kv[i+1:]})
				break
			}
		}
	}
	return out
}

func splitComma(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return out
}
