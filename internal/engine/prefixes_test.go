package engine

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/netprefix"
)

func TestPrefixKeys(t *testing.T) {
	var prefixes []netip.Prefix
	for _, s := range []string{"192.0.2.77", "0.0.0.0", "255.255.255.255", "2001:db8:1:2:3:4:5:6", "::", "::c000:201", "::1", "ffff::ffff"} {
		a := netip.MustParseAddr(s)
		for bits := range a.BitLen() + 1 {
			p, _ := a.Prefix(bits)
			prefixes = append(prefixes, p)
		}
	}
	// Prefixes that are alike as numbers or lengths.
	for _, s := range []string{"::ffff:0:0/95", "::/96", "::c000:200/120", "::ffff:192.0.2.0/120", "::ffff:192.0.2.1/128"} {
		prefixes = append(prefixes, canonical(mustPrefix(s)))
	}
	var x prefixIndex
	infos := map[pkey]*prefixInfo{}
	for _, p := range prefixes {
		k := keyOf(p)
		if got := k.prefix(); got != p {
			t.Errorf("keyOf(%v).prefix() = %v", p, got)
		}
		if k.is4() != p.Addr().Is4() {
			t.Errorf("keyOf(%v).is4() = %v", p, k.is4())
		}
		if infos[k] == nil {
			infos[k] = &prefixInfo{key: k}
			x.set(k, infos[k])
		} else if infos[k].key.prefix() != p {
			t.Errorf("%v and %v have one key", p, infos[k].key.prefix())
		}
	}
	if k := keyOf(netip.Prefix{}); k.prefix() != (netip.Prefix{}) {
		t.Errorf("the invalid prefix's key is of %v", k.prefix())
	}
	for k, pi := range infos {
		if got := x.get(k); got != pi {
			t.Fatalf("get(%v) = %v", k.prefix(), got)
		}
		x.delete(k)
		if got := x.get(k); got != nil {
			t.Fatalf("get(%v) after delete = %v", k.prefix(), got.key.prefix())
		}
	}
	a := netip.MustParseAddr("2001:db8::1:2")
	if got, want := netprefix.From16(a).Masked(100), netprefix.From16(netip.MustParsePrefix("2001:db8::1:2/100").Masked().Addr()); got != want {
		t.Errorf("masked(100) = %x, want %x", got, want)
	}
}

// TestFamilies checks that IPv4 and IPv6 prefixes that are alike as
// numbers stay apart, and that IPv4-mapped IPv6 is IPv4.
func TestFamilies(t *testing.T) {
	tests := []struct {
		ban     string
		in, out []string // addresses it holds, and does not
	}{
		{"::ffff:192.0.2.0/120", []string{"192.0.2.9", "::ffff:192.0.2.9"}, []string{"::c000:209", "192.0.3.9"}},
		{"192.0.2.0/24", []string{"192.0.2.0", "::ffff:192.0.2.255"}, []string{"::c000:200", "::c000:2ff"}},
		{"::c000:200/120", []string{"::c000:209"}, []string{"192.0.2.9", "::ffff:192.0.2.9"}},
		{"::/96", []string{"::5", "::c000:201"}, []string{"0.0.0.5", "192.0.2.9"}},
		{"::ffff:0:0/95", []string{"::fffe:0:1"}, []string{"192.0.2.9", "0.0.0.0"}},
		{"0.0.0.0/0", []string{"192.0.2.9", "255.255.255.255"}, []string{"::", "::c000:209", "2001:db8::1"}},
		{"::/0", []string{"::", "2001:db8::1", "::c000:209"}, []string{"192.0.2.9", "::ffff:192.0.2.9"}},
		{"::ffff:192.0.2.1/128", []string{"192.0.2.1"}, []string{"192.0.2.2", "::c000:201"}},
		{"::c000:201/128", []string{"::c000:201"}, []string{"192.0.2.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.ban, func(t *testing.T) {
			cfg := sshd()
			cfg.Ignore = nil
			e, _ := newEngine(t, cfg)
			d, err := e.ManualBan(BanRequest{Jail: "sshd", Prefix: mustPrefix(tt.ban)})
			if err != nil {
				t.Fatal(err)
			}
			if n := e.BanCount("sshd", d.Prefix); n != 1 {
				t.Errorf("BanCount(%v) = %d", d.Prefix, n)
			}
			for _, a := range tt.in {
				if out, _ := failN(t, e, "sshd", a, 1); out != AlreadyBanned {
					t.Errorf("%s: %v, want it banned", a, out)
				}
				if bs := e.BannedIn(netip.MustParseAddr(a)); len(bs) != 1 {
					t.Errorf("BannedIn(%s) = %v", a, bs)
				}
			}
			for _, a := range tt.out {
				if out, _ := failN(t, e, "sshd", a, 1); out != Counted {
					t.Errorf("%s: %v, want it counted", a, out)
				}
			}
		})
	}
}

