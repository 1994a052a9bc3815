package conformance

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/gaol-project/gaol/internal/match"
)

// minPassing is the share of checks that must pass.
const minPassing = 0.99

// configDir makes a configuration directory that is fail2ban's
// /etc/fail2ban (linked) without its jail.d and jail.local, for the
// runners to add their jail.local.
func configDir(t *testing.T, tr tree) string {
	t.Helper()
	dir := t.TempDir()
	entries, err := os.ReadDir(tr.etc())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch e.Name() {
		case "jail.d", "jail.local", "filter.d":
			continue
		}
		if err := os.Symlink(filepath.Join(tr.etc(), e.Name()), filepath.Join(dir, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	// filter.d file by file, with recidive also under another name: gaol's
	// configuration does not read the filter of a jail whose filter is
	// "recidive" (gaol feeds such a jail its bans), but its expressions
	// are still fail2ban's to check.
	src := filepath.Join(tr.etc(), "filter.d")
	filters, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "filter.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, e := range filters {
		if err := os.Symlink(filepath.Join(src, e.Name()), filepath.Join(dir, "filter.d", e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(src, "recidive.conf"), filepath.Join(dir, "filter.d", recidiveAlias+".conf")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// recidiveAlias is the name the recidive filter is loaded under.
const recidiveAlias = "gaolt-recidive"

// stockFilters returns the filters of fail2ban's filter.d that have a
// sample log, as samplestestcase finds them.
func stockFilters(t *testing.T, tr tree) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(tr.etc(), "filter.d"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		n := e.Name()
		if !strings.HasSuffix(n, ".conf") || n == "common.conf" || strings.HasPrefix(n, ".") {
			continue
		}
		name := strings.TrimSuffix(n, ".conf")
		if _, err := os.Stat(filepath.Join(tr.logs(), name)); err != nil {
			continue // helpers included by filters (apache-common, ...)
		}
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// TestConformance runs fail2ban's sample logs through gaol's matcher.
func TestConformance(t *testing.T) {
	tr := fail2banTree(t)
	loc, err := posixZone("CET", testTZ)
	if err != nil {
		t.Fatalf("test zone: %v", err)
	}
	filters := stockFilters(t, tr)
	var results []*filterResult
	for _, name := range filters {
		res := &filterResult{name: name}
		r := &runner{tr: tr, name: name, loc: loc, res: res, usedRe: map[string]bool{}}
		r.load(configDir(t, tr))
		r.run()
		if c, ok := r.combos[name]; ok && c.f != nil {
			for _, e := range c.f.Exprs() {
				res.exprs++
				if e.Engine.String() == "re2" {
					res.re2Exprs++
				}
			}
			res.re2 = c.f.RE2()
		} else if r.loadErr == nil {
			// A filter whose samples all set options: judge its default.
			if f, ok := r.filters[optionsKey(map[string]any{})]; ok {
				if mf, err := match.Compile(spec(f)); err == nil {
					res.re2 = mf.RE2()
					for _, e := range mf.Exprs() {
						res.exprs++
						if e.Engine.String() == "re2" {
							res.re2Exprs++
						}
					}
				}
			}
		}
		results = append(results, res)
	}
	report(t, results)
}

// report prints the table and the total and fails below minPassing.
func report(t *testing.T, results []*filterResult) {
	var b strings.Builder
	w := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "filter\tchecks\tpassed\tfailed\tRE2 exprs\t")
	total, passed, re2 := 0, 0, 0
	annotated, plain, coverage := 0, 0, 0
	var failures []string
	for _, r := range results {
		annotated += r.annotated
		plain += r.plain
		coverage += r.coverage
		fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d/%d\t\n", r.name, r.checks, r.passed, r.checks-r.passed, r.re2Exprs, r.exprs)
		total += r.checks
		passed += r.passed
		if r.re2 {
			re2++
		}
		failures = append(failures, r.failures...)
	}
	w.Flush()
	share := 0.0
	if total > 0 {
		share = float64(passed) / float64(total)
	}
	fmt.Fprintf(&b, "\ntotal: %d/%d checks passed (%.2f%%) over %d stock filters\n", passed, total, 100*share, len(results))
	fmt.Fprintf(&b, "checks: %d failJSON annotations (per filter option set), %d other lines that must not match, %d failregexes that need a sample\n", annotated, plain, coverage)
	fmt.Fprintf(&b, "filters entirely on RE2 (fast matcher or Go regexp; expressions and date pattern): %d of %d; the others need regexp2 for some expression\n", re2, len(results))
	if len(failures) > 0 {
		fmt.Fprintf(&b, "\nfailures:\n  %s\n", strings.Join(failures, "\n  "))
	}
	var diffs []string
	compared := 0
	for _, r := range results {
		diffs = append(diffs, r.matchDiffs...)
		compared += r.matchChecks
	}
	t.Logf("Filter.Match (the daemon's stateless path) compared with the Matcher on %d lines of filters without state: %d differences", compared, len(diffs))
	if len(diffs) > 0 {
		t.Errorf("Filter.Match disagrees with the Matcher on %d lines:\n  %s", len(diffs), strings.Join(diffs, "\n  "))
	}
	t.Log("\n" + b.String())
	if share < minPassing {
		t.Errorf("%.2f%% of checks passed, want at least %.0f%%", 100*share, 100*minPassing)
	}
}
