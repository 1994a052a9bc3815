package engine

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/ignore"
)

// clock is a fake clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

var t0 = time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)

func newEngine(t *testing.T, cfgs ...JailConfig) (*Engine, *clock) {
	t.Helper()
	c := &clock{t: t0}
	e := New(c.now)
	if _, err := e.Configure(cfgs); err != nil {
		t.Fatal(err)
	}
	return e, c
}

// baseIgnore is what sshd() ignores.
var baseIgnore = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("203.0.113.0/24")}

func sshd() JailConfig {
	return JailConfig{Name: "sshd", MaxRetry: 5, FindTime: 10 * time.Minute, BanTime: 10 * time.Minute,
		Ignore: ignore.NewSet(baseIgnore...)}
}

// withIgnore returns sshd's ignore set plus more prefixes.
func withIgnore(more ...netip.Prefix) IgnoreSet {
	return ignore.NewSet(append(slices.Clone(baseIgnore), more...)...)
}

// step is one failure in a scenario: the clock advances by after, then addr fails.
type step struct {
	after time.Duration
	addr  string
	want  Outcome
}

func TestFailWindows(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{"exactly maxretry inside findtime bans", []step{
			{0, "192.0.2.1", Counted}, {150 * time.Second, "192.0.2.1", Counted}, {150 * time.Second, "192.0.2.1", Counted},
			{150 * time.Second, "192.0.2.1", Counted}, {149 * time.Second, "192.0.2.1", Banned}, // span 9m59s
		}},
		{"same spread just over findtime does not ban", []step{
			{0, "192.0.2.1", Counted}, {150 * time.Second, "192.0.2.1", Counted}, {150 * time.Second, "192.0.2.1", Counted},
			{150 * time.Second, "192.0.2.1", Counted}, {150 * time.Second, "192.0.2.1", Counted}, // span 10m
			// the sixth, with the last four still in the window, bans
			{time.Second, "192.0.2.1", Banned},
		}},
		{"one fewer than maxretry does not ban", []step{
			{0, "198.51.100.7", Counted}, {time.Second, "198.51.100.7", Counted}, {time.Second, "198.51.100.7", Counted}, {time.Second, "198.51.100.7", Counted},
		}},
		{"addresses count separately", []step{
			{0, "192.0.2.1", Counted}, {0, "192.0.2.2", Counted}, {0, "192.0.2.1", Counted}, {0, "192.0.2.2", Counted},
			{0, "192.0.2.1", Counted}, {0, "192.0.2.2", Counted}, {0, "192.0.2.1", Counted}, {0, "192.0.2.1", Banned},
			{0, "192.0.2.2", Counted}, {0, "192.0.2.1", AlreadyBanned},
		}},
		{"IPv6", []step{
			{0, "2001:db8::5", Counted}, {0, "2001:db8::5", Counted}, {0, "2001:db8::5", Counted}, {0, "2001:db8::5", Counted}, {0, "2001:db8::5", Banned},
		}},
		{"IPv4-mapped IPv6 counts with IPv4", []step{
			{0, "::ffff:192.0.2.9", Counted}, {0, "192.0.2.9", Counted}, {0, "::ffff:192.0.2.9", Counted}, {0, "192.0.2.9", Counted}, {0, "::ffff:192.0.2.9", Banned},
		}},
		{"ignoreip", []step{
			{0, "203.0.113.5", Ignored}, {0, "203.0.113.5", Ignored}, {0, "203.0.113.5", Ignored}, {0, "203.0.113.5", Ignored}, {0, "203.0.113.5", Ignored}, {0, "203.0.113.5", Ignored},
			{0, "127.0.0.1", Ignored}, {0, "::1", Ignored},
		}},
		{"expiry then counting afresh", []step{
			{0, "192.0.2.1", Counted}, {0, "192.0.2.1", Counted}, {0, "192.0.2.1", Counted}, {0, "192.0.2.1", Counted}, {0, "192.0.2.1", Banned},
			{10*time.Minute - time.Second, "192.0.2.1", AlreadyBanned},
			{time.Second, "192.0.2.1", Counted}, // ban expired at exactly 10m
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, c := newEngine(t, sshd())
			for i, s := range tt.steps {
				c.advance(s.after)
				e.Expire()
				got, ds, err := e.Fail("sshd", Failure{Addr: netip.MustParseAddr(s.addr), Line: fmt.Sprintf("line %d", i)})
				if err != nil {
					t.Fatal(err)
				}
				if got != s.want {
					t.Fatalf("step %d (%s at +%v): outcome %v, want %v", i, s.addr, c.t.Sub(t0), got, s.want)
				}
				if (len(ds) == 1) != (got == Banned) || len(ds) > 1 {
					t.Fatalf("step %d: decisions %v with outcome %v", i, ds, got)
				}
				if len(ds) == 1 {
					d := ds[0]
					a := netip.MustParseAddr(s.addr).Unmap()
					if d.Prefix != netip.PrefixFrom(a, a.BitLen()) || d.Action != Ban || !d.Start.Equal(c.t) || !d.End.Equal(c.t.Add(10*time.Minute)) {
						t.Fatalf("step %d: decision %+v", i, d)
					}
				}
			}
		})
	}
}

