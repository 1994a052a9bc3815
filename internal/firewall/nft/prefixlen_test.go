package nft_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/firewall/nft"
	"github.com/gaol-project/gaol/internal/netnstest"
)

// sshdBy returns the jail sshd banning by the given prefix lengths.
func sshdBy(len4, len6 int) firewall.Jail {
	j := sshd
	j.BanPrefix4, j.BanPrefix6 = len4, len6
	return j
}

// kernelSet returns the elements of one of the table's sets as nft(8)
// lists them: "2001:db8:1::" for an element of a hash set,
// "2001:db8::/48" or "192.0.2.1-192.0.2.6" for those of an interval set,
// with "@" after those with a timeout; sorted.
func kernelSet(t *testing.T, ns *netnstest.NS, set string) []string {
	t.Helper()
	out := nftList(t, ns, "-j", "list", "set", "inet", "gaol", set)
	els, err := netnstest.SetElements([]byte(out))
	if err != nil {
		t.Fatalf("nft -j list set %s: %v\n%s", set, err, out)
	}
	var got []string
	for _, el := range els {
		s := el.Value
		if el.HasTimeout {
			s += "@"
		}
		got = append(got, s)
	}
	slices.Sort(got)
	return got
}

// checkSets compares what each of sshd's sets holds in the kernel.
func checkSets(t *testing.T, ns *netnstest.NS, step string, want map[string][]string) {
	t.Helper()
	for _, set := range []string{"sshd-v4", "sshd-v4-net", "sshd-v6", "sshd-v6-net"} {
		w := slices.Clone(want[set])
		slices.Sort(w)
		if got := kernelSet(t, ns, set); !slices.Equal(got, w) {
			t.Errorf("%s: set %s holds %q, want %q", step, set, got, w)
		}
	}
}

func unban(t *testing.T, b *nft.Backend, jail string, specs ...string) {
	t.Helper()
	var ps []netip.Prefix
	for _, s := range specs {
		ps = append(ps, pfx(s))
	}
	if err := b.Unban(jail, ps); err != nil {
		t.Fatalf("Unban(%q, %v): %v", jail, ps, err)
	}
}

func ban(t *testing.T, b *nft.Backend, jail string, specs ...string) {
	t.Helper()
	if err := b.Ban(jail, elems(t, specs...)); err != nil {
		t.Fatalf("Ban(%q, %v): %v", jail, specs, err)
	}
}

