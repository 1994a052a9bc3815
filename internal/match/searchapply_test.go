package match

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/config"
	"github.com/gaol-project/gaol/internal/testutil/authlog"
	"github.com/gaol-project/gaol/internal/testutil/f2btree"
)

// sshdFilters are the sshd filters of the Search/Apply benchmarks and
// tests: gaol's own (the embedded defaults, with <F-MLFID> connections)
// and fail2ban's stock one (from .cache/fail2ban; skipped without it).
var sshdFilters = []struct {
	name string
	load func(testing.TB) *Filter
}{
	{"gaol", func(tb testing.TB) *Filter { return loadConfigFilter(tb, "", "sshd") }},
	{"fail2ban", func(tb testing.TB) *Filter {
		return loadConfigFilter(tb, "", filepath.Join(f2btree.Get(tb).Etc(), "filter.d", "sshd.conf"))
	}},
}

// loadConfigFilter loads a filter as `gaol regex` does.
func loadConfigFilter(tb testing.TB, dir, arg string) *Filter {
	tb.Helper()
	cf, err := config.LoadFilter(dir, arg)
	if err != nil {
		tb.Fatal(err)
	}
	spec := Spec{Name: cf.Name, PrefRegex: cf.PrefRegex.Expr, DatePattern: cf.DatePattern, MaxLines: cf.MaxLines, Category: cf.Category}
	for _, r := range cf.FailRegex {
		spec.FailRegex = append(spec.FailRegex, r.Expr)
	}
	for _, r := range cf.IgnoreRegex {
		spec.IgnoreRegex = append(spec.IgnoreRegex, r.Expr)
	}
	f := mustCompile(tb, spec)
	if !f.Searchable() || !f.Stateful() {
		tb.Fatalf("filter %s: want a single-line filter with <F-MLFID>", arg)
	}
	return f
}

// busyAuthLog returns n lines of a busy server's auth.log (interleaved ssh
// connections, each with its own pid, among other programs' lines).
func busyAuthLog(n int) []string {
	var b strings.Builder
	authlog.Write(&b, n, 1)
	return strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
}

// attackAuthLog returns n lines of an attack from many IPv6 addresses, as
// the daemon's benchmark of 10,000 bans writes them: every line a failed
// password of a connection of its own.
func attackAuthLog(n int) []string {
	out := make([]string, n)
	for i := range out {
		a := i % 10000
		out[i] = fmt.Sprintf("Mar  1 23:59:59 web1 sshd[%d]: Failed password for invalid user admin from 2001:db8:%x:%x::%x port %d ssh2",
			1000+i%30000, a>>16, a&0xffff, a%251+1, 1024+i%60000)
	}
	return out
}

// authLogNow is the clock of busyAuthLog: shortly after its lines.
var authLogNow = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// BenchmarkSearchApply measures, per line of a busy auth.log and of an
// attack, the two
// halves of matching with an sshd filter that follows connections: the
// search (run on workers, in parallel) and the ordered apply (one
// goroutine), as the daemon (CheckAll off, Transient) and `gaol regex`
// (CheckAll on) run them.
func BenchmarkSearchApply(b *testing.B) {
	logs := []struct {
		name string
		raws []string
	}{{"busy", busyAuthLog(8192)}, {"attack", attackAuthLog(8192)}}
	for _, flt := range sshdFilters {
		for _, mode := range []struct {
			name string
			all  bool
		}{{"daemon", false}, {"regex", true}} {
			for _, lg := range logs {
				raws := lg.raws
				b.Run(flt.name+"/"+mode.name+"/"+lg.name, func(b *testing.B) {
					f := flt.load(b)
					newMatcher := func() *Matcher {
						m, err := f.NewMatcher(MatcherOptions{Now: func() time.Time { return authLogNow }, Location: time.UTC, CheckAll: mode.all, NoFields: true, Transient: !mode.all})
						if err != nil {
							b.Fatal(err)
						}
						return m
					}
					lines := make([]Line, len(raws))
					d := newMatcher().Detector()
					for i, raw := range raws {
						lines[i] = Prepare(raw, d)
					}
					b.Run("Search", func(b *testing.B) {
						b.ReportAllocs()
						for i := 0; i < b.N; i++ {
							f.Search(lines[i%len(lines)], mode.all)
						}
					})
					b.Run("Apply", func(b *testing.B) {
						m := newMatcher()
						searches := make([]Search, len(lines))
						fill := func() {
							for i, l := range lines {
								searches[i] = f.Search(l, mode.all)
							}
						}
						fill()
						b.ReportAllocs()
						b.ResetTimer()
						for i := 0; i < b.N; i++ {
							k := i % len(lines)
							if k == 0 && i > 0 {
								b.StopTimer()
								fill()
								b.StartTimer()
							}
							m.Apply(lines[k], searches[k])
						}
					})
				})
			}
		}
	}
}

// describeAll renders failures in full: every field, nil lists told from
// empty ones.
func describeAll(fs []Failure) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d nil=%v", len(fs), fs == nil)
	for _, f := range fs {
		a := f.Addr
		f.Addr = netip.Addr{}
		fmt.Fprintf(&b, " {%s %#v}", a, f)
	}
	return b.String()
}

