package engine

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"
)

// recountFailed is what Stats' CurrentlyFailed means, counted the
// straightforward way.
func recountFailed(e *Engine, jail string) int {
	j := e.jails[jail]
	cutoff := e.now().Add(-j.cfg.FindTime)
	n := 0
	for _, fl := range j.fails {
		if fl.newest().After(cutoff) {
			n++
		}
	}
	return n
}

// TestStatsCountKept drives an engine through random sequences of every
// call that changes failures, with the clock moving back and forth, and
// checks CurrentlyFailed against a recount after each.
func TestStatsCountKept(t *testing.T) {
	addrs := []string{
		"192.0.2.1", "192.0.2.2", "192.0.2.3", "198.51.100.1", "198.51.100.2", "::ffff:192.0.2.1",
		"2001:db8::1", "2001:db8::2", "2001:db8:0:1::1", "2001:db8:0:2::1", "2001:db8:1::1",
		"203.0.113.5", // ignored
	}
	prefixes := []string{"192.0.2.0/24", "192.0.2.1/32", "198.51.100.0/24", "2001:db8::/48", "2001:db8::1/128", "2001:db8::/64"}
	jails := func(r *rand.Rand) []JailConfig {
		a := sshd()
		a.Name = "a"
		a.MaxRetry = 2 + r.IntN(6)
		a.FindTime = time.Duration(1+r.IntN(10)) * time.Minute
		a.Windows = []Window{{MaxRetry: 8 + r.IntN(8), FindTime: time.Hour}}
		a.Prefix6 = []int{0, 64}[r.IntN(2)]
		a.Increment = &Increment{}
		b := sshd()
		b.Name = "b"
		b.MaxRetry = 1 + r.IntN(3)
		b.Subnet = &SubnetRule{Count: 2, Window: time.Hour}
		rec := JailConfig{Name: "recidive", MaxRetry: 2, FindTime: 30 * time.Minute, BanTime: time.Hour, Recidive: true}
		return []JailConfig{a, b, rec}
	}
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			r := rand.New(rand.NewPCG(seed, 1))
			e, c := newEngine(t, jails(r)...)
			names := e.Jails()
			for step := range 3000 {
				var what string
				switch k := r.IntN(100); {
				case k < 20:
					d := time.Duration(r.Int64N(int64(4*time.Minute))) - time.Minute
					c.advance(d)
					what = fmt.Sprintf("clock %+v", d)
				case k < 65:
					a := netip.MustParseAddr(addrs[r.IntN(len(addrs))])
					var ft time.Time
					switch r.IntN(4) {
					case 0:
					case 1:
						ft = c.t.Add(time.Minute)
					default:
						ft = c.t.Add(-time.Duration(r.Int64N(int64(70 * time.Minute))))
					}
					name := names[r.IntN(len(names))]
					e.Fail(name, Failure{Addr: a, Time: ft, Line: fmt.Sprint("line ", step)})
					what = fmt.Sprintf("fail %s %v at %v", name, a, ft)
				case k < 75:
					e.Expire()
					what = "expire"
				case k < 80:
					p := mustPrefix(prefixes[r.IntN(len(prefixes))])
					e.ManualBan(BanRequest{Jail: names[r.IntN(len(names))], Prefix: p, Force: true})
					what = fmt.Sprintf("ban %v", p)
				case k < 85:
					p := mustPrefix(prefixes[r.IntN(len(prefixes))])
					e.Unban([]string{"", names[r.IntN(len(names))]}[r.IntN(2)], p)
					what = fmt.Sprintf("unban %v", p)
				case k < 87:
					e.UnbanAll()
					what = "unban all"
				case k < 89:
					if _, err := e.Configure(jails(r)); err != nil {
						t.Fatal(err)
					}
					what = "configure"
				default:
					what = "stats"
				}
				for _, name := range names {
					st, err := e.Stats(name)
					if err != nil {
						t.Fatal(err)
					}
					if want := recountFailed(e, name); st.CurrentlyFailed != want {
						t.Fatalf("step %d (%s): jail %s: CurrentlyFailed %d, want %d", step, what, name, st.CurrentlyFailed, want)
					}
				}
			}
		})
	}
}

// TestStatsClockMoves checks the count at every cutoff around the newest
// failures of a few prefixes, forwards and backwards.
func TestStatsClockMoves(t *testing.T) {
	cfg := sshd()
	cfg.Windows = []Window{{MaxRetry: 50, FindTime: time.Hour}}
	e, c := newEngine(t, cfg)
	// Newest failures at -50m, -9m, -5m, -5m and now.
	for _, f := range []struct {
		addr string
		ago  time.Duration
	}{{"192.0.2.1", 50 * time.Minute}, {"192.0.2.2", 9 * time.Minute}, {"192.0.2.3", 5 * time.Minute}, {"192.0.2.4", 5 * time.Minute}, {"192.0.2.5", 0}} {
		if out, _, _ := e.Fail("sshd", Failure{Addr: netip.MustParseAddr(f.addr), Time: c.t.Add(-f.ago)}); out != Counted {
			t.Fatalf("%s: %v", f.addr, out)
		}
	}
	start := c.t
	offsets := []time.Duration{0, time.Minute, 5 * time.Minute, 5*time.Minute + 1, 10 * time.Minute, 10*time.Minute + 1, 20 * time.Minute,
		5 * time.Minute, -41 * time.Minute, -40 * time.Minute, -40*time.Minute + 1, -39 * time.Minute, time.Minute, 0}
	for _, off := range offsets {
		c.t = start.Add(off)
		st, _ := e.Stats("sshd")
		if want := recountFailed(e, "sshd"); st.CurrentlyFailed != want {
			t.Fatalf("at %v: CurrentlyFailed %d, want %d", off, st.CurrentlyFailed, want)
		}
	}
}