// TestBanPrefixSets bans in a jail that bans IPv4 attackers by /24 and
// IPv6 ones by /64: prefixes of those lengths go to the hash sets, keyed
// by their network addresses, and are listed as prefixes; every other
// length goes to the interval sets.
func TestBanPrefixSets(t *testing.T) {
	b, ns := open(t)
	jail := sshdBy(24, 64)
	setup(t, b, jail)
	rules := nftList(t, ns, "list", "chain", "inet", "gaol", "input")
	for _, want := range []string{
		"ip saddr & 255.255.255.0 == @sshd-v4 drop",
		"ip saddr @sshd-v4-net drop",
		"ip6 saddr & ffff:ffff:ffff:ffff:: == @sshd-v6 drop",
		"ip6 saddr @sshd-v6-net drop",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("rules lack %q:\n%s", want, rules)
		}
	}

	// Masked on the way in: 2001:db8:2::9/64 is 2001:db8:2::/64.
	ban(t, b, "sshd", "2001:db8:1::/64@1h", "2001:db8:2::9/64", "2001:db8:1::7@1h", "2001:db8::/48@10m",
		"198.51.100.77/24", "192.0.2.7@1h", "::ffff:203.0.113.0/120@1h")
	want := []string{"192.0.2.7/32@", "198.51.100.0/24", "203.0.113.0/24@",
		"2001:db8::/48@", "2001:db8:1::/64@", "2001:db8:1::7/128@", "2001:db8:2::/64"}
	if got := listed(t, b, "sshd", time.Hour); !slices.Equal(got, want) {
		t.Fatalf("listed\n%q\nwant\n%q", got, want)
	}
	checkSets(t, ns, "banned", map[string][]string{
		"sshd-v4":     {"198.51.100.0", "203.0.113.0@"},
		"sshd-v4-net": {"192.0.2.7@"},
		"sshd-v6":     {"2001:db8:1::@", "2001:db8:2::"},
		"sshd-v6-net": {"2001:db8::/48@", "2001:db8:1::7@"},
	})

	// A longer ban of a /64 extends it, a shorter one does not shorten it.
	ban(t, b, "sshd", "2001:db8:1::/64@2h")
	ban(t, b, "sshd", "2001:db8:1::/64@30m")
	if d := timeouts(t, b, "sshd")["2001:db8:1::/64"]; d <= time.Hour || d > 2*time.Hour {
		t.Errorf("2001:db8:1::/64 has %v left after a 2h ban, want in (1h, 2h]", d)
	}
	if out := nftList(t, ns, "list", "set", "inet", "gaol", "sshd-v6"); !strings.Contains(out, "2001:db8:1:: timeout 2h expires") {
		t.Errorf("the kernel's element was not renewed:\n%s", out)
	}

	// Unbanning the /64 leaves the address inside it, and the other way
	// round; the /48 around them stays.
	unban(t, b, "sshd", "2001:db8:1::/64", "198.51.100.0/24", "192.0.2.7", "2001:db8:9::/64")
	want = []string{"203.0.113.0/24@", "2001:db8::/48@", "2001:db8:1::7/128@", "2001:db8:2::/64"}
	if got := listed(t, b, "sshd", 2*time.Hour); !slices.Equal(got, want) {
		t.Errorf("after unban: listed\n%q\nwant\n%q", got, want)
	}
	ban(t, b, "sshd", "2001:db8:1::/64@1h")
	unban(t, b, "sshd", "2001:db8:1::7")
	want = []string{"203.0.113.0/24@", "2001:db8::/48@", "2001:db8:1::/64@", "2001:db8:2::/64"}
	if got := listed(t, b, "sshd", time.Hour); !slices.Equal(got, want) {
		t.Errorf("after unban of the address: listed\n%q\nwant\n%q", got, want)
	}
	checkSets(t, ns, "unbanned", map[string][]string{
		"sshd-v4":     {"203.0.113.0@"},
		"sshd-v6":     {"2001:db8:1::@", "2001:db8:2::"},
		"sshd-v6-net": {"2001:db8::/48@"},
	})

	// Replace sorts the bans by length too.
	if err := b.Replace("sshd", elems(t, "2001:db8:3::/64@1h", "2001:db8:3::/64@2h", "2001:db8:3::1", "2001:db8:4::/63", "192.0.2.0/24@1h", "192.0.2.0/25")); err != nil {
		t.Fatal(err)
	}
	want = []string{"192.0.2.0/24@", "192.0.2.0/25", "2001:db8:3::/64@", "2001:db8:3::1/128", "2001:db8:4::/63"}
	if got := listed(t, b, "sshd", 2*time.Hour); !slices.Equal(got, want) {
		t.Errorf("after Replace: listed\n%q\nwant\n%q", got, want)
	}
	if d := timeouts(t, b, "sshd")["2001:db8:3::/64"]; d <= time.Hour || d > 2*time.Hour {
		t.Errorf("2001:db8:3::/64 has %v left after Replace, want the later ban: in (1h, 2h]", d)
	}
	checkSets(t, ns, "replaced", map[string][]string{
		"sshd-v4":     {"192.0.2.0@"},
		"sshd-v4-net": {"192.0.2.0/25"},
		"sshd-v6":     {"2001:db8:3::@"},
		"sshd-v6-net": {"2001:db8:3::1", "2001:db8:4::/63"},
	})
}

// TestBanPrefixRestart reads the hash sets back after a restart, with the
// lengths of the new backend's Setup.
func TestBanPrefixRestart(t *testing.T) {
	b, ns := open(t)
	setup(t, b, sshdBy(0, 64))
	ban(t, b, "sshd", "2001:db8:1::/64@1h", "2001:db8:2::/64@1h", "2001:db8:2::5@1h", "192.0.2.1@1h")
	// Someone else's element, which the mask never gives, is no ban.
	if out, err := ns.Exec("nft", "add", "element", "inet", "gaol", "sshd-v6", "{ 2001:db8:7::1 }"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}

	b2 := openIn(t, ns)
	setup(t, b2, sshdBy(0, 64))
	want := []string{"192.0.2.1/32@", "2001:db8:1::/64@", "2001:db8:2::/64@", "2001:db8:2::5/128@"}
	if got := listed(t, b2, "sshd", time.Hour); !slices.Equal(got, want) {
		t.Errorf("after restart: listed\n%q\nwant\n%q", got, want)
	}
	// The model read back serves re-bans and unbans.
	ban(t, b2, "sshd", "2001:db8:1::/64@2h", "2001:db8:3::/64")
	unban(t, b2, "sshd", "2001:db8:2::/64")
	want = []string{"192.0.2.1/32@", "2001:db8:1::/64@", "2001:db8:2::5/128@", "2001:db8:3::/64"}
	if got := listed(t, b2, "sshd", 2*time.Hour); !slices.Equal(got, want) {
		t.Errorf("listed\n%q\nwant\n%q", got, want)
	}
	if d := timeouts(t, b2, "sshd")["2001:db8:1::/64"]; d <= time.Hour {
		t.Errorf("2001:db8:1::/64 has %v left after a 2h ban, want more than 1h", d)
	}

	// A third backend unbans without having listed first.
	b3 := openIn(t, ns)
	setup(t, b3, sshdBy(0, 64))
	unban(t, b3, "sshd", "2001:db8:1::/64")
	want = []string{"192.0.2.1/32@", "2001:db8:2::5/128@", "2001:db8:3::/64"}
	if got := listed(t, b3, "sshd", 2*time.Hour); !slices.Equal(got, want) {
		t.Errorf("listed\n%q\nwant\n%q", got, want)
	}
}