// TestIgnoreChanges checks that the engine asks a jail's ignore set again
// once it has another one, for prefixes it found free of ignored addresses
// before.
func TestIgnoreChanges(t *testing.T) {
	cfg := sshd()
	cfg.Prefix6 = 64
	e, _ := newEngine(t, cfg)
	failN(t, e, "sshd", "2001:db8::1", 4) // the /64 fails 4 times
	// Now 2001:db8::2 is ignored: the /64 is not banned whole, and ::1
	// counts alone.
	if err := e.SetIgnore("sshd", withIgnore(mustPrefix("2001:db8::2/128"))); err != nil {
		t.Fatal(err)
	}
	if out, _ := failN(t, e, "sshd", "2001:db8::2", 1); out != Ignored {
		t.Fatalf("newly ignored address: %v", out)
	}
	if out, _ := failN(t, e, "sshd", "2001:db8::1", 4); out != Counted {
		t.Fatalf("address next to an ignored one: %v", out)
	}
	out, ds := failN(t, e, "sshd", "2001:db8::1", 1)
	if out != Banned || ds[0].Prefix != mustPrefix("2001:db8::1/128") || ds[0].Failures != 5 {
		t.Fatalf("ban next to an ignored address: %v %+v", out, ds)
	}
	// A reload that ignores another address is another set too.
	cfg.Ignore = withIgnore(mustPrefix("2001:db8::3/128"))
	if _, err := e.Configure([]JailConfig{cfg}); err != nil {
		t.Fatal(err)
	}
	failN(t, e, "sshd", "2001:db8::4", 4) // /128s of the /64, which holds ::3
	if out, _ := failN(t, e, "sshd", "2001:db8::3", 1); out != Ignored {
		t.Fatalf("address ignored by a reload: %v", out)
	}
	cfg.Ignore = withIgnore(mustPrefix("2001:db8::4/128"))
	if _, err := e.Configure([]JailConfig{cfg}); err != nil {
		t.Fatal(err)
	}
	if out, _ := failN(t, e, "sshd", "2001:db8::4", 1); out != Ignored {
		t.Fatalf("address with failures, ignored by a reload: %v", out)
	}
	// Without an ignored address the /64 counts whole again: it still
	// has its 4 failures.
	e.SetIgnore("sshd", nil)
	out, ds = failN(t, e, "sshd", "2001:db8::99", 1)
	if out != Banned || ds[0].Prefix != mustPrefix("2001:db8::/64") {
		t.Fatalf("the /64 again: %v %+v", out, ds)
	}
}

// TestRebans checks the bans of a prefix that comes back: each longer
// with bantime.increment, counted in the jail and in all, while restored
// bans count in neither.
func TestRebans(t *testing.T) {
	cfg := sshd()
	cfg.Prefix6 = 64
	cfg.Increment = &Increment{}
	other := sshd()
	other.Name = "other"
	other.Prefix6 = 64
	other.Increment = &Increment{OverallJails: true}
	e, c := newEngine(t, cfg, other)
	// Banned twice before, failures weigh 2: the third ban takes 3.
	for i, want := range []struct {
		failures int
		ban      time.Duration
	}{{5, 10 * time.Minute}, {5, 20 * time.Minute}, {3, 40 * time.Minute}} {
		out, ds := failN(t, e, "sshd", "2001:db8::7", want.failures)
		if out != Banned || ds[0].Count != i+1 || ds[0].End.Sub(ds[0].Start) != want.ban || ds[0].Prefix != mustPrefix("2001:db8::/64") {
			t.Fatalf("ban %d: %v %+v", i+1, out, ds)
		}
		c.advance(want.ban)
		if ds := e.Expire(); len(ds) != 1 {
			t.Fatalf("expiry %d: %+v", i+1, ds)
		}
	}
	if n := e.BanCount("", mustPrefix("2001:db8::/64")); n != 3 {
		t.Fatalf("bans in all: %d", n)
	}
	// A restored ban is not a ban of this engine's history; a manual ban
	// replacing it is.
	p := mustPrefix("192.0.2.0/24")
	if n, err := e.Restore([]ActiveBan{{Jail: "sshd", Prefix: p, Start: c.t, End: c.t.Add(time.Hour), Count: 7}}); err != nil || n != 1 {
		t.Fatal(n, err)
	}
	if n := e.BanCount("sshd", p); n != 0 {
		t.Fatalf("restored ban counted: %d", n)
	}
	d, _ := e.ManualBan(BanRequest{Jail: "sshd", Prefix: p})
	if d.Count != 1 || e.BanCount("", p) != 1 {
		t.Fatalf("manual ban over a restored one: %+v", d)
	}
	if bans, _ := e.Bans("sshd"); len(bans) != 1 || bans[0].Count != 1 || !bans[0].Manual {
		t.Fatalf("bans %+v", bans)
	}
	if next, _ := e.NextExpiry(); !next.Equal(c.t.Add(10 * time.Minute)) {
		t.Fatalf("next expiry %v", next)
	}
	// The other jail counts the bans of every jail: a failure weighs 4.
	out, ds := failN(t, e, "other", "2001:db8::7", 2)
	if out != Banned || ds[0].Failures != 8 || ds[0].Count != 1 || ds[0].End.Sub(ds[0].Start) != 80*time.Minute {
		t.Fatalf("other jail: %v %+v", out, ds)
	}
}