func TestLogTimes(t *testing.T) {
	e, c := newEngine(t, sshd())
	a := netip.MustParseAddr("192.0.2.1")
	// A failure older than findtime is stale.
	if got, _, _ := e.Fail("sshd", Failure{Addr: a, Time: c.t.Add(-10 * time.Minute)}); got != Stale {
		t.Fatalf("old failure: %v", got)
	}
	// Failures from the log count at their log time: 5 within 10m of each other,
	// read all at once, ban.
	for i := range 4 {
		if got, _, _ := e.Fail("sshd", Failure{Addr: a, Time: c.t.Add(-9*time.Minute + time.Duration(i)*time.Minute)}); got != Counted {
			t.Fatalf("failure %d: %v", i, got)
		}
	}
	// A time in the future is taken as now.
	got, ds, _ := e.Fail("sshd", Failure{Addr: a, Time: c.t.Add(time.Hour)})
	if got != Banned || !ds[0].Start.Equal(c.t) {
		t.Fatalf("got %v %+v", got, ds)
	}
	// Out of order failures: the window is over the log times, not arrival order.
	b := netip.MustParseAddr("192.0.2.2")
	times := []time.Duration{-1 * time.Minute, -9 * time.Minute, -30 * time.Second, -9*time.Minute - 59*time.Second, -5 * time.Minute}
	var last Outcome
	for _, d := range times {
		last, _, _ = e.Fail("sshd", Failure{Addr: b, Time: c.t.Add(d)})
	}
	if last != Banned {
		t.Fatalf("out of order: %v", last)
	}
}

func TestExpireAndNextExpiry(t *testing.T) {
	long := sshd()
	long.Name = "long"
	long.BanTime = time.Hour
	perm := sshd()
	perm.Name = "perm"
	perm.BanTime = Permanent
	e, c := newEngine(t, sshd(), long, perm)
	if _, ok := e.NextExpiry(); ok {
		t.Fatal("next expiry with no bans")
	}
	p := netip.MustParsePrefix("198.51.100.0/24")
	for _, j := range []string{"sshd", "long", "perm"} {
		if _, err := e.ManualBan(BanRequest{Jail: j, Prefix: p}); err != nil {
			t.Fatal(err)
		}
	}
	if next, ok := e.NextExpiry(); !ok || !next.Equal(t0.Add(10*time.Minute)) {
		t.Fatalf("next expiry %v %v", next, ok)
	}
	c.advance(10*time.Minute - 1)
	if ds := e.Expire(); len(ds) != 0 {
		t.Fatalf("early expiry: %v", ds)
	}
	c.advance(1)
	ds := e.Expire()
	if len(ds) != 1 || ds[0].Jail != "sshd" || ds[0].Reason != ReasonExpired || ds[0].Action != Unban {
		t.Fatalf("expiry: %+v", ds)
	}
	c.advance(50 * time.Minute)
	ds = e.Expire()
	if len(ds) != 1 || ds[0].Jail != "long" {
		t.Fatalf("expiry: %+v", ds)
	}
	if _, ok := e.NextExpiry(); ok {
		t.Fatal("a permanent ban has no expiry")
	}
	c.advance(1000 * time.Hour)
	if ds := e.Expire(); len(ds) != 0 {
		t.Fatalf("permanent ban expired: %v", ds)
	}
	if bans, _ := e.Bans("perm"); len(bans) != 1 || !bans[0].End.IsZero() {
		t.Fatalf("perm bans %+v", bans)
	}
}