// TestBanPrefixChange sets a jail up again with another ban prefix length:
// the hash set of that family is emptied (its elements meant prefixes of
// the old length) and its rule masks to the new length; Replace then
// applies the bans again. The change is seen by the same backend and, from
// the rule in the kernel, after a restart.
func TestBanPrefixChange(t *testing.T) {
	tests := []struct {
		name    string
		restart bool
	}{
		{"reload", false},
		{"restart", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ns := open(t)
			setup(t, b, sshdBy(0, 64))
			ban(t, b, "sshd", "2001:db8:1::/64@1h", "2001:db8:2::5@1h", "2001:db8::/48", "192.0.2.1@1h")
			if tt.restart {
				b = openIn(t, ns)
			}

			setup(t, b, sshdBy(0, 128))
			// The IPv4 hash set keeps its ban, the IPv6 one is empty; the
			// interval set keeps its bans.
			checkSets(t, ns, "IPv6 by /128", map[string][]string{
				"sshd-v4":     {"192.0.2.1@"},
				"sshd-v6-net": {"2001:db8::/48", "2001:db8:2::5@"},
			})
			want := []string{"192.0.2.1/32@", "2001:db8::/48", "2001:db8:2::5/128@"}
			if got := listed(t, b, "sshd", time.Hour); !slices.Equal(got, want) {
				t.Errorf("IPv6 by /128: listed\n%q\nwant\n%q", got, want)
			}
			rules := nftList(t, ns, "list", "chain", "inet", "gaol", "input")
			if !strings.Contains(rules, "ip6 saddr @sshd-v6 drop") || strings.Contains(rules, "&") {
				t.Errorf("rules after the change to /128:\n%s", rules)
			}
			// The caller applies the bans again.
			bans := elems(t, "2001:db8:1::/64@1h", "2001:db8:2::5@1h", "2001:db8::/48", "192.0.2.1@1h")
			if err := b.Replace("sshd", bans); err != nil {
				t.Fatal(err)
			}
			checkSets(t, ns, "IPv6 by /128, replaced", map[string][]string{
				"sshd-v4":     {"192.0.2.1@"},
				"sshd-v6":     {"2001:db8:2::5@"},
				"sshd-v6-net": {"2001:db8::/48", "2001:db8:1::/64@"},
			})

			// And to /48.
			if tt.restart {
				b = openIn(t, ns)
			}
			setup(t, b, sshdBy(0, 48))
			checkSets(t, ns, "IPv6 by /48", map[string][]string{
				"sshd-v4":     {"192.0.2.1@"},
				"sshd-v6-net": {"2001:db8::/48", "2001:db8:1::/64@"},
			})
			rules = nftList(t, ns, "list", "chain", "inet", "gaol", "input")
			if !strings.Contains(rules, "ip6 saddr & ffff:ffff:ffff:: == @sshd-v6 drop") {
				t.Errorf("rules after the change to /48:\n%s", rules)
			}
			if err := b.Replace("sshd", bans); err != nil {
				t.Fatal(err)
			}
			want = []string{"192.0.2.1/32@", "2001:db8::/48", "2001:db8:1::/64@", "2001:db8:2::5/128@"}
			if got := listed(t, b, "sshd", time.Hour); !slices.Equal(got, want) {
				t.Errorf("IPv6 by /48, replaced: listed\n%q\nwant\n%q", got, want)
			}
			checkSets(t, ns, "IPv6 by /48, replaced", map[string][]string{
				"sshd-v4":     {"192.0.2.1@"},
				"sshd-v6":     {"2001:db8::"},
				"sshd-v6-net": {"2001:db8:1::/64@", "2001:db8:2::5@"},
			})

			// The same lengths again keep the bans.
			if tt.restart {
				b = openIn(t, ns)
			}
			setup(t, b, sshdBy(32, 48))
			if got := listed(t, b, "sshd", time.Hour); !slices.Equal(got, want) {
				t.Errorf("same lengths again: listed\n%q\nwant\n%q", got, want)
			}
		})
	}
}
