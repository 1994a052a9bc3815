package conformance

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/match"
)

// fail2ban's test clock and zone (tests/utils.py): 2005-08-14T10:00:00Z,
// TZ=CET-01CEST-02,M3.5.0,M10.5.0.
const (
	testNow = 1124013600
	testTZ  = "CET-01CEST-02,M3.5.0,M10.5.0"
)

// testNowStr is TEST_NOW_STR, the journal's date text in the tests.
var testNowStr = time.Unix(testNow, 0).UTC().Format("2006-01-02T15:04:05")

// posixZone returns a location for a POSIX TZ rule string, as a TZif file
// with no transitions and the rule as its footer.
func posixZone(name, rule string) (*time.Location, error) {
	var b bytes.Buffer
	header := func(version byte) {
		b.WriteString("TZif")
		b.WriteByte(version)
		b.Write(make([]byte, 15))
		// isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt
		for _, n := range []uint32{0, 0, 0, 0, 1, 4} {
			binary.Write(&b, binary.BigEndian, n) //nolint:errcheck // bytes.Buffer
		}
		// One local time type: UTC+1, not DST, designation "CET".
		binary.Write(&b, binary.BigEndian, int32(3600)) //nolint:errcheck // bytes.Buffer
		b.Write([]byte{0, 0})
		b.WriteString("CET\x00")
	}
	header('2')
	header('2')
	b.WriteString("\n" + rule + "\n")
	return time.LoadLocationFromTZData(name, b.Bytes())
}

// jsonLineRE recognizes the annotations of a sample log.
var jsonLineRE = regexp.MustCompile(`^#+ ?(failJSON|(?:file|filter)Options|addFILE):(.+)$`)

// combo is a filter with one set of options (fail2ban's fltName).
type combo struct {
	name string         // fltName: the filter's name and its options
	opts map[string]any // all options, test.* included
	f    *match.Filter
	m    *match.Matcher
	err  error // loading or compiling the filter failed
	used map[int]bool
}

// filterResult is the outcome of one filter's samples.
type filterResult struct {
	name     string
	checks   int
	passed   int
	failures []string
	re2      bool // every expression of the filter (default options) runs on RE2
	// matchDiffs are lines where Filter.Match and the Matcher disagree.
	matchDiffs  []string
	matchChecks int
	// Kinds of checks: lines with a failJSON annotation, other lines
	// (which must not match), and failregexes that need a sample.
	annotated, plain, coverage int
	exprs                      int
	re2Exprs                   int
}

// runner evaluates the samples of one filter as fail2ban's
// samplestestcase.testSampleRegexsFactory.
type runner struct {
	tr      tree
	name    string
	loc     *time.Location
	filters map[string]*config.Filter // loaded filters by options key
	loadErr error
	combos  map[string]*combo // by fltName
	res     *filterResult
	usedRe  map[string]bool
}

// optionsKey renders filter options as a stable key.
func optionsKey(opts map[string]any) string {
	keys := make([]string, 0, len(opts))
	for k := range opts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%v;", k, opts[k])
	}
	return b.String()
}

// filterOpts returns the options without the test.* ones.
func filterOpts(opts map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range opts {
		if !strings.HasPrefix(k, "test.") {
			out[k] = v
		}
	}
	return out
}