func TestBanCountsAcrossJails(t *testing.T) {
	a, b := sshd(), sshd()
	a.Name, b.Name = "a", "b"
	e, _ := newEngine(t, a, b)
	p, q := mustPrefix("192.0.2.1/32"), mustPrefix("192.0.2.2/32")
	e.RestoreHistory([]BanCount{
		{Jail: "b", Prefix: p, Count: 2, Last: t0.Add(-time.Hour)},
		{Jail: "gone", Prefix: p, Count: 4, Last: t0.Add(-2 * time.Hour)},
		{Jail: "", Prefix: q, Count: 1}, // counts twice in every jail's tally
	})
	failN(t, e, "a", "192.0.2.1", 5)
	e.ManualBan(BanRequest{Jail: "b", Prefix: p})
	_, ds := failN(t, e, "a", "192.0.2.2", 5)
	if ds[0].Count != 1 {
		t.Fatalf("first ban of q in a: %+v", ds[0])
	}
	tests := []struct {
		jail   string
		prefix netip.Prefix
		want   int
	}{
		{"a", p, 1}, {"b", p, 3}, {"gone", p, 4}, {"", p, 8}, {"c", p, 0},
		{"a", q, 1}, {"b", q, 0}, {"", q, 3},
		{"", mustPrefix("198.51.100.1/32"), 0},
	}
	for _, tt := range tests {
		if got := e.BanCount(tt.jail, tt.prefix); got != tt.want {
			t.Errorf("BanCount(%q, %v) = %d, want %d", tt.jail, tt.prefix, got, tt.want)
		}
	}
}

func TestWidePrefixBans(t *testing.T) {
	e, _ := newEngine(t, sshd())
	for _, p := range []string{"198.51.0.0/16", "198.51.100.0/24", "2001:db8::/32", "2001:db8:1::/48"} {
		if _, err := e.ManualBan(BanRequest{Jail: "sshd", Prefix: mustPrefix(p)}); err != nil {
			t.Fatal(err)
		}
	}
	steps := []struct {
		unban string // before the failure, if set
		addr  string
		want  Outcome
	}{
		{"", "198.51.100.7", AlreadyBanned},
		{"198.51.100.0/24", "198.51.100.7", AlreadyBanned}, // the /16 still holds it
		{"198.51.0.0/16", "198.51.100.7", Counted},
		{"", "2001:db8:1::5", AlreadyBanned},
		{"2001:db8::/32", "2001:db8:1::5", AlreadyBanned},
		{"", "2001:db8:2::5", Counted},
		{"2001:db8:1::/48", "2001:db8:1::5", Counted},
	}
	for i, s := range steps {
		if s.unban != "" {
			if ds, _ := e.Unban("sshd", mustPrefix(s.unban)); len(ds) != 1 {
				t.Fatalf("step %d: unban %s: %+v", i, s.unban, ds)
			}
		}
		if got, _, _ := e.Fail("sshd", Failure{Addr: netip.MustParseAddr(s.addr)}); got != s.want {
			t.Fatalf("step %d: %s: %v, want %v", i, s.addr, got, s.want)
		}
	}
	if len(e.jails["sshd"].wide) != 0 {
		t.Fatalf("prefix lengths left: %+v", e.jails["sshd"].wide)
	}
}

func TestBanMatches(t *testing.T) {
	tests := []struct {
		name     string
		maxRetry int
		lines    bool
		want     []string
	}{
		{"no lines", 3, false, []string{}},
		{"fewer than kept", 3, true, []string{"line 0", "line 1", "line 2"}},
		{"the last MaxMatches", 13, true, []string{"line 3", "line 4", "line 5", "line 6", "line 7", "line 8", "line 9", "line 10", "line 11", "line 12"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sshd()
			cfg.MaxRetry = tt.maxRetry
			e, _ := newEngine(t, cfg)
			var ds []Decision
			for i := range tt.maxRetry {
				f := Failure{Addr: netip.MustParseAddr("192.0.2.1")}
				if tt.lines {
					f.Line = fmt.Sprint("line ", i)
				}
				_, ds, _ = e.Fail("sshd", f)
			}
			if len(ds) != 1 || ds[0].Matches == nil || !slices.Equal(ds[0].Matches, tt.want) {
				t.Fatalf("decisions %+v, want matches %q", ds, tt.want)
			}
		})
	}
}
