package conformance

import (
	"os"
	"testing"

	"github.com/gaol-project/gaol/internal/match"
)

// TestEngines lists the expressions of the stock filters that need
// regexp2 (set GAOL_CONFORMANCE_ENGINES=1).
func TestEngines(t *testing.T) {
	if os.Getenv("GAOL_CONFORMANCE_ENGINES") == "" {
		t.Skip("set GAOL_CONFORMANCE_ENGINES=1")
	}
	tr := fail2banTree(t)
	for _, name := range stockFilters(t, tr) {
		r := &runner{tr: tr, name: name, res: &filterResult{}, usedRe: map[string]bool{}}
		r.load(configDir(t, tr))
		if r.loadErr != nil {
			t.Errorf("%s: %v", name, r.loadErr)
			continue
		}
		cf := r.filters[optionsKey(map[string]any{})]
		f, err := match.Compile(spec(cf))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		for _, e := range f.Exprs() {
			if e.Engine.String() != "re2" {
				t.Logf("%s %s #%d: %s", name, e.Kind, e.Index+1, e.Source)
			}
		}
	}
}
