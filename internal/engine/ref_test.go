package engine

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

// refEngine is the engine's policy written the plain way: maps keyed by
// netip.Prefix, the failures of a prefix in a slice sorted and trimmed
// afresh each time, every ban looked at in turn. It leaves out what the
// engine's own tests cover alone (subnet escalation, bantime.rndtime,
// multipliers and formulas) and takes valid addresses and prefixes only.
type refEngine struct {
	now   func() time.Time
	jails map[string]*refJail
	// hist counts the bans of each prefix by jail; "" is every jail.
	hist map[netip.Prefix]map[string]int
}

type refJail struct {
	cfg    JailConfig
	fails  map[netip.Prefix]*refFails
	bans   map[netip.Prefix]ActiveBan
	totalF int
	totalB int
}

type refFails struct {
	times    []time.Time
	weights  []int
	lines    []string
	category string
}

func newRef(now func() time.Time, cfgs []JailConfig) *refEngine {
	r := &refEngine{now: now, jails: map[string]*refJail{}, hist: map[netip.Prefix]map[string]int{}}
	for _, c := range cfgs {
		r.jails[c.Name] = &refJail{cfg: c, fails: map[netip.Prefix]*refFails{}, bans: map[netip.Prefix]ActiveBan{}}
	}
	return r
}

func (j *refJail) maxFind() time.Duration {
	d := j.cfg.FindTime
	for _, w := range j.cfg.Windows {
		d = max(d, w.FindTime)
	}
	return d
}

func (j *refJail) maxRetry() int {
	n := j.cfg.MaxRetry
	for _, w := range j.cfg.Windows {
		n = max(n, w.MaxRetry)
	}
	return n
}

func (j *refJail) ignored(a netip.Addr) bool {
	return j.cfg.Ignore != nil && j.cfg.Ignore.Contains(a)
}

func (j *refJail) overlapsIgnored(p netip.Prefix) bool {
	return j.cfg.Ignore != nil && j.cfg.Ignore.Overlaps(p)
}

func (r *refEngine) earlier(j *refJail, p netip.Prefix) int {
	if j.cfg.Increment != nil && j.cfg.Increment.OverallJails {
		return r.hist[p][""]
	}
	return r.hist[p][j.cfg.Name]
}

func (r *refEngine) banTime(j *refJail, count int) time.Duration {
	base, inc := j.cfg.BanTime, j.cfg.Increment
	if base < 0 || inc == nil || count == 0 {
		return base
	}
	factor := inc.Factor
	if factor == 0 {
		factor = 1
	}
	t := max(base.Seconds(), base.Seconds()*float64(int64(1)<<min(count, 20))*factor)
	if inc.MaxTime > 0 {
		t = min(t, inc.MaxTime.Seconds())
	}
	return max(time.Duration(t*1e9), time.Second)
}

func (r *refEngine) ban(j *refJail, p netip.Prefix, now time.Time, failures int, lines []string, category string, manual bool) Decision {
	end := time.Time{}
	if d := r.banTime(j, r.earlier(j, p)); d > 0 {
		end = now.Add(d)
	}
	if r.hist[p] == nil {
		r.hist[p] = map[string]int{}
	}
	r.hist[p][j.cfg.Name]++
	r.hist[p][""]++
	count := r.hist[p][j.cfg.Name]
	j.bans[p] = ActiveBan{Jail: j.cfg.Name, Prefix: p, Start: now, End: end, Failures: failures, Manual: manual, Count: count, Category: category}
	j.totalB++
	return Decision{Action: Ban, Jail: j.cfg.Name, Prefix: p, Start: now, End: end, Failures: failures, Matches: lines, Manual: manual, Count: count, Category: category}
}

func (r *refEngine) Fail(name string, f Failure) (Outcome, []Decision, error) {
	j, ok := r.jails[name]
	if !ok {
		return 0, nil, ErrUnknownJail
	}
	now := r.now()
	out, d := r.fail(j, f, now)
	if out != Banned {
		return out, nil, nil
	}
	ds := []Decision{d}
	if j.cfg.Recidive {
		return out, ds, nil
	}
	for _, rn := range slices.Sorted(maps.Keys(r.jails)) {
		rj := r.jails[rn]
		if !rj.cfg.Recidive {
			continue
		}
		line := fmt.Sprintf("%s: ban %s (%d failures)", name, prefixString(d.Prefix), d.Failures)
		if o, rd := r.fail(rj, Failure{Addr: d.Prefix.Addr(), Time: d.Start, Line: line, Category: d.Category}, now); o == Banned {
			ds = append(ds, rd)
		}
	}
	return out, ds, nil
}

