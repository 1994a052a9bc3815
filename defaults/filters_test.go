package defaults_test

import (
	"bufio"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/defaults"
	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/daemon"
	"github.com/gaol-project/gaol/internal/match"
)

// The sample logs of gaol's filters are testdata/filters/NAME.log, one or
// more per filter (NAME, or NAME.SOMETHING.log for filter NAME). They are
// written for this project and say what each line must give:
//
//	#> 203.0.113.5 ssh-bruteforce   the next log line is a failure of this
//	                                address, of this category (several #>
//	                                lines: several failures)
//	                                a log line with no #> before it must
//	                                give no failure
//	#! filter = sshd[mode=aggressive]
//	                                from here on, lines go through this
//	                                filter (a fresh matcher); the default is
//	                                the filter NAME
//	#! now = 2026-11-22T12:00:00Z   the reference time for year inference
//	#! injection                    from here on, lines are injection cases:
//	                                text an attacker controls mentions an
//	                                address that must not be banned
//	# anything else                 a comment
//
// Blank lines are skipped. Every filter must have samples, every failure
// must have a category, and every filter must have injection cases.

// defaultNow is the reference time of the sample logs.
var defaultNow = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// compileFilter compiles filter spec ("name" or "name[opt=val,...]") of
// the embedded configuration, as a jail would use it.
func compileFilter(t testing.TB, spec string) *match.Filter {
	t.Helper()
	dir := t.TempDir()
	local := fmt.Sprintf("[DEFAULT]\nenabled = false\n[sample]\nenabled = true\nbackend = polling\nlogpath = %s\nfilter = %s\n", os.DevNull, spec)
	if err := os.WriteFile(filepath.Join(dir, "jail.local"), []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir)
	if err != nil {
		t.Fatalf("filter %s: %v", spec, err)
	}
	j, ok := cfg.Jail("sample")
	if !ok {
		t.Fatalf("filter %s: no jail", spec)
	}
	f, err := daemon.CompileFilter(j)
	if err != nil {
		t.Fatalf("filter %s: %v", spec, err)
	}
	return f
}

// embeddedFilters lists the filters of filter.d: every .conf but the
// files others include.
func embeddedFilters(t *testing.T) []string {
	t.Helper()
	entries, err := fs.ReadDir(defaults.FS, "filter.d")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".conf")
		if !ok || name == "common" || strings.HasSuffix(name, "-common") {
			continue
		}
		names = append(names, name)
	}
	return names
}

// failure is a failure a sample line must give, or gave.
type failure struct {
	addr     netip.Addr
	category string
}

func (f failure) String() string { return f.addr.String() + " " + f.category }

// sampleStats counts what a filter's samples checked.
type sampleStats struct {
	lines, failures, injections int
}

// runSamples checks one sample log; filter is its default filter.
func runSamples(t *testing.T, file, filter string, st *sampleStats) {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	now := defaultNow
	var m *match.Matcher
	spec := filter
	restart := func() {
		var err error
		m, err = compileFilter(t, spec).NewMatcher(match.MatcherOptions{Now: func() time.Time { return now }, Location: time.UTC})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
	}
	restart()
	var want []failure
	injection := false
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		at := fmt.Sprintf("%s:%d", filepath.Base(file), n)
		switch {
		case strings.TrimSpace(line) == "":
			continue
		case strings.HasPrefix(line, "#>"):
			fields := strings.Fields(strings.TrimPrefix(line, "#>"))
			if len(fields) != 2 {
				t.Fatalf("%s: want \"#> ADDRESS CATEGORY\", got %q", at, line)
			}
			a, err := netip.ParseAddr(fields[0])
			if err != nil {
				t.Fatalf("%s: %v", at, err)
			}
			want = append(want, failure{a, fields[1]})
			continue
		case strings.HasPrefix(line, "#!"):
			key, val, _ := strings.Cut(strings.TrimSpace(strings.TrimPrefix(line, "#!")), "=")
			key, val = strings.TrimSpace(key), strings.TrimSpace(val)
			switch key {
			case "filter":
				spec = val
				restart()
			case "now":
				if now, err = time.Parse(time.RFC3339, val); err != nil {
					t.Fatalf("%s: %v", at, err)
				}
			case "injection":
				injection = true
			default:
				t.Fatalf("%s: unknown directive %q", at, line)
			}
			continue
		case strings.HasPrefix(line, "#"):
			continue
		}
		_, fs := m.MatchRaw(line)
		var got []failure
		for _, fl := range fs {
			if fl.NoFail || fl.Pending {
				continue
			}
			if !fl.Addr.IsValid() {
				t.Errorf("%s: failure without an address (%q)\n\t%s", at, fl.Host, line)
				continue
			}
			got = append(got, failure{fl.Addr, fl.Category})
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s (%s): got %v, want %v\n\t%s", at, spec, got, want, line)
		}
		st.lines++
		st.failures += len(want)
		if injection {
			st.injections++
		}
		want = want[:0]
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(want) > 0 {
		t.Errorf("%s: #> at the end of the file", file)
	}
}

// TestFilterSamples runs every filter over its own sample logs.
func TestFilterSamples(t *testing.T) {
	logs, err := filepath.Glob(filepath.Join("testdata", "filters", "*.log"))
	if err != nil {
		t.Fatal(err)
	}
	byFilter := map[string][]string{}
	for _, l := range logs {
		name, _, _ := strings.Cut(strings.TrimSuffix(path.Base(filepath.ToSlash(l)), ".log"), ".")
		byFilter[name] = append(byFilter[name], l)
	}
	for _, name := range embeddedFilters(t) {
		t.Run(name, func(t *testing.T) {
			files := byFilter[name]
			if len(files) == 0 {
				t.Fatalf("filter %s has no sample log in testdata/filters", name)
			}
			var st sampleStats
			for _, file := range files {
				runSamples(t, file, name, &st)
			}
			t.Logf("%s: %d lines, %d failures, %d injection cases", name, st.lines, st.failures, st.injections)
			if st.failures == 0 {
				t.Errorf("filter %s: its samples have no failure", name)
			}
			if st.injections == 0 {
				t.Errorf("filter %s: its samples have no injection cases (#! injection)", name)
			}
		})
	}
	for name := range byFilter {
		if !slices.Contains(embeddedFilters(t), name) {
			t.Errorf("testdata/filters: %s.log is for no filter", name)
		}
	}
}
