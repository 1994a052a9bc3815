package netnstest

import (
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/firewall"
)

// Backend is a ban backend, as CheckDrops drives it.
type Backend interface {
	Setup(jails []firewall.Jail) error
	Ban(jail string, elems []firewall.Element) error
	Unban(jail string, prefixes []netip.Prefix) error
}

// Addresses CheckDrops gives the server and the client namespaces. The
// client's have the bits just before and just after its subnet's prefix
// (/24, /64) set, so that a lookup through a mask one bit too short or too
// long misses the ban of its subnet.
var (
	ServerAddrs = []netip.Prefix{netip.MustParsePrefix("203.0.113.1/24"), netip.MustParsePrefix("2001:db8:0:1::1/64")}
	ClientAddrs = []netip.Prefix{netip.MustParsePrefix("203.0.113.130/24"), netip.MustParsePrefix("2001:db8:0:1:8000::2/64")}
)

// DocV4Bans returns bans, for timeout, of every address of the three IPv4
// documentation ranges (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24).
func DocV4Bans(timeout time.Duration) []firewall.Element {
	var out []firewall.Element
	for _, r := range []string{"192.0.2.0", "198.51.100.0", "203.0.113.0"} {
		a := netip.MustParseAddr(r)
		for range 256 {
			out = append(out, firewall.Element{Prefix: netip.PrefixFrom(a, 32), Timeout: timeout})
			a = a.Next()
		}
	}
	return out
}

// CheckDrops checks with real traffic that a backend's bans drop packets:
// it links server and client, opens the backend in server (open), sets up
// jails sshd (tcp 2222, banning by /24 and /64) and web (tcp 3000-3001,
// 4000, banning by address), and connects from client while addresses and
// subnets are banned and unbanned, over IPv4 and IPv6. A banned client's
// SYN must be dropped (a timeout, not a refusal) on its jail's ports only,
// whether the ban has the jail's ban prefix length or another; the ban of
// a subnet next to the client's must not drop it.
func CheckDrops(t *testing.T, server, client *NS, open func() Backend) {
	t.Helper()
	Link(t, server, ServerAddrs, client, ClientAddrs)
	b := open()
	port := func(p uint16) firewall.PortRange { return firewall.PortRange{From: p, To: p} }
	jails := []firewall.Jail{
		{Name: "sshd", Ports: []firewall.PortRange{port(2222)}, Protocol: firewall.ProtocolTCP, BanPrefix4: 24, BanPrefix6: 64},
		{Name: "web", Ports: []firewall.PortRange{{From: 3000, To: 3001}, port(4000)}, Protocol: firewall.ProtocolTCP},
	}
	if err := b.Setup(jails); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	const timeout = 400 * time.Millisecond
	for _, fam := range []struct {
		name           string
		server, client string
		subnet         string // the client's, of sshd's ban prefix length
		other          string // another of that length
	}{
		{"IPv4", "203.0.113.1", "203.0.113.130", "203.0.113.0/24", "198.51.100.0/24"},
		{"IPv6", "2001:db8:0:1::1", "2001:db8:0:1:8000::2", "2001:db8:0:1::/64", "2001:db8::/64"},
	} {
		t.Run(fam.name, func(t *testing.T) {
			addr := func(port int) string {
				return netip.AddrPortFrom(netip.MustParseAddr(fam.server), uint16(port)).String()
			}
			for _, port := range []int{2222, 2223, 3001, 4000} {
				server.Listen(t, "tcp", addr(port))
			}
			reachable := func(port int, want bool) {
				t.Helper()
				err := client.Dial("tcp", addr(port), timeout)
				var ne net.Error
				switch {
				case want && err != nil:
					t.Errorf("port %d: %v, want a connection", port, err)
				case !want && err == nil:
					t.Errorf("port %d: connected, want the SYN dropped", port)
				case !want && !(errors.As(err, &ne) && ne.Timeout()):
					t.Errorf("port %d: %v, want a timeout (dropped, not refused)", port, err)
				}
			}
			// banDrops bans p in jail, checks that the ports drop the
			// client, and lifts the ban.
			banDrops := func(jail string, p netip.Prefix, ports ...int) {
				t.Helper()
				if err := b.Ban(jail, []firewall.Element{{Prefix: p, Timeout: time.Hour}}); err != nil {
					t.Fatal(err)
				}
				for _, port := range ports {
					reachable(port, false)
				}
				if err := b.Unban(jail, []netip.Prefix{p}); err != nil {
					t.Fatal(err)
				}
			}
			a := netip.MustParseAddr(fam.client)
			client := netip.PrefixFrom(a, a.BitLen())
			subnet := netip.MustParsePrefix(fam.subnet)
			other := netip.MustParsePrefix(fam.other)
			reachable(2222, true)

			// The client's address in a jail banning subnets, and in
			// one banning addresses.
			if err := b.Ban("sshd", []firewall.Element{{Prefix: client, Timeout: time.Hour}}); err != nil {
				t.Fatal(err)
			}
			reachable(2222, false)
			reachable(2223, true) // not the jail's port
			reachable(3001, true) // another jail
			if err := b.Unban("sshd", []netip.Prefix{client}); err != nil {
				t.Fatal(err)
			}
			reachable(2222, true)
			banDrops("web", client, 3001, 4000)
			reachable(3001, true)

			// The client's subnet in a jail banning subnets of its
			// length, and in one banning addresses; another subnet of
			// that length leaves the client alone.
			if err := b.Ban("sshd", []firewall.Element{{Prefix: other}}); err != nil {
				t.Fatal(err)
			}
			reachable(2222, true)
			banDrops("sshd", subnet, 2222)
			reachable(2222, true)
			reachable(3001, true)
			if err := b.Unban("sshd", []netip.Prefix{other}); err != nil {
				t.Fatal(err)
			}
			banDrops("web", subnet, 3001, 4000)
			reachable(2222, true)
			reachable(3001, true)
		})
	}
}