func (r *refEngine) fail(j *refJail, f Failure, now time.Time) (Outcome, Decision) {
	a := f.Addr.Unmap()
	if j.ignored(a) {
		return Ignored, Decision{}
	}
	t := f.Time
	if t.IsZero() || t.After(now) {
		t = now
	}
	if !t.After(now.Add(-j.maxFind())) {
		return Stale, Decision{}
	}
	for p := range j.bans {
		if p.Contains(a.WithZone("")) { // a zone does not matter
			return AlreadyBanned, Decision{}
		}
	}
	bits := j.cfg.Prefix4
	if a.Is6() {
		bits = j.cfg.Prefix6
	}
	if bits == 0 {
		bits = a.BitLen()
	}
	p, _ := a.Prefix(bits)
	if !p.IsSingleIP() && j.overlapsIgnored(p) {
		p = netip.PrefixFrom(a, a.BitLen())
	}
	j.totalF++
	fl := j.fails[p]
	if fl == nil {
		fl = &refFails{}
		j.fails[p] = fl
	}
	w := 1
	if j.cfg.Increment != nil {
		if n := r.earlier(j, p); n > 1 {
			w = min(1<<min(n-1, 20), j.cfg.MaxRetry)
		}
	}
	// Insert after every failure not after t, then keep the newest
	// maxretry within the longest window.
	i := len(fl.times)
	for i > 0 && fl.times[i-1].After(t) {
		i--
	}
	fl.times = slices.Insert(fl.times, i, t)
	fl.weights = slices.Insert(fl.weights, i, w)
	newest := fl.times[len(fl.times)-1]
	cut := 0
	for cut < len(fl.times) && !fl.times[cut].After(newest.Add(-j.maxFind())) {
		cut++
	}
	cut = max(cut, len(fl.times)-j.maxRetry())
	fl.times, fl.weights = fl.times[cut:], fl.weights[cut:]
	if f.Line != "" {
		fl.lines = append(fl.lines, f.Line)
		if len(fl.lines) > MaxMatches {
			fl.lines = fl.lines[1:]
		}
	}
	if f.Category != "" {
		fl.category = f.Category
	}
	within := func(d time.Duration) int {
		n := 0
		for k := len(fl.times) - 1; k >= 0 && fl.times[k].After(newest.Add(-d)); k-- {
			n += fl.weights[k]
		}
		return n
	}
	n, reached := within(j.cfg.FindTime), false
	if n >= j.cfg.MaxRetry {
		reached = true
	} else {
		for _, win := range j.cfg.Windows {
			if n = within(win.FindTime); n >= win.MaxRetry {
				reached = true
				break
			}
		}
	}
	if !reached {
		return Counted, Decision{}
	}
	delete(j.fails, p)
	return Banned, r.ban(j, p, now, n, append([]string{}, fl.lines...), fl.category, false)
}

func (r *refEngine) ManualBan(req BanRequest) (Decision, error) {
	j, ok := r.jails[req.Jail]
	if !ok {
		return Decision{}, ErrUnknownJail
	}
	p := canonical(req.Prefix)
	if !req.Force && j.overlapsIgnored(p) {
		return Decision{}, ErrIgnored
	}
	for k := range j.fails {
		if p.Overlaps(k) {
			delete(j.fails, k)
		}
	}
	return r.ban(j, p, r.now(), 0, nil, "", true), nil
}

func (r *refEngine) Unban(name string, p netip.Prefix) []Decision {
	p = canonical(p)
	var out []Decision
	for _, j := range r.jails {
		if name != "" && j.cfg.Name != name {
			continue
		}
		for bp := range j.bans {
			if bp == p || (p.IsSingleIP() && bp.Contains(p.Addr())) {
				delete(j.bans, bp)
				out = append(out, Decision{Action: Unban, Jail: j.cfg.Name, Prefix: bp, Reason: ReasonUnbanned})
			}
		}
		for k := range j.fails {
			if p.Overlaps(k) {
				delete(j.fails, k)
			}
		}
	}
	sortDecisions(out)
	return out
}

func (r *refEngine) Expire() []Decision {
	now := r.now()
	var out []Decision
	for _, j := range r.jails {
		for p, b := range j.bans {
			if !b.End.IsZero() && !b.End.After(now) {
				delete(j.bans, p)
				out = append(out, Decision{Action: Unban, Jail: j.cfg.Name, Prefix: p, End: b.End, Reason: ReasonExpired})
			}
		}
		for p, fl := range j.fails {
			if !fl.times[len(fl.times)-1].After(now.Add(-j.maxFind())) {
				delete(j.fails, p)
			}
		}
	}
	sortDecisions(out)
	return out
}