func TestManualBanUnban(t *testing.T) {
	e, c := newEngine(t, sshd())
	if _, err := e.ManualBan(BanRequest{Jail: "nope", Prefix: netip.MustParsePrefix("192.0.2.1/32")}); !errors.Is(err, ErrUnknownJail) {
		t.Fatalf("unknown jail: %v", err)
	}
	if _, err := e.ManualBan(BanRequest{Jail: "sshd", Prefix: netip.MustParsePrefix("203.0.113.9/32")}); !errors.Is(err, ErrIgnored) {
		t.Fatalf("ignored: %v", err)
	}
	if _, err := e.ManualBan(BanRequest{Jail: "sshd", Prefix: netip.MustParsePrefix("203.0.0.0/8")}); !errors.Is(err, ErrIgnored) {
		t.Fatalf("prefix over ignored: %v", err)
	}
	if _, err := e.ManualBan(BanRequest{Jail: "sshd", Prefix: netip.MustParsePrefix("203.0.113.9/32"), Force: true}); err != nil {
		t.Fatalf("forced: %v", err)
	}
	d, err := e.ManualBan(BanRequest{Jail: "sshd", Prefix: netip.MustParsePrefix("198.51.100.77/24")})
	if err != nil || d.Prefix.String() != "198.51.100.0/24" || !d.Manual {
		t.Fatalf("prefix ban %+v %v", d, err)
	}
	// An address inside a banned prefix is already banned.
	if got, _, _ := e.Fail("sshd", Failure{Addr: netip.MustParseAddr("198.51.100.3")}); got != AlreadyBanned {
		t.Fatalf("inside prefix: %v", got)
	}
	if got := e.BannedIn(netip.MustParseAddr("198.51.100.3")); len(got) != 1 {
		t.Fatalf("BannedIn %v", got)
	}
	// Re-banning refreshes the end.
	c.advance(5 * time.Minute)
	d2, _ := e.ManualBan(BanRequest{Jail: "sshd", Prefix: netip.MustParsePrefix("198.51.100.0/24")})
	if !d2.End.Equal(c.t.Add(10 * time.Minute)) {
		t.Fatalf("refresh: %+v", d2)
	}
	if next, _ := e.NextExpiry(); !next.Equal(t0.Add(10 * time.Minute)) { // the forced ban
		t.Fatalf("next %v", next)
	}
	// Unbanning one address inside the prefix lifts the prefix ban.
	ds, err := e.Unban("", netip.MustParsePrefix("198.51.100.3/32"))
	if err != nil || len(ds) != 1 || ds[0].Prefix.String() != "198.51.100.0/24" || ds[0].Reason != ReasonUnbanned {
		t.Fatalf("unban %+v %v", ds, err)
	}
	if _, err := e.Unban("nope", netip.MustParsePrefix("198.51.100.3/32")); !errors.Is(err, ErrUnknownJail) {
		t.Fatalf("unban unknown jail: %v", err)
	}
	if ds := e.UnbanAll(); len(ds) != 1 || ds[0].Prefix.String() != "203.0.113.9/32" {
		t.Fatalf("unban all %+v", ds)
	}
	st, _ := e.Stats("sshd")
	if st.CurrentlyBanned != 0 || st.TotalBanned != 3 {
		t.Fatalf("stats %+v", st)
	}
	if _, ok := e.NextExpiry(); ok {
		t.Fatal("expiry left after unban all")
	}
}

func TestUnbanClearsFailures(t *testing.T) {
	e, _ := newEngine(t, sshd())
	a := netip.MustParseAddr("2001:db8::1")
	for range 4 {
		e.Fail("sshd", Failure{Addr: a})
	}
	if _, err := e.Unban("sshd", netip.PrefixFrom(a, 128)); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := e.Fail("sshd", Failure{Addr: a}); got != Counted {
		t.Fatalf("after unban: %v", got)
	}
}

func TestStats(t *testing.T) {
	e, c := newEngine(t, sshd())
	for i := range 7 {
		e.Fail("sshd", Failure{Addr: netip.MustParseAddr(fmt.Sprintf("192.0.2.%d", i%2+1))})
	}
	st, err := e.Stats("sshd")
	if err != nil {
		t.Fatal(err)
	}
	want := JailStats{CurrentlyFailed: 2, TotalFailed: 7, CurrentlyBanned: 0, TotalBanned: 0}
	if st != want {
		t.Fatalf("stats %+v, want %+v", st, want)
	}
	c.advance(10 * time.Minute)
	e.Expire()
	st, _ = e.Stats("sshd")
	if st.CurrentlyFailed != 0 || st.TotalFailed != 7 {
		t.Fatalf("after window: %+v", st)
	}
	if _, err := e.Stats("nope"); !errors.Is(err, ErrUnknownJail) {
		t.Fatal(err)
	}
}