// TestSearchApplySSHD checks, over a busy auth.log, that lines searched
// on several goroutines, all before any is applied, give what Match gives
// line by line, and that no failure changes once returned (connections
// reuse their state, searches their buffers).
func TestSearchApplySSHD(t *testing.T) {
	raws := append(busyAuthLog(20000), attackAuthLog(2000)...)
	for _, flt := range sshdFilters {
		f := flt.load(t)
		for _, all := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/checkall=%v", flt.name, all), func(t *testing.T) {
				newMatcher := func() *Matcher {
					m, err := f.NewMatcher(MatcherOptions{Now: func() time.Time { return authLogNow }, Location: time.UTC, CheckAll: all})
					if err != nil {
						t.Fatal(err)
					}
					return m
				}
				ref, m := newMatcher(), newMatcher()
				lines := make([]Line, len(raws))
				want := make([]string, len(raws))
				for i, raw := range raws {
					lines[i] = Prepare(raw, ref.Detector())
					want[i] = describeAll(ref.Match(lines[i]))
				}
				searches := make([]Search, len(lines))
				const workers = 4
				var wg sync.WaitGroup
				for w := range workers {
					wg.Go(func() {
						for i := w; i < len(lines); i += workers {
							searches[i] = f.Search(lines[i], all)
						}
					})
				}
				wg.Wait()
				got := make([][]Failure, len(lines))
				for i := range lines {
					got[i] = m.Apply(lines[i], searches[i])
					if s := describeAll(got[i]); s != want[i] {
						t.Fatalf("line %d %q:\ngot  %s\nwant %s", i+1, raws[i], s, want[i])
					}
				}
				for i := range got {
					if s := describeAll(got[i]); s != want[i] {
						t.Fatalf("line %d %q changed once returned:\ngot  %s\nwant %s", i+1, raws[i], s, want[i])
					}
				}
				if fmt.Sprint(m.Hits()) != fmt.Sprint(ref.Hits()) {
					t.Errorf("hits %v, want %v", fmt.Sprint(m.Hits()), fmt.Sprint(ref.Hits()))
				}
				// A Transient Matcher gives the same, each valid until
				// its next call, by Apply and by Match.
				for _, apply := range []bool{true, false} {
					tm, err := f.NewMatcher(MatcherOptions{Now: func() time.Time { return authLogNow }, Location: time.UTC, CheckAll: all, Transient: true})
					if err != nil {
						t.Fatal(err)
					}
					for i := range lines {
						var fs []Failure
						if apply {
							fs = tm.Apply(lines[i], searches[i])
						} else {
							fs = tm.Match(lines[i])
						}
						if s := describeAll(fs); s != want[i] {
							t.Fatalf("transient, apply=%v, line %d %q:\ngot  %s\nwant %s", apply, i+1, raws[i], s, want[i])
						}
					}
				}
			})
		}
	}
}

// TestSearchLineEnd checks the groups that take in the "\n" a line is
// searched with (the search's own: they must not change when the next
// line is searched), on the line and on a prefregex's content that does
// not end the line.
func TestSearchLineEnd(t *testing.T) {
	f := mustCompile(t, Spec{
		PrefRegex: `^<F-MLFID>\S+</F-MLFID>: <F-CONTENT>[^|]+</F-CONTENT>(?:\| end)?$`,
		FailRegex: []string{`^bad <HOST>(?P<tail>\s*)$`},
	})
	lines := []string{"srv[1]: bad 192.0.2.1 | end", "srv[2]: bad 192.0.2.2", "srv[3]: bad 192.0.2.3 ", "srv[4]: bad 2001:db8::4  | end"}
	// [^|]+ takes in the line's "\n" too: the content is then searched
	// with another.
	want := []string{`192.0.2.1 srv[1] " \n"`, `192.0.2.2 srv[2] "\n\n"`, `192.0.2.3 srv[3] " \n\n"`, `2001:db8::4 srv[4] "  \n"`}
	searches := make([]Search, len(lines))
	for i, l := range lines {
		searches[i] = f.Search(Line{Raw: l, Text: l}, false)
	}
	m, err := f.NewMatcher(MatcherOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range lines {
		fs := m.Apply(Line{Raw: l, Text: l}, searches[i])
		if len(fs) != 1 {
			t.Fatalf("%q: %d failures", l, len(fs))
		}
		if got := fmt.Sprintf("%s %s %q", fs[0].Addr, fs[0].Fields["mlfid"], fs[0].Fields["tail"]); got != want[i] {
			t.Errorf("%q: %s, want %s", l, got, want[i])
		}
	}
}

// FuzzSearchApply checks that lines searched all before any is applied
// give what Match gives line by line, with gaol's sshd filter (the input
// is split into lines at "\n").
func FuzzSearchApply(f *testing.F) {
	raws := busyAuthLog(400)
	for i := 0; i+8 <= len(raws); i += 8 {
		f.Add(strings.Join(raws[i:i+8], "\n"))
	}
	filter := sshdFilters[0].load(f)
	f.Fuzz(func(t *testing.T, in string) {
		lines := strings.Split(in, "\n")
		if len(lines) > 64 {
			lines = lines[:64]
		}
		for _, all := range []bool{false, true} {
			o := MatcherOptions{Now: func() time.Time { return authLogNow }, Location: time.UTC, CheckAll: all}
			ref, err := filter.NewMatcher(o)
			if err != nil {
				t.Fatal(err)
			}
			m, _ := filter.NewMatcher(o)
			prepared := make([]Line, len(lines))
			searches := make([]Search, len(lines))
			for i, raw := range lines {
				prepared[i] = Prepare(raw, m.Detector())
				searches[i] = filter.Search(prepared[i], all)
			}
			for i, l := range prepared {
				want := describeAll(ref.Match(l))
				if got := describeAll(m.Apply(l, searches[i])); got != want {
					t.Fatalf("checkall=%v line %d %q:\ngot  %s\nwant %s", all, i+1, l.Raw, got, want)
				}
			}
		}
	})
}
