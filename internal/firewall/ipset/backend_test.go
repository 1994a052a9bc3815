package ipset_test

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/firewall"
	"github.com/gaol-project/gaol/internal/firewall/ipset"
	"github.com/gaol-project/gaol/internal/netnstest"
)

// open returns a backend working in a fresh network namespace.
func open(t *testing.T) (*ipset.Backend, *netnstest.NS) {
	t.Helper()
	ns := netnstest.New(t)
	return openIn(t, ns, ipset.Options{}), ns
}

func openIn(t *testing.T, ns *netnstest.NS, opts ipset.Options) *ipset.Backend {
	t.Helper()
	f, err := os.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	opts.NetNS = int(f.Fd())
	b, err := ipset.Open(opts)
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

func setup(t *testing.T, b *ipset.Backend, jails ...firewall.Jail) {
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

func run(t *testing.T, ns *netnstest.NS, args ...string) string {
	t.Helper()
	out, err := ns.Exec(args...)
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	return string(out)
}

// elems is a test shorthand: "192.0.2.1" or "192.0.2.0/24", with an
// optional "@10m" timeout.
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

// listed returns the jail's elements as "prefix" or "prefix@" for elements
// with a timeout, checking the time left is in (0, maxLeft].
func listed(t *testing.T, b *ipset.Backend, jail string, maxLeft time.Duration) []string {
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

// rules returns what iptables and ip6tables list of the filter table.
func rules(t *testing.T, ns *netnstest.NS) string {
	t.Helper()
	return "# iptables -S\n" + run(t, ns, "iptables", "-w", "-S") + "# ip6tables -S\n" + run(t, ns, "ip6tables", "-w", "-S")
}

func setNames(t *testing.T, ns *netnstest.NS) []string {
	t.Helper()
	names := strings.Fields(run(t, ns, "ipset", "list", "-n"))
	slices.Sort(names)
	return names
}

func TestSetupGolden(t *testing.T) {
	b, ns := open(t)
	setup(t, b,
		sshd,
		firewall.Jail{Name: "nginx-http-auth", Ports: []firewall.PortRange{pr(80, 80), pr(443, 443)}},
		firewall.Jail{Name: "vsftpd", Ports: []firewall.PortRange{pr(20, 21)}, Protocol: "tcp"},
		firewall.Jail{Name: "named.refused", Ports: []firewall.PortRange{pr(53, 53)}, Protocol: "udp"},
		firewall.Jail{Name: "recidive", Protocol: "all"},
		firewall.Jail{Name: "everything-tcp", Protocol: "tcp"},
		firewall.Jail{Name: "high", Ports: []firewall.PortRange{pr(8080, 8081), pr(8081, 8090), pr(65000, 65535), pr(1, 1)}, Protocol: "sctp"},
		firewall.Jail{Name: "lite", Ports: []firewall.PortRange{pr(5000, 5000)}, Protocol: "udplite"},
		firewall.Jail{Name: "dccp", Ports: []firewall.PortRange{pr(5001, 5002)}, Protocol: "dccp"},
		firewall.Jail{Name: "my jail/é"},
	)
	got := rules(t, ns) + "# ipset list -n\n" + strings.Join(setNames(t, ns), "\n") + "\n"
	golden(t, "setup.golden", got)
	header := run(t, ns, "ipset", "list", "-t", "gaol-sshd-v6")
	for _, want := range []string{"Type: hash:net", "family inet6", "timeout 0", "maxelem 1048576"} {
		if !strings.Contains(header, want) {
			t.Errorf("set header lacks %q:\n%s", want, header)
		}
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if ipset.Update() {
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

func TestBanUnbanList(t *testing.T) {
	b, ns := open(t)
	setup(t, b, sshd)
	if err := b.Ban("sshd", elems(t,
		"192.0.2.1@10m", "192.0.2.0/24", "198.51.100.7", "::ffff:203.0.113.9@1h",
		"2001:db8::1@10m", "2001:db8::/64@1h", "2001:db8:1::/48",
	)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"192.0.2.0/24", "192.0.2.1/32@", "198.51.100.7/32", "203.0.113.9/32@",
		"2001:db8::/64@", "2001:db8::1/128@", "2001:db8:1::/48",
	}
	if got := listed(t, b, "sshd", time.Hour); !slices.Equal(got, want) {
		t.Errorf("listed\n%q\nwant\n%q", got, want)
	}
	// Banning again replaces the timeout.
	if err := b.Ban("sshd", elems(t, "192.0.2.1", "198.51.100.7@5m")); err != nil {
		t.Fatal(err)
	}
	want = []string{
		"192.0.2.0/24", "192.0.2.1/32", "198.51.100.7/32@", "203.0.113.9/32@",
		"2001:db8::/64@", "2001:db8::1/128@", "2001:db8:1::/48",
	}
	if got := listed(t, b, "sshd", time.Hour); !slices.Equal(got, want) {
		t.Errorf("after a second ban, listed\n%q\nwant\n%q", got, want)
	}
	// Unban removes exactly the prefix given; missing ones are ignored.
	if err := b.Unban("sshd", []netip.Prefix{pfx("192.0.2.0/24"), pfx("2001:db8::1"), pfx("203.0.113.77"), pfx("::ffff:203.0.113.9")}); err != nil {
		t.Fatal(err)
	}
	want = []string{"192.0.2.1/32", "198.51.100.7/32@", "2001:db8::/64@", "2001:db8:1::/48"}
	if got := listed(t, b, "sshd", time.Hour); !slices.Equal(got, want) {
		t.Errorf("after unban, listed\n%q\nwant\n%q", got, want)
	}
	// A /0 becomes two halves.
	if err := b.Ban("sshd", elems(t, "0.0.0.0/0@1m")); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, b, "sshd", time.Hour); !slices.Contains(got, "0.0.0.0/1@") || !slices.Contains(got, "128.0.0.0/1@") {
		t.Errorf("0.0.0.0/0 not banned as two halves: %q", got)
	}
	if err := b.Unban("sshd", []netip.Prefix{pfx("0.0.0.0/0")}); err != nil {
		t.Fatal(err)
	}
	// ipset(8) sees the same.
	out := run(t, ns, "ipset", "list", "gaol-sshd-v4")
	if !strings.Contains(out, "198.51.100.7 timeout ") || !strings.Contains(out, "Number of entries: 2") {
		t.Errorf("ipset list:\n%s", out)
	}
}

func TestTimeoutListed(t *testing.T) {
	b, ns := open(t)
	setup(t, b, sshd)
	if err := b.Ban("sshd", elems(t, "192.0.2.1@10m", "2001:db8::1@10m", "192.0.2.2")); err != nil {
		t.Fatal(err)
	}
	got, err := b.List("sshd")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("List = %v, want 3 elements", got)
	}
	for _, e := range got {
		switch {
		case e.Prefix == pfx("192.0.2.2"):
			if e.Timeout != 0 {
				t.Errorf("%v: %v left, want permanent", e.Prefix, e.Timeout)
			}
		case e.Timeout < 9*time.Minute || e.Timeout > 10*time.Minute:
			t.Errorf("%v: %v left, want about 10m", e.Prefix, e.Timeout)
		}
	}
	// ipset(8) sees the timeouts too, in seconds.
	for set, addr := range map[string]string{"gaol-sshd-v4": "192.0.2.1", "gaol-sshd-v6": "2001:db8::1"} {
		out := run(t, ns, "ipset", "list", set)
		m := regexp.MustCompile(regexp.QuoteMeta(addr) + ` timeout (\d+)`).FindStringSubmatch(out)
		if m == nil {
			t.Errorf("ipset list %s shows no timeout for %s:\n%s", set, addr, out)
			continue
		}
		if n, _ := strconv.Atoi(m[1]); n < 540 || n > 600 {
			t.Errorf("ipset list %s: %s has %s s left, want about 600", set, addr, m[1])
		}
	}
}

func TestKernelExpires(t *testing.T) {
	b, _ := open(t)
	setup(t, b, sshd)
	if err := b.Ban("sshd", elems(t, "192.0.2.1@1s", "192.0.2.2", "2001:db8::1@1s")); err != nil {
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
		time.Sleep(100 * time.Millisecond)
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
	before := rules(t, ns)
	setup(t, b, sshd, ftp)
	if after := rules(t, ns); after != before {
		t.Errorf("Setup with the same jails changed the rules:\n%s\nwas\n%s", after, before)
	}
	if got, want := listed(t, b, "sshd", 10*time.Minute), []string{"192.0.2.1/32@", "2001:db8::1/128"}; !slices.Equal(got, want) {
		t.Errorf("sshd after the same Setup: %q, want %q", got, want)
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
	if err := b.Ban("vsftpd", elems(t, "192.0.2.3")); !errors.Is(err, ipset.ErrUnknownJail) {
		t.Errorf("Ban in a removed jail: %v, want ErrUnknownJail", err)
	}
	out := rules(t, ns)
	for _, want := range []string{
		"-A gaol -p tcp -m multiport --dports 2222 -m set --match-set gaol-sshd-v4 src -j DROP",
		"-A gaol -p tcp -m multiport --dports 443 -m set --match-set gaol-nginx-v6 src -j DROP",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("rules after reload lack %q:\n%s", want, out)
		}
	}
	for _, gone := range []string{"vsftpd", "dports 22 "} {
		if strings.Contains(out, gone) {
			t.Errorf("rules after reload still have %q:\n%s", gone, out)
		}
	}
	if got, want := setNames(t, ns), []string{"gaol-nginx-v4", "gaol-nginx-v6", "gaol-sshd-v4", "gaol-sshd-v6"}; !slices.Equal(got, want) {
		t.Errorf("sets after reload: %q, want %q", got, want)
	}
	if n := strings.Count(out, "-A INPUT -j gaol"); n != 2 {
		t.Errorf("%d jumps to the chain, want one per family:\n%s", n, out)
	}
}

// A new backend (the daemon restarted) finds the bans in the kernel.
func TestRestart(t *testing.T) {
	b, ns := open(t)
	setup(t, b, sshd)
	if err := b.Ban("sshd", elems(t, "192.0.2.9@1h", "192.0.2.64/26", "2001:db8::9@10m")); err != nil {
		t.Fatal(err)
	}
	b2 := openIn(t, ns, ipset.Options{})
	setup(t, b2, sshd)
	if got, want := listed(t, b2, "sshd", time.Hour), []string{"192.0.2.9/32@", "192.0.2.64/26", "2001:db8::9/128@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
}

// A set of gaol's name but another type is replaced, keeping its
// addresses.
func TestForeignSet(t *testing.T) {
	ns := netnstest.New(t)
	run(t, ns, "ipset", "create", "gaol-sshd-v4", "hash:ip", "timeout", "600")
	run(t, ns, "ipset", "add", "gaol-sshd-v4", "192.0.2.5")
	b := openIn(t, ns, ipset.Options{})
	setup(t, b, sshd)
	if got, want := listed(t, b, "sshd", 10*time.Minute), []string{"192.0.2.5/32@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
	if out := run(t, ns, "ipset", "list", "-t", "gaol-sshd-v4"); !strings.Contains(out, "hash:net") {
		t.Errorf("set not replaced:\n%s", out)
	}
}

func TestReplace(t *testing.T) {
	b, ns := open(t)
	setup(t, b, sshd)
	if err := b.Ban("sshd", elems(t, "192.0.2.1", "192.0.2.2@1h", "2001:db8::1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Replace("sshd", elems(t, "192.0.2.2@10m", "198.51.100.0/24", "198.51.100.7@1h", "2001:db8::2@10m")); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b, "sshd", time.Hour), []string{"192.0.2.2/32@", "198.51.100.0/24", "198.51.100.7/32@", "2001:db8::2/128@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
	if err := b.Replace("sshd", nil); err != nil {
		t.Fatal(err)
	}
	if got := listed(t, b, "sshd", 0); len(got) != 0 {
		t.Errorf("listed %q after Replace with nothing", got)
	}
	if got, want := setNames(t, ns), []string{"gaol-sshd-v4", "gaol-sshd-v6"}; !slices.Equal(got, want) {
		t.Errorf("sets after Replace: %q, want %q", got, want)
	}
}

// The firewall is a cache of the store: if the rules or sets disappear,
// Replace (the daemon's resynchronisation) builds them again.
func TestReplaceRecreates(t *testing.T) {
	b, ns := open(t)
	now := time.Now()
	ipset.SetClock(b, func() time.Time { return now }, func(time.Duration, func()) func() bool { return func() bool { return true } })
	setup(t, b, sshd, firewall.Jail{Name: "web", Ports: []firewall.PortRange{pr(443, 443)}})
	want := rules(t, ns)
	if err := b.Ban("sshd", elems(t, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	// Someone flushes iptables and destroys the sets.
	run(t, ns, "iptables", "-w", "-F")
	run(t, ns, "iptables", "-w", "-X")
	run(t, ns, "ip6tables", "-w", "-D", "INPUT", "-j", "gaol")
	run(t, ns, "ipset", "destroy", "gaol-sshd-v4")
	if err := b.Ban("sshd", elems(t, "192.0.2.2")); err == nil {
		t.Error("Ban without a set succeeded")
	}
	now = now.Add(time.Minute)
	if err := b.Replace("sshd", elems(t, "192.0.2.1", "192.0.2.2@1h")); err != nil {
		t.Fatal(err)
	}
	if err := b.Replace("web", elems(t, "2001:db8::1")); err != nil {
		t.Fatal(err)
	}
	if got, want := listed(t, b, "sshd", time.Hour), []string{"192.0.2.1/32", "192.0.2.2/32@"}; !slices.Equal(got, want) {
		t.Errorf("listed %q, want %q", got, want)
	}
	if got := rules(t, ns); got != want {
		t.Errorf("rules not set up again:\n%s\nwant\n%s", got, want)
	}
}

func TestTeardown(t *testing.T) {
	b, ns := open(t)
	before := rules(t, ns)
	if err := b.Teardown(); err != nil {
		t.Fatalf("Teardown without anything: %v", err)
	}
	run(t, ns, "ipset", "create", "f2b-sshd", "hash:ip") // not gaol's
	setup(t, b, sshd, firewall.Jail{Name: "web", Protocol: "all"})
	if err := b.Ban("sshd", elems(t, "192.0.2.1")); err != nil {
		t.Fatal(err)
	}
	if err := b.Teardown(); err != nil {
		t.Fatal(err)
	}
	if after := rules(t, ns); after != before {
		t.Errorf("rules after Teardown:\n%s\nwant\n%s", after, before)
	}
	if got, want := setNames(t, ns), []string{"f2b-sshd"}; !slices.Equal(got, want) {
		t.Errorf("sets after Teardown: %q, want %q", got, want)
	}
	if err := b.Ban("sshd", elems(t, "192.0.2.1")); !errors.Is(err, ipset.ErrUnknownJail) {
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
	if err := b.Unban("sshd", []netip.Prefix{{}}); err == nil {
		t.Error("Unban of an invalid prefix succeeded")
	}
	if _, err := ipset.Open(ipset.Options{Name: "bad name"}); err == nil {
		t.Error("Open accepted a name with a space")
	}
}

// TestManyBans bans 10,000 IPv6 addresses and every address of the IPv4
// documentation ranges at once, and counts them back from the kernel.
func TestManyBans(t *testing.T) {
	b, _ := open(t)
	setup(t, b, sshd)
	const n = 10_000
	var v6 []firewall.Element
	base := netip.MustParseAddr("2001:db8::").As16()
	for i := range n {
		a := base
		a[6], a[7] = byte(i>>12), byte(i>>4)
		a[15] = byte(i & 0xf)
		v6 = append(v6, firewall.Element{Prefix: netip.PrefixFrom(netip.AddrFrom16(a), 128), Timeout: time.Hour})
	}
	v4 := netnstest.DocV4Bans(time.Hour)
	start := time.Now()
	if err := b.Ban("sshd", append(v6, v4...)); err != nil {
		t.Fatal(err)
	}
	t.Logf("banning %d addresses took %v", n+len(v4), time.Since(start))
	start = time.Now()
	got, err := b.List("sshd")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("listing %d elements took %v", len(got), time.Since(start))
	want := make(map[netip.Prefix]bool, n+len(v4))
	for _, e := range append(v6, v4...) {
		want[e.Prefix] = true
	}
	for _, e := range got {
		if !want[e.Prefix] {
			t.Errorf("unexpected element %v", e.Prefix)
		}
		if e.Timeout <= 0 || e.Timeout > time.Hour {
			t.Errorf("%v: %v left", e.Prefix, e.Timeout)
		}
		delete(want, e.Prefix)
	}
	if len(want) > 0 {
		t.Errorf("%d of %d bans missing from the kernel", len(want), n+len(v4))
	}
	start = time.Now()
	if err := b.Replace("sshd", v6); err != nil {
		t.Fatal(err)
	}
	t.Logf("replacing with %d addresses took %v", n, time.Since(start))
	if got := listed(t, b, "sshd", time.Hour); len(got) != n {
		t.Errorf("%d elements after Replace, want %d", len(got), n)
	}
}

// fakeTimer records the function the backend schedules.
type fakeTimer struct {
	mu    sync.Mutex
	after time.Duration
	fn    func()
}

func (f *fakeTimer) afterFunc(d time.Duration, fn func()) func() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.after, f.fn = d, fn
	return func() bool {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.fn = nil
		return true
	}
}

func (f *fakeTimer) pending() (time.Duration, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.after, f.fn
}

// Bans longer than the kernel keeps are added with its longest timeout
// and renewed before it drops them.
func TestLongBan(t *testing.T) {
	b, ns := open(t)
	start := time.Now()
	now := start
	var timer fakeTimer
	ipset.SetClock(b, func() time.Time { return now }, timer.afterFunc)
	setup(t, b, sshd)
	const ban = 60 * 24 * time.Hour
	if err := b.Ban("sshd", []firewall.Element{{Prefix: pfx("192.0.2.1"), Timeout: ban}}); err != nil {
		t.Fatal(err)
	}
	if err := b.Ban("sshd", elems(t, "2001:db8::1@1h")); err != nil {
		t.Fatal(err)
	}
	// kernelLeft returns the element's timeout in the kernel.
	kernelLeft := func() time.Duration {
		t.Helper()
		m := regexp.MustCompile(`192\.0\.2\.1 timeout (\d+)`).FindStringSubmatch(run(t, ns, "ipset", "list", "gaol-sshd-v4"))
		if m == nil {
			t.Fatal("192.0.2.1 not in the set")
		}
		n, err := strconv.Atoi(m[1])
		if err != nil {
			t.Fatal(err)
		}
		return time.Duration(n) * time.Second
	}
	// about reports whether a kernel timeout is want, give or take the
	// seconds the test took.
	about := func(got, want time.Duration) bool { return got <= want && got > want-5*time.Second }
	if got := kernelLeft(); !about(got, ipset.MaxTimeout) {
		t.Errorf("kernel timeout %v, want the longest, %v", got, ipset.MaxTimeout)
	}
	got, err := b.List("sshd")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Timeout != ban {
		t.Errorf("List = %v, want 192.0.2.1 with %v left", got, ban)
	}
	after, fn := timer.pending()
	if fn == nil || after != ipset.MaxTimeout-ipset.RefreshMargin {
		t.Fatalf("renewal scheduled in %v, want %v", after, ipset.MaxTimeout-ipset.RefreshMargin)
	}
	// Time passes; the kernel's element is about to expire.
	now = now.Add(after)
	run(t, ns, "ipset", "add", "-exist", "gaol-sshd-v4", "192.0.2.1", "timeout", "3600")
	fn()
	if got := kernelLeft(); !about(got, ipset.MaxTimeout) {
		t.Errorf("kernel timeout %v after renewal, want the longest, %v", got, ipset.MaxTimeout)
	}
	if got, err := b.List("sshd"); err != nil || got[0].Timeout != ban-now.Sub(start) {
		t.Errorf("List = %v, %v, want %v left", got, err, ban-now.Sub(start))
	}
	// The next renewal sets the timeout to what is left.
	after, fn = timer.pending()
	if fn == nil {
		t.Fatal("no second renewal scheduled")
	}
	now = now.Add(after)
	fn()
	if got, want := kernelLeft(), ban-now.Sub(start); !about(got, want) {
		t.Errorf("kernel timeout %v after the last renewal, want %v", got, want)
	}
	if _, fn := timer.pending(); fn != nil {
		t.Error("a renewal is still scheduled after the last one")
	}
	// Unbanning forgets a long ban.
	if err := b.Ban("sshd", []firewall.Element{{Prefix: pfx("192.0.2.7"), Timeout: ban}}); err != nil {
		t.Fatal(err)
	}
	if _, fn := timer.pending(); fn == nil {
		t.Error("no renewal scheduled for a long ban")
	}
	if err := b.Unban("sshd", []netip.Prefix{pfx("192.0.2.7")}); err != nil {
		t.Fatal(err)
	}
	if _, fn := timer.pending(); fn != nil {
		t.Error("a renewal is scheduled for an unbanned address")
	}
}

// TestPacketsDropped checks that bans drop real traffic: a client namespace
// connects to a server namespace whose firewall the backend manages, with
// iptables-nft and, if it works here, iptables-legacy.
func TestPacketsDropped(t *testing.T) {
	for _, variant := range []struct{ name, ipt, ip6t string }{
		{"default", "", ""},
		{"legacy", "iptables-legacy", "ip6tables-legacy"},
	} {
		t.Run(variant.name, func(t *testing.T) {
			server, client := netnstest.New(t), netnstest.New(t)
			if variant.ipt != "" {
				if _, err := exec.LookPath(variant.ipt); err != nil {
					t.Skipf("%s: %v", variant.ipt, err)
				}
				if out, err := server.Exec(variant.ipt, "-w", "-S"); err != nil {
					t.Skipf("%s does not work here: %v: %s", variant.ipt, err, out)
				}
			}
			netnstest.CheckDrops(t, server, client, func() netnstest.Backend {
				return openIn(t, server, ipset.Options{IPTables: variant.ipt, IP6Tables: variant.ip6t})
			})
		})
	}
}

// TestUnavailable opens the backend without CAP_NET_ADMIN in a child
// process that gave up root.
func TestUnavailable(t *testing.T) {
	if os.Getenv("GAOL_IPSET_UNPRIVILEGED_CHILD") == "1" {
		if err := syscall.Setgid(65534); err != nil {
			t.Fatal(err)
		}
		if err := syscall.Setuid(65534); err != nil {
			t.Fatal(err)
		}
		_, err := ipset.Open(ipset.Options{})
		if !errors.Is(err, ipset.ErrUnavailable) {
			t.Fatalf("Open without privileges: %v, want ErrUnavailable", err)
		}
		fmt.Println("error:", err)
		return
	}
	netnstest.New(t) // skips without root
	cmd := exec.Command(os.Args[0], "-test.run=^TestUnavailable$", "-test.v")
	cmd.Env = append(os.Environ(), "GAOL_IPSET_UNPRIVILEGED_CHILD=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "CAP_NET_ADMIN") {
		t.Errorf("error does not say what is missing:\n%s", out)
	}
	t.Logf("%s", out)

	// Commands that do not exist.
	ns := netnstest.New(t)
	f, err := os.Open(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	_, err = ipset.Open(ipset.Options{NetNS: int(f.Fd()), IPTables: "gaol-no-such-iptables"})
	if !errors.Is(err, ipset.ErrUnavailable) || !strings.Contains(err.Error(), "gaol-no-such-iptables") {
		t.Errorf("Open with a missing command: %v, want ErrUnavailable naming it", err)
	}
}