// pyDictRepr renders options as Python's str(dict) does, for fltName.
func pyDictRepr(opts map[string]any, order []string) string {
	if len(opts) == 0 {
		return ""
	}
	var parts []string
	for _, k := range order {
		v, ok := opts[k]
		if !ok {
			continue
		}
		parts = append(parts, fmt.Sprintf("'%s': '%v'", k, v))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// readLines reads a sample log as fail2ban's FileContainer with UTF-8:
// lines without their end, invalid bytes replaced.
func readLines(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if !utf8.ValidString(line) {
			var b strings.Builder
			for i := 0; i < len(line); {
				r, w := utf8.DecodeRuneInString(line[i:])
				b.WriteRune(r)
				i += w
			}
			line = b.String()
		}
		out = append(out, strings.TrimRight(line, "\r\n"))
	}
	return out, sc.Err()
}

// optionSets scans the sample files of a filter for the option
// combinations its annotations use, so that all can be loaded at once.
func (r *runner) optionSets() ([]map[string]any, error) {
	sets := []map[string]any{{}}
	files := []string{r.name}
	common := map[string]any{}
	for i := 0; i < len(files); i++ {
		lines, err := readLines(filepath.Join(r.tr.logs(), files[i]))
		if err != nil {
			return nil, err
		}
		for _, line := range lines {
			m := jsonLineRE.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			var v any
			if err := json.Unmarshal([]byte(m[2]), &v); err != nil {
				continue
			}
			switch m[1] {
			case "fileOptions":
				if o, ok := v.(map[string]any); ok {
					common = o
				}
			case "addFILE":
				if s, ok := v.(string); ok {
					files = append(files, s)
				}
			case "filterOptions":
				list, ok := v.([]any)
				if !ok {
					list = []any{v}
				}
				for _, x := range list {
					o, _ := x.(map[string]any)
					merged := map[string]any{}
					for k, v := range common {
						merged[k] = v
					}
					for k, v := range o {
						merged[k] = v
					}
					sets = append(sets, filterOpts(merged))
				}
			}
		}
	}
	return sets, nil
}

// load loads the filter with every option set through package config,
// from a configuration directory that is fail2ban's /etc/fail2ban with a
// jail.local that enables one jail per option set.
func (r *runner) load(dir string) {
	sets, err := r.optionSets()
	if err != nil {
		r.loadErr = err
		return
	}
	r.filters = map[string]*config.Filter{}
	var local strings.Builder
	names := map[string]string{}
	for i, o := range sets {
		key := optionsKey(o)
		if _, dup := names[key]; dup {
			continue
		}
		jail := fmt.Sprintf("gaolt-%d", i)
		names[key] = jail
		spec := r.name
		if spec == "recidive" {
			spec = recidiveAlias
		}
		if len(o) > 0 {
			keys := make([]string, 0, len(o))
			for k := range o {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var parts []string
			for _, k := range keys {
				parts = append(parts, fmt.Sprintf("%s=\"%v\"", k, o[k]))
			}
			spec += "[" + strings.Join(parts, ", ") + "]"
		}
		fmt.Fprintf(&local, "[%s]\nenabled = true\nfilter = %s\nlogpath = /dev/null\nbackend = auto\n\n", jail, spec)
	}
	if err := os.WriteFile(filepath.Join(dir, "jail.local"), []byte(local.String()), 0o644); err != nil {
		r.loadErr = err
		return
	}
	cfg, err := config.Load(dir)
	if err != nil {
		r.loadErr = err
		return
	}
	for key, jail := range names {
		j, ok := cfg.Jail(jail)
		if !ok || j.Filter == nil {
			r.loadErr = fmt.Errorf("jail %s: no filter", jail)
			return
		}
		r.filters[key] = j.Filter
	}
}

// spec turns a loaded filter into a match.Spec, as samplestestcase sets
// up its Filter (usedns "warn", the default of a Filter).
func spec(f *config.Filter) match.Spec {
	s := match.Spec{Name: f.Name, PrefRegex: f.PrefRegex.Expr, DatePattern: f.DatePattern, MaxLines: f.MaxLines, UseDNS: "warn"}
	for _, e := range f.FailRegex {
		s.FailRegex = append(s.FailRegex, e.Expr)
	}
	for _, e := range f.IgnoreRegex {
		s.IgnoreRegex = append(s.IgnoreRegex, e.Expr)
	}
	return s
}

// readFilter returns the filter for fltName with opts, created on first
// use (its state is kept across the sample files, as fail2ban's test
// keeps its Filter objects).
func (r *runner) readFilter(fltName string, opts map[string]any) *combo {
	if c, ok := r.combos[fltName]; ok {
		return c
	}
	c := &combo{name: fltName, opts: opts, used: map[int]bool{}}
	r.combos[fltName] = c
	if r.loadErr != nil {
		c.err = r.loadErr
		return c
	}
	cf, ok := r.filters[optionsKey(filterOpts(opts))]
	if !ok {
		c.err = fmt.Errorf("options %v were not loaded", filterOpts(opts))
		return c
	}
	if c.f, c.err = match.Compile(spec(cf)); c.err != nil {
		return c
	}
	now := time.Unix(testNow, 0)
	c.m, c.err = c.f.NewMatcher(match.MatcherOptions{
		Now:      func() time.Time { return now },
		Location: r.loc,
		CheckAll: true,
	})
	return c
}

// test is one filter of a test: its name, filter and options.
type test struct {
	c    *combo
	opts map[string]any
}

// run evaluates the samples.
func (r *runner) run() {
	r.combos = map[string]*combo{}
	files := []string{r.name}
	common := map[string]any{}
	var commonOrder []string
	var faildata map[string]any
	var tests []test
	for i := 0; i < len(files); i++ {
		file := files[i]
		lines, err := readLines(filepath.Join(r.tr.logs(), file))
		if err != nil {
			r.fail(fmt.Sprintf("%s: %v", file, err))
			continue
		}
		ignoreBlock := false
		for n := 0; n < len(lines); n++ {
			line := lines[n]
			lnnum := n + 1
			if m := jsonLineRE.FindStringSubmatch(line); m != nil {
				var v any
				dec := json.NewDecoder(strings.NewReader(m[2]))
				if err := dec.Decode(&v); err != nil {
					r.fail(fmt.Sprintf("%s:%d: bad JSON: %v", file, lnnum, err))
					continue
				}
				switch m[1] {
				case "fileOptions":
					common, _ = v.(map[string]any)
					commonOrder = jsonKeys(m[2])
					continue
				case "filterOptions":
					tests = nil
					ignoreBlock = false
					list, ok := v.([]any)
					raw := []string{m[2]}
					if !ok {
						list = []any{v}
					} else {
						raw = splitJSONArray(m[2])
					}
					for k, x := range list {
						o, _ := x.(map[string]any)
						order := append(slices.Clone(commonOrder), jsonKeys(raw[min(k, len(raw)-1)])...)
						opts := map[string]any{}
						for k, v := range common {
							opts[k] = v
						}
						for k, v := range o {
							opts[k] = v
						}
						if cond, _ := opts["test.condition"].(string); cond != "" {
							ok, err := evalCondition(cond, r.name, opts)
							if err != nil {
								r.fail(fmt.Sprintf("%s:%d: test.condition: %v", file, lnnum, err))
							}
							ignoreBlock = !ok
						}
						if ignoreBlock {
							continue
						}
						fopts := filterOpts(opts)
						fltName, _ := opts["test.filter-name"].(string)
						if fltName == "" {
							fltName = pyDictRepr(fopts, dedup(order))
						}
						tests = append(tests, test{c: r.readFilter(r.name+fltName, opts), opts: opts})
					}
					continue
				case "addFILE":
					if s, ok := v.(string); ok {
						files = append(files, s)
					}
					continue
				}
				faildata, _ = v.(map[string]any)
				// The annotated line is the next one.
				n++
				if n >= len(lines) {
					break
				}
				line = lines[n]
			} else if ignoreBlock || strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
				continue
			} else {
				faildata = map[string]any{}
			}
			if ignoreBlock {
				continue
			}
			if len(tests) == 0 {
				tests = []test{{c: r.readFilter(r.name, map[string]any{}), opts: map[string]any{}}}
			}
			line = strings.TrimRight(line, "\r\n")
			for _, tt := range tests {
				if cons, _ := faildata["constraint"].(string); cons != "" {
					ok, err := evalCondition(cons, r.name, tt.opts)
					if err != nil {
						r.fail(fmt.Sprintf("%s:%d: constraint: %v", file, lnnum, err))
						continue
					}
					if !ok {
						continue
					}
				}
				r.check(file, lnnum, line, tt, faildata)
			}
		}
	}
	// Every failregex of every filter must have a sample.
	for _, name := range sortedKeys(r.combos) {
		c := r.combos[name]
		if c.f == nil {
			continue
		}
		for i, e := range c.f.Exprs() {
			if e.Kind != "failregex" {
				continue
			}
			_ = i
			r.res.checks++
			r.res.coverage++
			if c.used[e.Index] || r.usedRe[e.Source] {
				r.res.passed++
				continue
			}
			r.res.failures = append(r.res.failures, fmt.Sprintf("%s: failregex #%d has no sample that matches: %q", c.name, e.Index+1, e.Source))
		}
	}
}

// check evaluates one line with one filter, as the body of
// samplestestcase's loop.
func (r *runner) check(file string, lnnum int, line string, tt test, faildata map[string]any) {
	r.res.checks++
	if len(faildata) > 0 {
		r.res.annotated++
	} else {
		r.res.plain++
	}
	c := tt.c
	where := fmt.Sprintf("%s: %s:%d", c.name, file, lnnum)
	if c.err != nil {
		r.res.failures = append(r.res.failures, fmt.Sprintf("%s: filter: %v", where, c.err))
		return
	}
	var fails []match.Failure
	if tt.opts["logtype"] == "journal" {
		if p, _ := tt.opts["test.prefix-line"].(string); p != "" {
			line = p + line
		}
		now := time.Unix(testNow, 0).In(r.loc)
		fails = c.m.Match(match.Line{Raw: testNowStr + line, Text: line, Time: now, HasTime: true})
	} else {
		_, fails = c.m.MatchRaw(line)
	}
	if tt.opts["logtype"] != "journal" && !c.f.Stateful() {
		r.checkMatch(where, line, c, fails)
	}
	var found []match.Failure
	for _, f := range fails {
		if f.Pending || f.NoFail {
			c.used[f.Regex] = true
			r.usedRe[regexSource(c, f.Regex)] = true
			continue
		}
		found = append(found, f)
	}
	want, _ := faildata["match"].(bool)
	if len(found) == 0 {
		if want {
			r.res.failures = append(r.res.failures, fmt.Sprintf("%s: not matched, should have: %s", where, clip(line)))
			return
		}
		r.res.passed++
		return
	}
	if !want {
		r.res.failures = append(r.res.failures, fmt.Sprintf("%s: matched (failregex #%d, host %q), should not have: %s", where, found[0].Regex+1, found[0].Host, clip(line)))
		return
	}
	if len(found) != 1 {
		var idx []string
		for _, f := range found {
			idx = append(idx, strconv.Itoa(f.Regex+1))
		}
		r.res.failures = append(r.res.failures, fmt.Sprintf("%s: several failregexes matched (#%s): %s", where, strings.Join(idx, ", #"), clip(line)))
		return
	}
	f := found[0]
	for _, k := range sortedKeys(faildata) {
		v := faildata[k]
		switch k {
		case "time", "match", "desc", "constraint":
			continue
		}
		if msg := compareField(k, v, &f); msg != "" {
			r.res.failures = append(r.res.failures, fmt.Sprintf("%s: %s (failregex #%d): %s", where, msg, f.Regex+1, clip(line)))
			return
		}
	}
	if ts, ok := faildata["time"].(string); ok {
		if msg := compareTime(ts, &f, r.loc); msg != "" {
			r.res.failures = append(r.res.failures, fmt.Sprintf("%s: %s: %s", where, msg, clip(line)))
			return
		}
	}
	c.used[f.Regex] = true
	r.usedRe[regexSource(c, f.Regex)] = true
	r.res.passed++
}

// checkMatch compares Filter.Match, the daemon's stateless path, with
// the Matcher on a line of a filter that needs no state: the first
// failregex that matched must be the one Match reports.
func (r *runner) checkMatch(where, raw string, c *combo, fails []match.Failure) {
	r.res.matchChecks++
	l := match.Prepare(raw, c.m.Detector())
	got := c.f.Match(l)
	want := match.Result{}
	if len(fails) > 0 && !fails[0].NoFail {
		want = match.Result{Matched: fails[0].Addr.IsValid(), Unresolved: !fails[0].Addr.IsValid(), Addr: fails[0].Addr, Bits: fails[0].Bits, Host: fails[0].Host, HostName: fails[0].HostName, Regex: fails[0].Regex}
	}
	if got.Ignored {
		got = match.Result{}
	}
	if len(fails) > 0 && fails[0].NoFail {
		got.Regex = 0
	}
	if got != want {
		r.res.matchDiffs = append(r.res.matchDiffs, fmt.Sprintf("%s: Filter.Match %+v, Matcher %+v: %s", where, got, want, clip(raw)))
	}
}

func regexSource(c *combo, i int) string {
	for _, e := range c.f.Exprs() {
		if e.Kind == "failregex" && e.Index == i {
			return e.Source
		}
	}
	return ""
}

// compareField compares a captured field with the annotation's value, as
// samplestestcase: a missing "host" is the failure ID, a missing
// "attempts" the number of matched lines, sets compare sorted.
func compareField(k string, want any, f *match.Failure) string {
	got, ok := f.Fields[k]
	switch {
	case k == "users":
		w, _ := want.([]any)
		var ws []string
		for _, x := range w {
			ws = append(ws, fmt.Sprint(x))
		}
		gs := slices.Clone(f.Users)
		slices.Sort(ws)
		slices.Sort(gs)
		if !slices.Equal(ws, gs) {
			return fmt.Sprintf("users %v, want %v", gs, ws)
		}
		return ""
	case k == "attempts" && !ok:
		if n, _ := want.(float64); int(n) != len(f.Matches) {
			return fmt.Sprintf("attempts %d, want %v", len(f.Matches), want)
		}
		return ""
	case k == "host" && !ok:
		w, _ := want.(string)
		if !hostEqual(f, w) {
			id := f.Host
			if f.ID != "" {
				id = f.ID
			}
			return fmt.Sprintf("host %q, want %q", id, w)
		}
		return ""
	}
	if want == nil {
		if ok {
			return fmt.Sprintf("%s %q, want None", k, got)
		}
		return ""
	}
	if !ok {
		return fmt.Sprintf("%s missing, want %v", k, want)
	}
	if w := fmt.Sprint(want); got != w {
		return fmt.Sprintf("%s %q, want %q", k, got, w)
	}
	return ""
}

// hostEqual compares the failure ID with an annotation's host as
// fail2ban's IPAddr does: addresses (and networks) by value, anything
// else as text.
func hostEqual(f *match.Failure, want string) bool {
	if f.ID != "" {
		return f.ID == want
	}
	_, ip4 := f.Fields["ip4"]
	_, ip6 := f.Fields["ip6"]
	if !(ip4 || ip6) || !f.Addr.IsValid() {
		return f.Host == want
	}
	w := strings.Trim(want, "[]")
	if p, err := netip.ParsePrefix(w); err == nil {
		return f.Bits == p.Bits() && f.Addr == p.Addr().Unmap()
	}
	a, err := netip.ParseAddr(w)
	if err != nil {
		return false
	}
	return f.Bits == 0 && f.Addr == a.Unmap()
}

// annotationTimeRE is Python's strptime with "%Y-%m-%dT%H:%M:%S" or
// "...%S.%f": fields of one or two digits.
var annotationTimeRE = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d{1,6}))?$`)

// compareTime compares the failure's time with an annotation's time,
// local time of the test zone, as samplestestcase does with mktime.
func compareTime(ts string, f *match.Failure, loc *time.Location) string {
	m := annotationTimeRE.FindStringSubmatch(ts)
	if m == nil {
		return fmt.Sprintf("bad time %q in the annotation", ts)
	}
	n := make([]int, 7)
	for i := range 6 {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	frac := m[7] != ""
	if frac {
		us, _ := strconv.Atoi((m[7] + "00000")[:6])
		n[6] = us * 1000
	}
	want := time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], n[6], loc)
	if !f.HasTime {
		return fmt.Sprintf("no time, want %s", ts)
	}
	got := f.Time
	if !frac {
		// fail2ban's templates drop fractions of seconds; gaol keeps them.
		got = got.Truncate(time.Second)
	} else {
		got = got.Truncate(time.Microsecond)
	}
	if !got.Equal(want) {
		return fmt.Sprintf("time %s, want %s (%s)", got.In(loc).Format("2006-01-02T15:04:05.999999"), ts, got.Sub(want))
	}
	return ""
}

func (r *runner) fail(msg string) {
	r.res.checks++
	r.res.failures = append(r.res.failures, r.name+": "+msg)
}

func clip(s string) string {
	if len(s) > 160 {
		return s[:160] + "..."
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func dedup(s []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// jsonKeys returns the keys of a JSON object in the order written.
func jsonKeys(s string) []string {
	dec := json.NewDecoder(strings.NewReader(s))
	tok, err := dec.Token()
	if err != nil || tok != json.Delim('{') {
		return nil
	}
	var keys []string
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return keys
		}
		if ks, ok := k.(string); ok {
			keys = append(keys, ks)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return keys
		}
	}
	return keys
}

// splitJSONArray returns the elements of a JSON array as text.
func splitJSONArray(s string) []string {
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(s), &raw); err != nil {
		return []string{s}
	}
	out := make([]string, len(raw))
	for i, r := range raw {
		out[i] = string(r)
	}
	return out
}