func TestRestore(t *testing.T) {
	e, c := newEngine(t, sshd())
	bans := []ActiveBan{
		{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.1/32"), Start: t0.Add(-5 * time.Minute), End: t0.Add(5 * time.Minute)},
		{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.2/32"), Start: t0.Add(-15 * time.Minute), End: t0.Add(-5 * time.Minute)},
		{Jail: "sshd", Prefix: netip.MustParsePrefix("2001:db8::/64"), Start: t0.Add(-time.Hour)},
	}
	n, err := e.Restore(bans)
	if err != nil || n != 2 {
		t.Fatalf("restore %d %v", n, err)
	}
	if got, _, _ := e.Fail("sshd", Failure{Addr: netip.MustParseAddr("2001:db8::77")}); got != AlreadyBanned {
		t.Fatalf("restored prefix: %v", got)
	}
	c.advance(5 * time.Minute)
	if ds := e.Expire(); len(ds) != 1 || ds[0].Prefix.String() != "192.0.2.1/32" {
		t.Fatalf("expire restored: %+v", ds)
	}
	if _, err := e.Restore([]ActiveBan{{Jail: "gone", Prefix: netip.MustParsePrefix("192.0.2.1/32")}}); !errors.Is(err, ErrUnknownJail) {
		t.Fatal(err)
	}
}

func TestConfigure(t *testing.T) {
	web := sshd()
	web.Name = "web"
	e, _ := newEngine(t, sshd(), web)
	e.ManualBan(BanRequest{Jail: "web", Prefix: netip.MustParsePrefix("192.0.2.1/32")})
	e.ManualBan(BanRequest{Jail: "sshd", Prefix: netip.MustParsePrefix("192.0.2.2/32")})
	for range 3 {
		e.Fail("sshd", Failure{Addr: netip.MustParseAddr("192.0.2.3")})
	}
	// Reload with a changed sshd and no web: sshd keeps its state.
	changed := sshd()
	changed.MaxRetry = 4
	ds, err := e.Configure([]JailConfig{changed})
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 1 || ds[0].Jail != "web" || ds[0].Reason != ReasonJailRemoved {
		t.Fatalf("removed jail decisions %+v", ds)
	}
	if got, _, _ := e.Fail("sshd", Failure{Addr: netip.MustParseAddr("192.0.2.3")}); got != Banned {
		t.Fatalf("kept failures with new maxretry: %v", got)
	}
	if bans, _ := e.Bans(""); len(bans) != 2 {
		t.Fatalf("bans %+v", bans)
	}
	if _, ok := e.NextExpiry(); !ok {
		t.Fatal("expiry lost")
	}
	for _, bad := range []JailConfig{{}, {Name: "x", FindTime: time.Minute, BanTime: time.Minute}, {Name: "x", MaxRetry: 1, BanTime: time.Minute}, {Name: "x", MaxRetry: 1, FindTime: time.Minute}} {
		if _, err := e.Configure([]JailConfig{bad}); err == nil {
			t.Errorf("config %+v accepted", bad)
		}
	}
	if _, err := e.Configure([]JailConfig{sshd(), sshd()}); err == nil {
		t.Error("duplicate jail accepted")
	}
}

func TestMatchesKept(t *testing.T) {
	e, _ := newEngine(t, sshd())
	var ds []Decision
	for i := range 5 {
		_, ds, _ = e.Fail("sshd", Failure{Addr: netip.MustParseAddr("192.0.2.1"), Line: fmt.Sprint("line ", i)})
	}
	if len(ds) != 1 || len(ds[0].Matches) != 5 || ds[0].Matches[0] != "line 0" || ds[0].Failures != 5 || ds[0].Count != 1 {
		t.Fatalf("decisions %+v", ds)
	}
}

func BenchmarkFail(b *testing.B) {
	c := &clock{t: t0}
	e := New(c.now)
	e.Configure([]JailConfig{sshd()})
	addrs := make([]netip.Addr, 10000)
	for i := range addrs {
		addrs[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Fail("sshd", Failure{Addr: addrs[i%len(addrs)], Line: "x"})
	}
}

// BenchmarkFailRounds is the shape of a mass attack: 10,000 addresses
// failing in turn, each banned at its fifth failure.
func BenchmarkFailRounds(b *testing.B) {
	addrs := make([]netip.Addr, 10000)
	for i := range addrs {
		addrs[i] = netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
	}
	b.ReportAllocs()
	for b.Loop() {
		c := &clock{t: t0}
		e := New(c.now)
		e.Configure([]JailConfig{sshd()})
		for range 5 {
			for _, a := range addrs {
				e.Fail("sshd", Failure{Addr: a, Time: t0, Line: "Nov 22 10:00:00 web1 sshd[1]: Failed password"})
			}
		}
	}
}