func (r *refEngine) Restore(bans []ActiveBan) int {
	n := 0
	for _, b := range bans {
		if !b.End.IsZero() && !b.End.After(r.now()) {
			continue
		}
		b.Prefix = canonical(b.Prefix)
		j := r.jails[b.Jail]
		j.bans[b.Prefix] = b
		j.totalB++
		n++
	}
	return n
}

func (r *refEngine) SetIgnore(name string, s IgnoreSet) { r.jails[name].cfg.Ignore = s }

func (r *refEngine) Stats(name string) JailStats {
	j := r.jails[name]
	cur := 0
	for _, fl := range j.fails {
		if fl.times[len(fl.times)-1].After(r.now().Add(-j.cfg.FindTime)) {
			cur++
		}
	}
	return JailStats{CurrentlyFailed: cur, TotalFailed: j.totalF, CurrentlyBanned: len(j.bans), TotalBanned: j.totalB}
}

func (r *refEngine) Bans() []ActiveBan {
	var out []ActiveBan
	for _, j := range r.jails {
		for _, b := range j.bans {
			out = append(out, b)
		}
	}
	slices.SortFunc(out, func(a, b ActiveBan) int {
		return cmp.Or(cmp.Compare(a.Jail, b.Jail), comparePrefix(a.Prefix, b.Prefix))
	})
	return out
}

func (r *refEngine) NextExpiry() (time.Time, bool) {
	var next time.Time
	for _, j := range r.jails {
		for _, b := range j.bans {
			if !b.End.IsZero() && (next.IsZero() || b.End.Before(next)) {
				next = b.End
			}
		}
	}
	return next, !next.IsZero()
}