// infoCount returns how many prefixes the engine knows anything of.
func (x *prefixIndex) infoCount() int {
	n := 0
	for _, m := range x.v4 {
		n += len(m)
	}
	for _, m := range x.short {
		n += len(m)
	}
	for _, m := range x.long {
		n += len(m)
	}
	if x.invalid != nil {
		n++
	}
	return n
}

// TestPrefixesForgotten checks that the engine keeps nothing of a prefix
// but its ban history once its failures and bans are gone, and nothing of
// a jail that goes.
func TestPrefixesForgotten(t *testing.T) {
	web := sshd()
	web.Name = "web"
	web.Prefix6 = 64
	e, c := newEngine(t, sshd(), web)
	for i := range 20 {
		a := fmt.Sprintf("2001:db8:%x::1", i)
		failN(t, e, "sshd", a, 2)
		failN(t, e, "web", a, 2)
	}
	failN(t, e, "sshd", "192.0.2.1", 5)                                         // banned
	e.ManualBan(BanRequest{Jail: "web", Prefix: mustPrefix("2001:db8:1::/64")}) // drops web's failures there
	e.Unban("", mustPrefix("2001:db8:2::1/128"))                                // drops the failures of both jails
	if n := e.prefixes.infoCount(); n != 20+20+1-2 {
		t.Fatalf("%d prefixes known", n)
	}
	c.advance(10 * time.Minute)
	e.Expire()
	// What is left: the history of the two bans.
	if n := e.prefixes.infoCount(); n != 2 {
		t.Fatalf("%d prefixes known after expiry", n)
	}
	failN(t, e, "web", "2001:db8:5::1", 4)
	failN(t, e, "sshd", "2001:db8:5::1", 4)
	if ds, err := e.Configure([]JailConfig{sshd()}); err != nil || len(ds) != 0 {
		t.Fatal(ds, err)
	}
	if n := e.prefixes.infoCount(); n != 3 {
		t.Fatalf("%d prefixes known after the jail went", n)
	}
	// The jail comes back with nothing.
	e.Configure([]JailConfig{sshd(), web})
	if st, _ := e.Stats("web"); st != (JailStats{}) {
		t.Fatalf("stats of the jail back: %+v", st)
	}
	if out, _ := failN(t, e, "web", "2001:db8:5::2", 4); out != Counted {
		t.Fatalf("failures of the jail back: %v", out)
	}
	if out, _ := failN(t, e, "sshd", "2001:db8:5::1", 1); out != Banned {
		t.Fatalf("failures of the jail that stayed: %v", out)
	}
}

// TestReloadAnswers checks that a reload is seen by what the engine keeps
// between failures: the ignore set's answers, the start of the windows.
func TestReloadAnswers(t *testing.T) {
	cfg := sshd()
	e, c := newEngine(t, cfg)
	failN(t, e, "sshd", "192.0.2.1", 2)
	cfg.Ignore = withIgnore(mustPrefix("192.0.2.1/32"))
	if _, err := e.Configure([]JailConfig{cfg}); err != nil {
		t.Fatal(err)
	}
	if out, _ := failN(t, e, "sshd", "192.0.2.1", 1); out != Ignored {
		t.Fatalf("address with failures, ignored by a reload: %v", out)
	}
	// A failure 30 minutes old is stale with a findtime of 10 minutes,
	// and not once a reload makes it an hour, at the same time.
	old := Failure{Addr: netip.MustParseAddr("192.0.2.2"), Time: c.t.Add(-30 * time.Minute)}
	if out, _, _ := e.Fail("sshd", old); out != Stale {
		t.Fatalf("old failure: %v", out)
	}
	cfg.FindTime = time.Hour
	if _, err := e.Configure([]JailConfig{cfg}); err != nil {
		t.Fatal(err)
	}
	if out, _, _ := e.Fail("sshd", old); out != Counted {
		t.Fatalf("old failure within the new findtime: %v", out)
	}
}
