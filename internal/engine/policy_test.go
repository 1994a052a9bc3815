package engine

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// failN makes addr fail n times now and returns the decisions of the last.
func failN(t *testing.T, e *Engine, jail, addr string, n int) (Outcome, []Decision) {
	t.Helper()
	var out Outcome
	var ds []Decision
	for range n {
		var err error
		out, ds, err = e.Fail(jail, Failure{Addr: netip.MustParseAddr(addr), Line: "x"})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out, ds
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestIPv6Prefix(t *testing.T) {
	cfg := sshd()
	cfg.Prefix6 = 64
	cfg.Ignore = withIgnore(mustPrefix("2001:db8:0:9::5/128"))
	e, _ := newEngine(t, cfg)
	// Failures of addresses in one /64 count together and ban the /64.
	for i, a := range []string{"2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::ffff:1"} {
		if out, _ := failN(t, e, "sshd", a, 1); out != Counted {
			t.Fatalf("failure %d: %v", i, out)
		}
	}
	if out, _ := failN(t, e, "sshd", "2001:db8:0:1::1", 1); out != Counted {
		t.Fatal("another /64 is counted apart")
	}
	out, ds := failN(t, e, "sshd", "2001:db8::99", 1)
	if out != Banned || ds[0].Prefix != mustPrefix("2001:db8::/64") {
		t.Fatalf("%v %+v", out, ds)
	}
	if out, _ := failN(t, e, "sshd", "2001:db8::1234", 1); out != AlreadyBanned {
		t.Fatalf("inside the banned /64: %v", out)
	}
	// A /64 holding an ignored address is not banned whole.
	_, ds = failN(t, e, "sshd", "2001:db8:0:9::6", 5)
	if len(ds) != 1 || ds[0].Prefix != mustPrefix("2001:db8:0:9::6/128") {
		t.Fatalf("ban next to an ignored address: %+v", ds)
	}
	// IPv4 stays per address by default.
	_, ds = failN(t, e, "sshd", "192.0.2.1", 5)
	if ds[0].Prefix != mustPrefix("192.0.2.1/32") {
		t.Fatalf("IPv4 ban %+v", ds)
	}
}

func TestIncrement(t *testing.T) {
	formulaErr := func(float64, int, float64) (float64, error) { return 0, errors.New("boom") }
	tests := []struct {
		name string
		inc  Increment
		base time.Duration
		want []time.Duration // ban times of the 1st, 2nd, ... ban
	}{
		{"default formula", Increment{}, 10 * time.Minute, []time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 80 * time.Minute}},
		{"factor", Increment{Factor: 2}, 10 * time.Minute, []time.Duration{10 * time.Minute, 40 * time.Minute, 80 * time.Minute}},
		{"maxtime", Increment{MaxTime: 30 * time.Minute}, 10 * time.Minute, []time.Duration{10 * time.Minute, 20 * time.Minute, 30 * time.Minute, 30 * time.Minute}},
		{"multipliers, the last repeats", Increment{Multipliers: []float64{1, 5, 30}}, 10 * time.Minute, []time.Duration{10 * time.Minute, 50 * time.Minute, 300 * time.Minute, 300 * time.Minute}},
		{"rndtime, not on the first ban", Increment{RndTime: 10 * time.Minute}, 10 * time.Minute, []time.Duration{10 * time.Minute, 25 * time.Minute}},
		{"custom formula", Increment{Formula: func(bt float64, n int, f float64) (float64, error) { return bt * float64(n+1) * 3 * f, nil }}, time.Minute, []time.Duration{time.Minute, 6 * time.Minute, 9 * time.Minute}},
		{"a formula never shortens a ban", Increment{Formula: func(bt float64, n int, f float64) (float64, error) { return 1, nil }}, time.Minute, []time.Duration{time.Minute, time.Minute}},
		{"multipliers with factor", Increment{Multipliers: []float64{1, 2}, Factor: 3}, time.Minute, []time.Duration{time.Minute, 6 * time.Minute, 6 * time.Minute}},
		{"failing formula falls back to bantime", Increment{Formula: formulaErr}, time.Minute, []time.Duration{time.Minute, time.Minute}},
		{"permanent stays permanent", Increment{}, Permanent, []time.Duration{0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := sshd()
			cfg.BanTime = tt.base
			cfg.Increment = &tt.inc
			e, c := newEngine(t, cfg)
			e.SetRand(func() float64 { return 0.5 })
			for i, want := range tt.want {
				d, err := e.ManualBan(BanRequest{Jail: "sshd", Prefix: mustPrefix("192.0.2.1/32")})
				if err != nil {
					t.Fatal(err)
				}
				got := time.Duration(0)
				if !d.End.IsZero() {
					got = d.End.Sub(d.Start)
				}
				if got != want || d.Count != i+1 {
					t.Fatalf("ban %d: %v (count %d), want %v", i+1, got, d.Count, want)
				}
				e.Unban("sshd", d.Prefix)
				c.advance(time.Minute)
			}
		})
	}
}

func TestIncrementWeightsAndOverallJails(t *testing.T) {
	a, b := sshd(), sshd()
	a.Name, b.Name = "a", "b"
	a.Increment = &Increment{}
	b.Increment = &Increment{OverallJails: true}
	e, _ := newEngine(t, a, b)
	e.RestoreHistory([]BanCount{{Jail: "a", Prefix: mustPrefix("192.0.2.1/32"), Count: 2, Last: t0.Add(-time.Hour)}})
	if e.BanCount("a", mustPrefix("192.0.2.1/32")) != 2 || e.BanCount("", mustPrefix("192.0.2.1/32")) != 2 {
		t.Fatal("history not restored")
	}
	// Banned twice before: each failure counts twice, so 3 failures ban
	// (2+2+2 >= 5), and the ban is the third: 4 x 10m.
	out, _ := failN(t, e, "a", "192.0.2.1", 2)
	if out != Counted {
		t.Fatalf("2 weighted failures: %v", out)
	}
	out, ds := failN(t, e, "a", "192.0.2.1", 1)
	if out != Banned || ds[0].Failures != 6 || ds[0].End.Sub(ds[0].Start) != 40*time.Minute || ds[0].Count != 3 {
		t.Fatalf("third weighted failure: %v %+v", out, ds)
	}
	// Jail b counts the bans of every jail (3 so far): a failure weighs 4.
	out, ds = failN(t, e, "b", "192.0.2.1", 2)
	if out != Banned || ds[0].End.Sub(ds[0].Start) != 80*time.Minute {
		t.Fatalf("overall jails: %v %+v", out, ds)
	}
	// A fresh address in a is not weighted.
	if out, _ := failN(t, e, "a", "192.0.2.2", 4); out != Counted {
		t.Fatalf("fresh address: %v", out)
	}
}

func TestSlowWindows(t *testing.T) {
	cfg := sshd()
	cfg.Windows = []Window{{MaxRetry: 20, FindTime: 24 * time.Hour}}
	e, c := newEngine(t, cfg)
	// One failure every 3 minutes never puts 5 in 10 minutes, but the
	// 20th within a day bans.
	for i := range 20 {
		out, ds, _ := e.Fail("sshd", Failure{Addr: netip.MustParseAddr("198.51.100.7")})
		want := Counted
		if i == 19 {
			want = Banned
		}
		if out != want {
			t.Fatalf("failure %d: %v, want %v", i+1, out, want)
		}
		if out == Banned && (ds[0].Failures != 20 || ds[0].End.Sub(ds[0].Start) != 10*time.Minute) {
			t.Fatalf("slow ban %+v", ds)
		}
		c.advance(3 * time.Minute)
		e.Expire()
	}
	// Failures older than findtime but within the long window still count
	// and are not stale.
	if out, _, _ := e.Fail("sshd", Failure{Addr: netip.MustParseAddr("198.51.100.8"), Time: c.t.Add(-20 * time.Hour)}); out != Counted {
		t.Fatalf("old failure within the long window: %v", out)
	}
	if out, _, _ := e.Fail("sshd", Failure{Addr: netip.MustParseAddr("198.51.100.8"), Time: c.t.Add(-25 * time.Hour)}); out != Stale {
		t.Fatalf("failure older than every window: %v", out)
	}
	if st, _ := e.Stats("sshd"); st.CurrentlyFailed != 0 {
		t.Fatalf("currently failed counts only the main window: %+v", st)
	}
}

func TestSubnetEscalation(t *testing.T) {
	cfg := sshd()
	cfg.MaxRetry = 1
	cfg.Prefix6 = 64
	cfg.Subnet = &SubnetRule{Count: 3, Window: time.Hour}
	cfg.Ignore = withIgnore(mustPrefix("2001:db8:9::1/128"))
	e, c := newEngine(t, cfg)
	_, ds := failN(t, e, "sshd", "198.51.100.1", 1)
	c.advance(10 * time.Minute)
	_, ds2 := failN(t, e, "sshd", "198.51.100.2", 1)
	if len(ds) != 1 || len(ds2) != 1 {
		t.Fatalf("escalated early: %+v %+v", ds, ds2)
	}
	c.advance(10 * time.Minute)
	_, ds = failN(t, e, "sshd", "198.51.100.3", 1)
	if len(ds) != 2 || ds[1].Prefix != mustPrefix("198.51.100.0/24") || !strings.Contains(ds[1].Reason, "3 bans within 1h0m0s") || ds[1].End.Sub(ds[1].Start) != 10*time.Minute {
		t.Fatalf("escalation: %+v", ds)
	}
	if out, _ := failN(t, e, "sshd", "198.51.100.200", 1); out != AlreadyBanned {
		t.Fatalf("inside the escalated subnet: %v", out)
	}
	// Bans spread over more than the window do not escalate.
	for _, a := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3"} {
		_, ds = failN(t, e, "sshd", a, 1)
		if len(ds) != 1 {
			t.Fatalf("%s escalated: %+v", a, ds)
		}
		c.advance(31 * time.Minute)
		e.Expire()
	}
	// A subnet holding an ignored address is never banned whole.
	for _, a := range []string{"2001:db8:9:1::1", "2001:db8:9:2::1", "2001:db8:9:3::1", "2001:db8:9:4::1"} {
		if _, ds = failN(t, e, "sshd", a, 1); len(ds) != 1 {
			t.Fatalf("escalated over an ignored address: %+v", ds)
		}
	}
	// IPv6: three /64s of one /48.
	var last []Decision
	for _, a := range []string{"2001:db8:1:1::1", "2001:db8:1:2::1", "2001:db8:1:3::1"} {
		_, last = failN(t, e, "sshd", a, 1)
	}
	if len(last) != 2 || last[1].Prefix != mustPrefix("2001:db8:1::/48") {
		t.Fatalf("IPv6 escalation %+v", last)
	}
	// Manual bans do not count.
	for _, p := range []string{"192.0.2.100/32", "192.0.2.101/32", "192.0.2.102/32"} {
		if _, err := e.ManualBan(BanRequest{Jail: "sshd", Prefix: mustPrefix(p)}); err != nil {
			t.Fatal(err)
		}
	}
	if got := e.BannedIn(netip.MustParseAddr("192.0.2.50")); len(got) != 0 {
		t.Fatalf("manual bans escalated: %+v", got)
	}
}