// TestAgainstReference drives the engine and refEngine through the same
// random calls, with the clock moving back and forth, and compares every
// answer.
func TestAgainstReference(t *testing.T) {
	addrs := []string{
		"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.77", "198.51.100.1", "198.51.100.2", "198.51.100.5",
		"::ffff:192.0.2.1", "::ffff:198.51.100.2", "203.0.113.5", "127.0.0.1", "::1", "0.0.0.0", "::", "::ffff:0:1",
		"2001:db8::1", "2001:db8::2", "2001:db8::ffff:1", "2001:db8:0:1::1", "2001:db8:0:1::2",
		"2001:db8:1::1", "2001:db8:1:1::1", "2001:db8:9::5", "2001:db8:9::6", "fe80::1%eth0", "::c000:201",
	}
	prefixes := []string{
		"192.0.2.0/24", "192.0.2.1/32", "192.0.2.0/28", "198.51.100.0/24", "198.51.0.0/16", "::ffff:192.0.2.0/120",
		"::ffff:192.0.2.1/128", "2001:db8::/64", "2001:db8::/48", "2001:db8::1/128", "2001:db8:1::/48",
		"2001:db8:0:1::/64", "2001:db8::/32", "203.0.113.0/24", "0.0.0.0/0", "::/0", "::ffff:0:0/95", "::/96", "::c000:200/120",
	}
	ignores := []IgnoreSet{
		withIgnore(),
		withIgnore(mustPrefix("2001:db8:9::5/128"), mustPrefix("192.0.2.77/32")),
		withIgnore(mustPrefix("2001:db8::/126"), mustPrefix("198.51.100.0/30")),
		nil,
	}
	jails := func(r *rand.Rand) []JailConfig {
		var cfgs []JailConfig
		for _, name := range []string{"a", "b", "recidive"} {
			c := JailConfig{
				Name: name, MaxRetry: 1 + r.IntN(6), FindTime: time.Duration(1+r.IntN(20)) * time.Minute,
				BanTime: time.Duration(1+r.IntN(30)) * time.Minute, Prefix4: []int{0, 32, 24}[r.IntN(3)],
				Prefix6: []int{0, 64, 48, 128}[r.IntN(4)], Ignore: ignores[r.IntN(len(ignores))], Recidive: name == "recidive",
			}
			if r.IntN(5) == 0 {
				c.BanTime = Permanent
			}
			if r.IntN(3) == 0 {
				c.Windows = []Window{{MaxRetry: 5 + r.IntN(10), FindTime: time.Hour}}
			}
			if r.IntN(2) == 0 {
				c.Increment = &Increment{OverallJails: r.IntN(2) == 0, Factor: float64(r.IntN(3)), MaxTime: time.Duration(r.IntN(3)) * time.Hour}
			}
			cfgs = append(cfgs, c)
		}
		return cfgs
	}
	for seed := range uint64(30) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 2))
			cfgs := jails(r)
			e, c := newEngine(t, cfgs...)
			ref := newRef(c.now, cfgs)
			names := e.Jails()
			same := func(step int, what string, got, want any) {
				t.Helper()
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("step %d (%s):\n got %+v\nwant %+v", step, what, got, want)
				}
			}
			for step := range 1500 {
				var what string
				switch k := r.IntN(100); {
				case k < 15:
					d := time.Duration(r.Int64N(int64(6*time.Minute))) - time.Minute
					c.advance(d)
					what = fmt.Sprintf("clock %+v", d)
				case k < 70:
					f := Failure{Addr: netip.MustParseAddr(addrs[r.IntN(len(addrs))])}
					switch r.IntN(4) {
					case 0:
					case 1:
						f.Time = c.t.Add(time.Minute)
					default:
						f.Time = c.t.Add(-time.Duration(r.Int64N(int64(30 * time.Minute))))
					}
					if r.IntN(4) != 0 {
						f.Line = fmt.Sprint("line ", step)
					}
					if r.IntN(3) == 0 {
						f.Category = "c"
					}
					name := names[r.IntN(len(names))]
					what = fmt.Sprintf("fail %s %v at %v", name, f.Addr, f.Time)
					out, ds, err := e.Fail(name, f)
					wout, wds, werr := ref.Fail(name, f)
					same(step, what, []any{out, ds, err}, []any{wout, wds, werr})
				case k < 78:
					what = "expire"
					same(step, what, e.Expire(), ref.Expire())
				case k < 84:
					req := BanRequest{Jail: names[r.IntN(len(names))], Prefix: mustPrefix(prefixes[r.IntN(len(prefixes))]), Force: r.IntN(3) == 0}
					what = fmt.Sprintf("ban %+v", req)
					d, err := e.ManualBan(req)
					wd, werr := ref.ManualBan(req)
					if !errors.Is(err, werr) {
						t.Fatalf("step %d (%s): error %v, want %v", step, what, err, werr)
					}
					same(step, what, d, wd)
				case k < 90:
					p := mustPrefix(prefixes[r.IntN(len(prefixes))])
					if r.IntN(2) == 0 {
						a := netip.MustParseAddr(addrs[r.IntN(len(addrs))])
						p = netip.PrefixFrom(a, a.BitLen())
					}
					name := []string{"", names[r.IntN(len(names))]}[r.IntN(2)]
					what = fmt.Sprintf("unban %q %v", name, p)
					ds, err := e.Unban(name, p)
					if err != nil {
						t.Fatal(err)
					}
					same(step, what, ds, ref.Unban(name, p))
				case k < 93:
					name, s := names[r.IntN(len(names))], ignores[r.IntN(len(ignores))]
					what = "set ignore " + name
					if err := e.SetIgnore(name, s); err != nil {
						t.Fatal(err)
					}
					ref.SetIgnore(name, s)
				case k < 95:
					b := ActiveBan{Jail: names[r.IntN(len(names))], Prefix: mustPrefix(prefixes[r.IntN(len(prefixes))]),
						Start: c.t.Add(-time.Hour), End: c.t.Add(time.Duration(r.IntN(90)-30) * time.Minute), Count: 1}
					what = fmt.Sprintf("restore %+v", b)
					n, err := e.Restore([]ActiveBan{b})
					if err != nil {
						t.Fatal(err)
					}
					same(step, what, n, ref.Restore([]ActiveBan{b}))
				default:
					what = "look"
				}
				for _, name := range names {
					st, _ := e.Stats(name)
					same(step, what+": stats of "+name, st, ref.Stats(name))
				}
				bans, _ := e.Bans("")
				same(step, what+": bans", bans, ref.Bans())
				next, ok := e.NextExpiry()
				wnext, wok := ref.NextExpiry()
				same(step, what+": next expiry", []any{next, ok}, []any{wnext, wok})
				p := canonical(mustPrefix(prefixes[r.IntN(len(prefixes))]))
				for _, name := range []string{"", "a", "b", "recidive"} {
					same(step, what+": ban count", e.BanCount(name, p), ref.hist[p][name])
				}
			}
		})
	}
}
