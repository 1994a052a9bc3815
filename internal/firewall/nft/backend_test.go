package nft_test

import (
	"errors"
	"flag"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/firewall/nft"
	"github.com/gaol-project/gaol/internal/netnstest"
)

var update = flag.Bool("update", false, "rewrite golden files")

// open returns a backend working in a fresh network namespace.
func open(t *testing.T) (*nft.Backend, *netnstest.NS) {
	t.Helper()
	ns := netnstest.New(t)
	return openIn(t, ns), ns
}

func openIn(t *testing.T, ns *netnstest.NS) *nft.Backend {
	t.Helper()
	f, err := os.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, err := nft.Open(nft.Options{NetNS: int(f.Fd())})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

func setup(t *testing.T, b *nft.Backend, jails ...firewall.Jail) {
	t.Helper()
	if err := b.Setup(jails); err != nil {
		t.Fatalf("Setup: %v", err)
	}
}

var sshd = firewall.Jail{Name: "sshd", Ports: []firewall.PortRange{pr(22, 22)}, Protocol: "tcp"}

func pr(from, to uint16) firewall.PortRange { return firewall.PortRange{From: from, To: to} }

func pfx(s string) netip.Prefix {
	if !strings.Contains(s, "/") {
		a := netip.MustParseAddr(s)
		return netip.PrefixFrom(a, a.BitLen())
	}
	return netip.MustParsePrefix(s)
}

func nftList(t *testing.T, ns *netnstest.NS, args ...string) string {
	t.Helper()
	out, err := ns.Exec(append([]string{"nft"}, args...)...)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return string(out)
}

func TestSetupGolden(t *testing.T) {
	b, ns := open(t)
	setup(t, b,
		sshd,
		// Bans by /64 (IPv6) and /24 (IPv4): masked lookups.
		firewall.Jail{Name: "nginx-http-auth", Ports: []firewall.PortRange{pr(80, 80), pr(443, 443)}, BanPrefix4: 24, BanPrefix6: 64},
		firewall.Jail{Name: "vsftpd", Ports: []firewall.PortRange{pr(20, 21)}, Protocol: "tcp"},
		firewall.Jail{Name: "named.refused", Ports: []firewall.PortRange{pr(53, 53)}, Protocol: "udp"},
		firewall.Jail{Name: "recidive", Protocol: "all", BanPrefix4: 32, BanPrefix6: 56},
		firewall.Jail{Name: "everything-tcp", Protocol: "tcp"},
		firewall.Jail{Name: "high", Ports: []firewall.PortRange{pr(8080, 8081), pr(8081, 8090), pr(65000, 65535), pr(1, 1)}, Protocol: "sctp"},
		firewall.Jail{Name: "my jail/é"},
		// The longest set base name, 64 bytes, and its suffixes.
		firewall.Jail{Name: strings.Repeat("long", 20)},
	)
	got := nftList(t, ns, "list", "table", "inet", "gaol")
	golden(t, "setup.golden", got)
	// nft(8) reads the listing back: set names and comments are usable.
	check := exec.Command("ip", "netns", "exec", ns.Name(), "nft", "-c", "-f", "-")
	check.Stdin = strings.NewReader(got)
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("nft -c rejects the listing: %v: %s", err, out)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to rewrite):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// ban is a test shorthand: "192.0.2.1" or "192.0.2.0/24", with an optional
// "@10m" timeout.
func elems(t *testing.T, specs ...string) []firewall.Element {
	t.Helper()
	var out []firewall.Element
	for _, s := range specs {
		p, d, ok := strings.Cut(s, "@")
		e := firewall.Element{Prefix: pfx(p)}
		if ok {
			var err error
			if e.Timeout, err = time.ParseDuration(d); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, e)
	}
	return out
}

// listed returns the jail's elements as "prefix" or "prefix@timeout" for
// elements with a timeout, checking the time left is in (0, timeout].
func listed(t *testing.T, b *nft.Backend, jail string, maxLeft time.Duration) []string {
	t.Helper()
	got, err := b.List(jail)
	if err != nil {
		t.Fatalf("List(%q): %v", jail, err)
	}
	var out []string
	for _, e := range got {
		if e.Timeout == 0 {
			out = append(out, e.Prefix.String())
			continue
		}
		if e.Timeout < 0 || e.Timeout > maxLeft {
			t.Errorf("%v: %v left, want in (0, %v]", e.Prefix, e.Timeout, maxLeft)
		}
		out = append(out, e.Prefix.String()+"@")
	}
	return out
}

func TestBanUnbanList(t *testing.T) {
	type step struct {
		ban, unban []string
		want       []string // "prefix" permanent, "prefix@" with a timeout
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"IPv4 addresses", []step{
			{ban: []string{"192.0.2.1@10m", "192.0.2.2", "203.0.113.255@1h"},
				want: []string{"192.0.2.1/32@", "192.0.2.2/32", "203.0.113.255/32@"}},
			{unban: []string{"192.0.2.1", "198.51.100.1"}, want: []string{"192.0.2.2/32", "203.0.113.255/32@"}},
		}},
		{"IPv6 addresses and prefixes", []step{
			{ban: []string{"2001:db8::1@10m", "2001:db8:1::/48", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"},
				want: []string{"2001:db8::1/128@", "2001:db8:1::/48", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128"}},
			{unban: []string{"2001:db8:1::/48"}, want: []string{"2001:db8::1/128@", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff/128"}},
		}},
		{"IPv4 prefixes and mapped addresses", []step{
			{ban: []string{"198.51.100.0/24@10m", "::ffff:192.0.2.7", "::ffff:203.0.113.0/120"},
				want: []string{"192.0.2.7/32", "198.51.100.0/24@", "203.0.113.0/24"}},
			{unban: []string{"::ffff:192.0.2.7"}, want: []string{"198.51.100.0/24@", "203.0.113.0/24"}},
		}},
		{"the last addresses", []step{
			{ban: []string{"255.255.255.255", "255.255.255.0/31", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120@1m"},
				want: []string{"255.255.255.0/31", "255.255.255.255/32", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120@"}},
			{unban: []string{"255.255.255.255"}, want: []string{"255.255.255.0/31", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ff00/120@"}},
		}},
		{"duplicates", []step{
			{ban: []string{"192.0.2.1@10m", "192.0.2.1@10m", "2001:db8::1", "2001:db8::1"},
				want: []string{"192.0.2.1/32@", "2001:db8::1/128"}},
			{ban: []string{"192.0.2.1@10m", "2001:db8::1"}, want: []string{"192.0.2.1/32@", "2001:db8::1/128"}},
			// Refreshing a ban: permanent now.
			{ban: []string{"192.0.2.1"}, want: []string{"192.0.2.1/32", "2001:db8::1/128"}},
		}},
		// An address and a subnet around it are banned in different sets
		// (a hash set and an interval set), and both are listed.
		{"inside a banned prefix", []step{
			{ban: []string{"192.0.2.0/24", "2001:db8::/64@1h"}, want: []string{"192.0.2.0/24", "2001:db8::/64@"}},
			{ban: []string{"192.0.2.9@10m", "2001:db8::9@10m"},
				want: []string{"192.0.2.0/24", "192.0.2.9/32@", "2001:db8::/64@", "2001:db8::9/128@"}},
			{unban: []string{"192.0.2.9", "2001:db8::9"}, want: []string{"192.0.2.0/24", "2001:db8::/64@"}},
		}},
		{"around banned addresses", []step{
			{ban: []string{"192.0.2.9@10m", "192.0.2.10@10m", "2001:db8::9@10m"},
				want: []string{"192.0.2.9/32@", "192.0.2.10/32@", "2001:db8::9/128@"}},
			{ban: []string{"192.0.2.0/24@1h", "2001:db8::/64@1h"},
				want: []string{"192.0.2.0/24@", "192.0.2.9/32@", "192.0.2.10/32@", "2001:db8::/64@", "2001:db8::9/128@"}},
			{unban: []string{"192.0.2.0/24", "2001:db8::/64"}, want: []string{"192.0.2.9/32@", "192.0.2.10/32@", "2001:db8::9/128@"}},
		}},
		{"around banned prefixes", []step{
			{ban: []string{"192.0.2.8/30@10m", "2001:db8::/120@10m"}, want: []string{"192.0.2.8/30@", "2001:db8::/120@"}},
			{ban: []string{"192.0.2.0/24@1h", "2001:db8::/64@1h"}, want: []string{"192.0.2.0/24@", "2001:db8::/64@"}},
			{unban: []string{"192.0.2.0/24", "2001:db8::/64"}, want: []string{"192.0.2.8/30@", "2001:db8::/120@"}},
		}},
		{"one batch with everything", []step{
			{ban: []string{"192.0.2.9@10m", "192.0.2.8/31@3h", "192.0.2.0/28@1h", "192.0.2.0/24@2h", "192.0.2.0/24@2h", "192.0.2.2/31", "192.0.2.3"},
				want: []string{"192.0.2.0/31@", "192.0.2.2/31", "192.0.2.3/32", "192.0.2.4/30@", "192.0.2.8/31@", "192.0.2.9/32@", "192.0.2.10/31@",
					"192.0.2.12/30@", "192.0.2.16/28@", "192.0.2.32/27@", "192.0.2.64/26@", "192.0.2.128/25@"}},
			// Lifting the subnet leaves the other bans.
			{unban: []string{"192.0.2.0/24"},
				want: []string{"192.0.2.0/31@", "192.0.2.2/31", "192.0.2.3/32", "192.0.2.4/30@", "192.0.2.8/31@", "192.0.2.9/32@", "192.0.2.10/31@", "192.0.2.12/30@"}},
			{unban: []string{"192.0.2.0/28", "192.0.2.9", "192.0.2.8/31"}, want: []string{"192.0.2.2/31", "192.0.2.3/32"}},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := open(t)
			setup(t, b, sshd)
			for i, s := range tt.steps {
				if s.ban != nil {
					if err := b.Ban("sshd", elems(t, s.ban...)); err != nil {
						t.Fatalf("step %d: Ban: %v", i, err)
					}
				}
				if s.unban != nil {
					var ps []netip.Prefix
					for _, u := range s.unban {
						ps = append(ps, pfx(u))
					}
					if err := b.Unban("sshd", ps); err != nil {
						t.Fatalf("step %d: Unban: %v", i, err)
					}
				}
				if got := listed(t, b, "sshd", 3*time.Hour); !slices.Equal(got, s.want) {
					t.Fatalf("step %d: listed\n%q\nwant\n%q", i, got, s.want)
				}
			}
		})
	}
}

// TestIndependentBans bans an address and a subnet around it: they are in
// different sets, and unbanning one leaves the other.
func TestIndependentBans(t *testing.T) {
	tests := []struct {
		family, addr, subnet, addrSet, netSet string
	}{
		{"IPv4", "192.0.2.7", "192.0.2.0/24", "sshd-v4", "sshd-v4-net"},
		{"IPv6", "2001:db8::7", "2001:db8::/64", "sshd-v6", "sshd-v6-net"},
	}
	for _, tt := range tests {
		t.Run(tt.family, func(t *testing.T) {
			b, ns := open(t)
			setup(t, b, sshd)
			addr, subnet := pfx(tt.addr).String(), pfx(tt.subnet).String()
			// check compares the listing and what each kernel set holds.
			check := func(step string, want ...string) {
				t.Helper()
				if got := listed(t, b, "sshd", time.Hour); !slices.Equal(got, want) {
					t.Errorf("%s: listed %q, want %q", step, got, want)
				}
				addrs := nftList(t, ns, "list", "set", "inet", "gaol", tt.addrSet)
				nets := nftList(t, ns, "list", "set", "inet", "gaol", tt.netSet)
				inAddrs := slices.Contains(want, addr+"@") || slices.Contains(want, addr)
				inNets := slices.Contains(want, subnet+"@") || slices.Contains(want, subnet)
				if strings.Contains(addrs, tt.addr+" ") != inAddrs || strings.Contains(nets, tt.subnet) != inNets || strings.Contains(nets, tt.addr+" ") {
					t.Errorf("%s: the kernel's sets hold\n%s%s", step, addrs, nets)
				}
			}
			if err := b.Ban("sshd", elems(t, tt.addr+"@1h", tt.subnet+"@10m")); err != nil {
				t.Fatal(err)
			}
			check("both banned", subnet+"@", addr+"@")
			if err := b.Unban("sshd", []netip.Prefix{pfx(tt.subnet)}); err != nil {
				t.Fatal(err)
			}
			check("subnet unbanned", addr+"@")
			if err := b.Ban("sshd", elems(t, tt.subnet)); err != nil {
				t.Fatal(err)
			}
			check("subnet banned again", subnet, addr+"@")
			if err := b.Unban("sshd", []netip.Prefix{pfx(tt.addr)}); err != nil {
				t.Fatal(err)
			}
			check("address unbanned", subnet)
			// Unbanning what is not banned changes nothing.
			if err := b.Unban("sshd", []netip.Prefix{pfx(tt.addr), pfx(tt.addr)}); err != nil {
				t.Fatal(err)
			}
			check("address unbanned again", subnet)
		})
	}
}

// TestReban bans the same address or subnet several times: the latest
// deadline wins, in the backend's listing and in the kernel's element.
func TestReban(t *testing.T) {
	tests := []struct {
		name   string
		bans   [][]string // successive calls of Ban
		set    string     // where the element is
		elem   string     // as nft(8) lists it
		lo, hi time.Duration
		nft    string // timeout as nft(8) lists it; "" = permanent
	}{
		{"longer ban extends", [][]string{{"192.0.2.1@1h"}, {"192.0.2.1@2h"}}, "sshd-v4", "192.0.2.1", time.Hour, 2 * time.Hour, "2h"},
		{"shorter ban does not shorten", [][]string{{"192.0.2.1@2h"}, {"192.0.2.1@1h"}}, "sshd-v4", "192.0.2.1", time.Hour, 2 * time.Hour, "2h"},
		{"permanent ban", [][]string{{"192.0.2.1@1h"}, {"192.0.2.1"}}, "sshd-v4", "192.0.2.1", 0, 0, ""},
		{"timed ban of a permanent one", [][]string{{"192.0.2.1"}, {"192.0.2.1@1h"}}, "sshd-v4", "192.0.2.1", 0, 0, ""},
		{"in one batch", [][]string{{"192.0.2.1@1h", "192.0.2.1@2h", "192.0.2.1@30m"}}, "sshd-v4", "192.0.2.1", time.Hour, 2 * time.Hour, "2h"},
		{"in one batch after a ban", [][]string{{"192.0.2.1@1h"}, {"192.0.2.1@30m", "192.0.2.1@2h", "192.0.2.1@90m"}}, "sshd-v4", "192.0.2.1", time.Hour, 2 * time.Hour, "2h"},
		{"IPv6", [][]string{{"2001:db8::1@1h"}, {"2001:db8::1@2h"}, {"2001:db8::1@1h"}}, "sshd-v6", "2001:db8::1", time.Hour, 2 * time.Hour, "2h"},
		{"subnet", [][]string{{"198.51.100.0/24@1h"}, {"198.51.100.0/24@2h"}, {"198.51.100.0/24@30m"}}, "sshd-v4-net", "198.51.100.0/24", time.Hour, 2 * time.Hour, "2h"},
		{"IPv6 subnet", [][]string{{"2001:db8::/64@2h"}, {"2001:db8::/64@1h"}}, "sshd-v6-net", "2001:db8::/64", time.Hour, 2 * time.Hour, "2h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, ns := open(t)
			setup(t, b, sshd)
			for _, bans := range tt.bans {
				if err := b.Ban("sshd", elems(t, bans...)); err != nil {
					t.Fatal(err)
				}
			}
			got, err := b.List("sshd")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 || got[0].Prefix != pfx(tt.elem) {
				t.Fatalf("List = %v, want %s only", got, tt.elem)
			}
			if d := got[0].Timeout; tt.hi == 0 && d != 0 || tt.hi != 0 && (d <= tt.lo || d > tt.hi) {
				t.Errorf("%v left, want in (%v, %v] (0 = permanent)", d, tt.lo, tt.hi)
			}
			out := nftList(t, ns, "list", "set", "inet", "gaol", tt.set)
			want := "{ " + tt.elem + " }"
			if tt.nft != "" {
				want = "{ " + tt.elem + " timeout " + tt.nft + " expires "
			}
			if !strings.Contains(out, want) {
				t.Errorf("nft lists\n%s\nwant %q in it", out, want)
			}
		})
	}
}

func TestTimeoutListed(t *testing.T) {
	b, ns := open(t)
	setup(t, b, sshd)
	if err := b.Ban("sshd", elems(t, "192.0.2.1@10m", "2001:db8::1@10m")); err != nil {
		t.Fatal(err)
	}
	got, err := b.List("sshd")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("List = %v, want 2 elements", got)
	}
	for _, e := range got {
		if e.Timeout <= 0 || e.Timeout > 10*time.Minute {
			t.Errorf("%v: %v left, want in (0, 10m]", e.Prefix, e.Timeout)
		}
	}
	// nft(8) sees the timeouts too.
	out := nftList(t, ns, "list", "set", "inet", "gaol", "sshd-v4")
	if !strings.Contains(out, "192.0.2.1 timeout 10m expires") {
		t.Errorf("nft list set shows no timeout:\n%s", out)
	}
}

func TestKernelExpires(t *testing.T) {
	b, _ := open(t)
	setup(t, b, sshd)
	if err := b.Ban("sshd", elems(t, "192.0.2.1@200ms", "192.0.2.2", "2001:db8::1@200ms")); err != nil {
		t.Fatal(err)
	}
	// The kernel lifts the bans by itself; wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := listed(t, b, "sshd", time.Second)
		if slices.Equal(got, []string{"192.0.2.2/32"}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bans did not expire: %q", got)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Banning over expired elements works.
	if err := b.Ban("sshd", elems(t, "192.0.2.0/31@1h", "2001:db8::1@1h")); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b, "sshd", time.Hour), []string{"192.0.2.0/31@", "192.0.2.2/32", "2001:db8::1/128@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
}

func TestSetupReload(t *testing.T) {
	b, ns := open(t)
	ftp := firewall.Jail{Name: "vsftpd", Ports: []firewall.PortRange{pr(21, 21)}}
	setup(t, b, sshd, ftp)
	if err := b.Ban("sshd", elems(t, "192.0.2.1@10m", "2001:db8::1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("vsftpd", elems(t, "192.0.2.2")); err != nil {
		t.Fatal(err)
	}
	// Same jails again: nothing changes.
	setup(t, b, sshd, ftp)
	before := nftList(t, ns, "list", "table", "inet", "gaol")
	setup(t, b, sshd, ftp)
	if after := nftList(t, ns, "list", "table", "inet", "gaol"); stripExpires(after) != stripExpires(before) {
		t.Errorf("Setup with the same jails changed the table:\n%s\nwas\n%s", after, before)
	}
	// Reload: sshd moves to another port, vsftpd goes, nginx comes.
	sshd2 := firewall.Jail{Name: "sshd", Ports: []firewall.PortRange{pr(2222, 2222)}, Protocol: "tcp"}
	setup(t, b, sshd2, firewall.Jail{Name: "nginx", Ports: []firewall.PortRange{pr(443, 443)}})
	if got, want := listed(t, b, "sshd", 10*time.Minute), []string{"192.0.2.1/32@", "2001:db8::1/128"}; !slices.Equal(got, want) {
		t.Errorf("sshd after reload: %q, want %q", got, want)
	}
	if got := listed(t, b, "nginx", 0); len(got) != 0 {
		t.Errorf("new jail has elements: %q", got)
	}
	if err := b.Ban("vsftpd", elems(t, "192.0.2.3")); !errors.Is(err, nft.ErrUnknownJail) {
		t.Errorf("Ban in a removed jail: %v, want ErrUnknownJail", err)
	}
	out := nftList(t, ns, "list", "table", "inet", "gaol")
	for _, want := range []string{"tcp dport 2222 ip saddr @sshd-v4 drop", "set nginx-v6", "tcp dport 443 ip6 saddr @nginx-v6 drop"} {
		if !strings.Contains(out, want) {
			t.Errorf("table after reload lacks %q:\n%s", want, out)
		}
	}
	for _, gone := range []string{"vsftpd", "dport 22 "} {
		if strings.Contains(out, gone) {
			t.Errorf("table after reload still has %q:\n%s", gone, out)
		}
	}
	// Bans keep working after the reload, with the kept model.
	if err := b.Ban("sshd", elems(t, "192.0.2.0/24", "192.0.2.1@20m")); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b, "sshd", 20*time.Minute), []string{"192.0.2.0/24", "192.0.2.1/32@", "2001:db8::1/128"}; !slices.Equal(got, want) {
		t.Errorf("sshd after reload and ban: %q, want %q", got, want)
	}
}

var expires = regexp.MustCompile(` expires [0-9hms]+`)

func stripExpires(s string) string { return expires.ReplaceAllString(s, "") }

// A new backend (the daemon restarted) finds the bans of both kinds of set
// in the kernel and works with them.
func TestRestart(t *testing.T) {
	b, ns := open(t)
	setup(t, b, sshd)
	if err := b.Ban("sshd", elems(t, "192.0.2.9@1h", "192.0.2.10@1h", "192.0.2.4/30@1h", "192.0.2.64/26", "2001:db8::9@10m", "2001:db8::/126@10m")); err != nil {
		t.Fatal(err)
	}
	b2 := openIn(t, ns)
	setup(t, b2, sshd)
	// Re-bans and overlapping bans need what the kernel holds: a longer
	// ban of 192.0.2.9 renews its element, a shorter one of 2001:db8::9
	// changes nothing, and 192.0.2.0/28 replaces the element of
	// 192.0.2.4/30, which an interval set could not hold beside it.
	if err := b2.Ban("sshd", elems(t, "192.0.2.9@2h", "192.0.2.10@5m", "192.0.2.0/28@2h", "192.0.2.65", "2001:db8::9@5m", "2001:db8::/120@1h")); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b2, "sshd", 2*time.Hour), []string{"192.0.2.0/28@", "192.0.2.9/32@", "192.0.2.10/32@", "192.0.2.64/26", "192.0.2.65/32", "2001:db8::/120@", "2001:db8::9/128@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
	left := timeouts(t, b2, "sshd")
	for p, want := range map[string][2]time.Duration{
		"192.0.2.9/32":    {time.Hour, 2 * time.Hour},
		"192.0.2.10/32":   {5 * time.Minute, time.Hour},
		"2001:db8::9/128": {5 * time.Minute, 10 * time.Minute},
	} {
		if d := left[p]; d <= want[0] || d > want[1] {
			t.Errorf("%s: %v left, want in (%v, %v]", p, d, want[0], want[1])
		}
	}
	if err := b2.Unban("sshd", []netip.Prefix{pfx("192.0.2.64/26"), pfx("192.0.2.9"), pfx("2001:db8::/120")}); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b2, "sshd", 2*time.Hour), []string{"192.0.2.0/28@", "192.0.2.10/32@", "192.0.2.65/32", "2001:db8::/126@", "2001:db8::9/128@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
	// A third backend unbans without having listed first.
	b3 := openIn(t, ns)
	setup(t, b3, sshd)
	if err := b3.Unban("sshd", []netip.Prefix{pfx("192.0.2.10"), pfx("2001:db8::/126")}); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b3, "sshd", 2*time.Hour), []string{"192.0.2.0/28@", "192.0.2.65/32", "2001:db8::9/128@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
}

// TestUpgrade sets up a table that an older gaol made, or whose sets are
// of the wrong kind: Setup makes those sets again, and Replace (the
// daemon's start) fills them.
func TestUpgrade(t *testing.T) {
	tests := []struct {
		name, table string
	}{
		{"one interval set per family", `
table inet gaol {
	set sshd-v4 { type ipv4_addr; flags interval,timeout; elements = { 192.0.2.1 timeout 1h, 198.51.100.0/24 } }
	set sshd-v6 { type ipv6_addr; flags interval,timeout; elements = { 2001:db8::1, 2001:db8:1::/48 } }
	chain input {
		type filter hook input priority filter - 1; policy accept;
		tcp dport 22 ip saddr @sshd-v4 drop comment "sshd"
		tcp dport 22 ip6 saddr @sshd-v6 drop comment "sshd"
	}
}`},
		{"sets of the wrong kinds", `
table inet gaol {
	set sshd-v4 { type ipv4_addr; flags timeout; elements = { 192.0.2.1 } }
	set sshd-v4-net { type ipv4_addr; flags timeout; elements = { 192.0.2.2 } }
	set sshd-v6 { type ipv6_addr; elements = { 2001:db8::1 } }
	set sshd-v6-net { type ipv4_addr; flags interval,timeout; elements = { 198.51.100.0/24 } }
	set gone-v4 { type ipv4_addr; flags interval,timeout; }
	chain input {
		type filter hook input priority filter - 1; policy accept;
		ip saddr @sshd-v4-net drop
		ip saddr @sshd-v6-net drop
		ip saddr @gone-v4 drop
	}
}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := netnstest.New(t)
			cmd := exec.Command("ip", "netns", "exec", ns.Name(), "nft", "-f", "-")
			cmd.Stdin = strings.NewReader(tt.table)
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("making the old table: %v: %s", err, out)
			}
			b := openIn(t, ns)
			setup(t, b, sshd)
			// The table is as a fresh Setup makes it, but for what the
			// sets that were kept hold.
			fresh := netnstest.New(t)
			setup(t, openIn(t, fresh), sshd)
			want := nftList(t, fresh, "list", "table", "inet", "gaol")
			got := nftList(t, ns, "list", "table", "inet", "gaol")
			if elements.ReplaceAllString(got, "") != want {
				t.Errorf("table after Setup:\n%s\nwant\n%s", got, want)
			}
			if err := b.Replace("sshd", elems(t, "192.0.2.1@1h", "198.51.100.0/24", "2001:db8::1", "2001:db8:1::/48@1h")); err != nil {
				t.Fatal(err)
			}
			if got, want := listed(t, b, "sshd", time.Hour), []string{"192.0.2.1/32@", "198.51.100.0/24", "2001:db8::1/128", "2001:db8:1::/48@"}; !slices.Equal(got, want) {
				t.Errorf("listed %q, want %q", got, want)
			}
		})
	}
}

var elements = regexp.MustCompile(`(?m)^\s*elements = .*\n`)

// Ranges added by someone else are read as prefixes, and bans work around
// them.
func TestForeignRange(t *testing.T) {
	b, ns := open(t)
	setup(t, b, sshd)
	if out, err := ns.Exec("nft", "add", "element", "inet", "gaol", "sshd-v4-net", "{ 192.0.2.1-192.0.2.6 timeout 1h }"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	b2 := openIn(t, ns)
	setup(t, b2, sshd)
	if got, want := listed(t, b2, "sshd", time.Hour), []string{"192.0.2.1/32@", "192.0.2.2/31@", "192.0.2.4/31@", "192.0.2.6/32@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
	if err := b2.Unban("sshd", []netip.Prefix{pfx("192.0.2.2/31")}); err != nil {
		t.Fatal(err)
	}
	if err := b2.Ban("sshd", elems(t, "192.0.2.0/29@2h")); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b2, "sshd", 2*time.Hour), []string{"192.0.2.0/29@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
}

func TestReplace(t *testing.T) {
	b, ns := open(t)
	setup(t, b, sshd)
	if err := b.Ban("sshd", elems(t, "192.0.2.1", "192.0.2.2@1h", "203.0.113.0/24", "2001:db8::1", "2001:db8:1::/48@1h")); err != nil {
		t.Fatal(err)
	}
	// 192.0.2.2 gets a shorter ban than it had: Replace forgets the old.
	if err := b.Replace("sshd", elems(t, "192.0.2.2@10m", "198.51.100.0/24@1h", "198.51.100.7@1h", "2001:db8::2@10m", "2001:db8::2@20m", "2001:db8:2::/48")); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b, "sshd", time.Hour), []string{"192.0.2.2/32@", "198.51.100.0/24@", "198.51.100.7/32@", "2001:db8::2/128@", "2001:db8:2::/48"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
	left := timeouts(t, b, "sshd")
	if d := left["192.0.2.2/32"]; d > 10*time.Minute {
		t.Errorf("192.0.2.2 has %v left after Replace, want at most 10m", d)
	}
	if d := left["2001:db8::2/128"]; d <= 10*time.Minute || d > 20*time.Minute {
		t.Errorf("2001:db8::2 has %v left after Replace, want the later of two bans: in (10m, 20m]", d)
	}
	// The models are Replace's: bans work on them.
	if err := b.Ban("sshd", elems(t, "192.0.2.2@1h", "198.51.100.0/25@2h")); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b, "sshd", 2*time.Hour), []string{"192.0.2.2/32@", "198.51.100.0/25@", "198.51.100.7/32@", "198.51.100.128/25@", "2001:db8::2/128@", "2001:db8:2::/48"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
	if err := b.Replace("sshd", nil); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, b, "sshd", 0); len(got) != 0 {
		t.Errorf("listed %q after Replace with nothing", got)
	}
	for _, set := range []string{"sshd-v4", "sshd-v4-net", "sshd-v6", "sshd-v6-net"} {
		if out := nftList(t, ns, "list", "set", "inet", "gaol", set); strings.Contains(out, "elements") {
			t.Errorf("set %s not empty after Replace with nothing:\n%s", set, out)
		}
	}
}

// timeouts returns the time left of each of the jail's elements, by prefix.
func timeouts(t *testing.T, b *nft.Backend, jail string) map[string]time.Duration {
	t.Helper()
	got, err := b.List(jail)
	if err != nil {
		t.Fatalf("List(%q): %v", jail, err)
	}
	out := make(map[string]time.Duration, len(got))
	for _, e := range got {
		out[e.Prefix.String()] = e.Timeout
	}
	return out
}

// The firewall is a cache of the store: if the table disappears, Ban fails
// and Replace (the daemon's resynchronisation) builds it again.
func TestReplaceRecreates(t *testing.T) {
	b, ns := open(t)
	setup(t, b, sshd, firewall.Jail{Name: "web", Ports: []firewall.PortRange{pr(443, 443)}})
	if err := b.Ban("sshd", elems(t, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if out, err := ns.Exec("nft", "delete", "table", "inet", "gaol"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if err := b.Ban("sshd", elems(t, "192.0.2.2")); err == nil {
		t.Error("Ban without a table succeeded")
	}
	if err := b.Replace("sshd", elems(t, "192.0.2.1", "192.0.2.2@1h")); err != nil {
		t.Fatal(err)
	}
	if err := b.Replace("web", elems(t, "2001:db8::1")); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b, "sshd", time.Hour), []string{"192.0.2.1/32", "192.0.2.2/32@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
	out := nftList(t, ns, "list", "chain", "inet", "gaol", "input")
	if !strings.Contains(out, "tcp dport 443 ip6 saddr @web-v6 drop") {
		t.Errorf("rules not set up again:\n%s", out)
	}
}

func TestTeardown(t *testing.T) {
	b, ns := open(t)
	if err := b.Teardown(); err != nil {
		t.Fatalf("Teardown without a table: %v", err)
	}
	setup(t, b, sshd)
	if err := b.Ban("sshd", elems(t, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Teardown(); err != nil {
		t.Fatal(err)
	}
	if out := nftList(t, ns, "list", "tables"); strings.Contains(out, "gaol") {
		t.Errorf("table still there after Teardown: %s", out)
	}
	if err := b.Ban("sshd", elems(t, "192.0.2.1")); !errors.Is(err, nft.ErrUnknownJail) {
		t.Errorf("Ban after Teardown: %v, want ErrUnknownJail", err)
	}
	// Setup again after a teardown starts afresh.
	setup(t, b, sshd)
	if got := listed(t, b, "sshd", 0); len(got) != 0 {
		t.Errorf("listed %q after Teardown and Setup", got)
	}
}

func TestSetupErrors(t *testing.T) {
	b, _ := open(t)
	tests := []struct {
		name string
		jail []firewall.Jail
		want string
	}{
		{"no name", []firewall.Jail{{}}, "no name"},
		{"protocol", []firewall.Jail{{Name: "x", Protocol: "icmp"}}, "unsupported protocol"},
		{"reversed ports", []firewall.Jail{{Name: "x", Ports: []firewall.PortRange{pr(22, 21)}}}, "reversed"},
		{"twice", []firewall.Jail{sshd, sshd}, "listed twice"},
		{"IPv4 ban prefix", []firewall.Jail{sshdBy(33, 0)}, "ban prefix lengths"},
		{"IPv6 ban prefix", []firewall.Jail{sshdBy(0, 129)}, "ban prefix lengths"},
		{"negative ban prefix", []firewall.Jail{sshdBy(-1, 64)}, "ban prefix lengths"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := b.Setup(tt.jail)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Setup(%v) = %v, want an error with %q", tt.jail, err, tt.want)
			}
		})
	}
	setup(t, b, sshd)
	if err := b.Ban("sshd", []firewall.Element{{}}); err == nil {
		t.Error("Ban of an invalid prefix succeeded")
	}
	if err := b.Ban("sshd", []firewall.Element{{Prefix: pfx("192.0.2.1"), Timeout: -time.Second}}); err == nil {
		t.Error("Ban with a negative timeout succeeded")
	}
	if _, err := nft.Open(nft.Options{Table: "bad name"}); err == nil {
		t.Error("Open accepted a table name with a space")
	}
}

// TestManyBans bans 100,000 IPv6 prefixes of the jail's ban prefix length
// and 5,000 of another at once and counts them back from the kernel
// (google/nftables v0.3.0 silently loses elements from oversized
// messages), and every address of the IPv4 documentation ranges. The
// first go to a hash set, the others to an interval set, in one call: for
// a jail that bans IPv6 addresses, 100,000 addresses and 5,000 /64s; for
// one that bans /64s (gaol's default), 100,000 /64s (looked up through a
// mask) and 5,000 addresses.
func TestManyBans(t *testing.T) {
	if testing.Short() {
		t.Skip("reading 100,000 elements back takes the kernel seconds")
	}
	tests := []struct {
		name       string
		len6       int
		many, some int // lengths of the 100,000 and of the 5,000
	}{
		{"jail banning addresses", 0, 128, 64},
		{"jail banning /64s", 64, 64, 128},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, _ := open(t)
			setup(t, b, sshdBy(0, tt.len6))
			const n = 100_000
			var v6 []firewall.Element
			base := netip.MustParseAddr("2001:db8::").As16()
			for i := range n {
				a := base
				// Spread the addresses over many /64s and within them;
				// as /64s, over 2001:db8::/32 but for 2001:db8:1::/48.
				a[4], a[6], a[7] = byte(i>>16)<<1, byte(i>>8), byte(i)
				a[15] = byte(i & 0xf)
				p, _ := netip.AddrFrom16(a).Prefix(tt.many)
				v6 = append(v6, firewall.Element{Prefix: p, Timeout: time.Hour})
			}
			const others = 5_000
			for i := range others {
				a := base
				// In 2001:db8:1::/48, away from the others.
				a[5], a[6], a[7], a[15] = 1, byte(i>>8), byte(i), 1
				p, _ := netip.AddrFrom16(a).Prefix(tt.some)
				v6 = append(v6, firewall.Element{Prefix: p, Timeout: time.Hour})
			}
			v4 := netnstest.DocV4Bans(time.Hour)
			start := time.Now()
			if err := b.Ban("sshd", v6); err != nil {
				t.Fatal(err)
			}
			t.Logf("banning %d IPv6 /%d and %d /%d took %v", n, tt.many, others, tt.some, time.Since(start))
			start = time.Now()
			if err := b.Ban("sshd", v4); err != nil {
				t.Fatal(err)
			}
			t.Logf("banning %d IPv4 addresses took %v", len(v4), time.Since(start))
			start = time.Now()
			got, err := b.List("sshd")
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("listing %d elements took %v", len(got), time.Since(start))
			want := make(map[netip.Prefix]bool, len(v6)+len(v4))
			for _, e := range append(v6, v4...) {
				want[e.Prefix] = true
			}
			if len(want) != len(v6)+len(v4) {
				t.Fatalf("%d distinct bans, want %d", len(want), len(v6)+len(v4))
			}
			unexpected := 0
			for _, e := range got {
				if !want[e.Prefix] {
					if unexpected++; unexpected <= 10 {
						t.Errorf("unexpected element %v", e.Prefix)
					}
				}
				delete(want, e.Prefix)
			}
			if len(want) > 0 || unexpected > 0 {
				t.Errorf("%d of %d bans missing from the kernel, %d elements unexpected", len(want), len(v6)+len(v4), unexpected)
			}
		})
	}
}

// TestPacketsDropped checks that bans drop real traffic: a client namespace
// connects to a server namespace whose firewall the backend manages.
func TestPacketsDropped(t *testing.T) {
	server, client := netnstest.New(t), netnstest.New(t)
	netnstest.CheckDrops(t, server, client, func() netnstest.Backend { return openIn(t, server) })
}

// TestUnavailable opens the backend without CAP_NET_ADMIN in a child
// process that gave up root.
func TestUnavailable(t *testing.T) {
	if os.Getenv("GAOL_NFT_UNPRIVILEGED_CHILD") == "1" {
		if err := syscall.Setgid(65534); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setuid(65534); err != nil {
			t.Fatal(err)
		}
		_, err := nft.Open(nft.Options{})
		if !errors.Is(err, nft.ErrUnavailable) {
			t.Fatalf("Open without privileges: %v, want ErrUnavailable", err)
		}
		fmt.Println("error:", err)
		return
	}
	netnstest.New(t) // skips without root
	cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailable$", "-test.v")
	cmd.Env = append(os.Environ(), "GAOL_NFT_UNPRIVILEGED_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "CAP_NET_ADMIN") {
		t.Errorf("error does not say what is missing:\n%s", out)
	}
	t.Logf("%s", out)
}