func TestRecidive(t *testing.T) {
	rec := JailConfig{Name: "recidive", MaxRetry: 3, FindTime: 24 * time.Hour, BanTime: 7 * 24 * time.Hour, Recidive: true, Prefix6: 64}
	cfg := sshd()
	cfg.Prefix6 = 64
	e, c := newEngine(t, cfg, rec)
	for i := range 3 {
		out, ds := failN(t, e, "sshd", "2001:db8::5", 5)
		if out != Banned {
			t.Fatalf("ban %d: %v", i+1, out)
		}
		if i < 2 && len(ds) != 1 {
			t.Fatalf("recidive too early: %+v", ds)
		}
		if i == 2 {
			if len(ds) != 2 || ds[1].Jail != "recidive" || ds[1].Prefix != mustPrefix("2001:db8::/64") || ds[1].End.Sub(ds[1].Start) != 7*24*time.Hour || !strings.Contains(ds[1].Matches[0], "sshd: ban 2001:db8::/64") {
				t.Fatalf("recidive ban: %+v", ds)
			}
		}
		c.advance(11 * time.Minute)
		e.Expire()
	}
	// Manual bans are not failures for recidive.
	for range 3 {
		e.ManualBan(BanRequest{Jail: "sshd", Prefix: mustPrefix("192.0.2.9/32")})
	}
	if st, _ := e.Stats("recidive"); st.TotalFailed != 3 {
		t.Fatalf("recidive counted %d failures", st.TotalFailed)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []func(*JailConfig){
		func(c *JailConfig) { c.Prefix4 = 33 },
		func(c *JailConfig) { c.Prefix6 = -1 },
		func(c *JailConfig) { c.Windows = []Window{{MaxRetry: 0, FindTime: time.Hour}} },
		func(c *JailConfig) { c.Subnet = &SubnetRule{Count: 1, Window: time.Hour} },
		func(c *JailConfig) { c.Subnet = &SubnetRule{Count: 3, Window: time.Hour, Bits4: 32} },
		func(c *JailConfig) { c.Increment = &Increment{Multipliers: []float64{1, 0}} },
		func(c *JailConfig) { c.Increment = &Increment{MaxTime: -1} },
	}
	for i, mod := range bad {
		cfg := sshd()
		mod(&cfg)
		if _, err := New(time.Now).Configure([]JailConfig{cfg}); err == nil {
			t.Errorf("case %d accepted: %+v", i, cfg)
		}
	}
}

func TestSetIgnore(t *testing.T) {
	e, _ := newEngine(t, sshd())
	failN(t, e, "sshd", "198.51.100.4", 4)
	if err := e.SetIgnore("sshd", withIgnore(mustPrefix("198.51.100.0/24"))); err != nil {
		t.Fatal(err)
	}
	if out, _ := failN(t, e, "sshd", "198.51.100.4", 1); out != Ignored {
		t.Fatalf("newly ignored address: %v", out)
	}
	if err := e.SetIgnore("nope", nil); !errors.Is(err, ErrUnknownJail) {
		t.Fatal(err)
	}
	e.SetIgnore("sshd", nil)
	if out, _ := failN(t, e, "sshd", "127.0.0.1", 1); out != Counted {
		t.Fatalf("nil ignore set: %v", out)
	}
}
