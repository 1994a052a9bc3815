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

// Addresses CheckDrops gives the server and the client namespaces.
var (
	ServerAddrs = []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8::1/64")}
	ClientAddrs = []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24"), netip.MustParsePrefix("2001:db8::2/64")}
)

// CheckDrops checks with real traffic that a backend's bans drop packets:
// it links server and client, opens the backend in server (open), sets up
// jails sshd (tcp 2222) and web (tcp 3000-3001, 4000), and connects from
// client while addresses and subnets are banned and unbanned, over IPv4
// and IPv6. A banned client's SYN must be dropped (a timeout, not a
// refusal) on its jail's ports only.
func CheckDrops(t *testing.T, server, client *NS, open func() Backend) {
	t.Helper()
	Link(t, server, ServerAddrs, client, ClientAddrs)
	b := open()
	port := func(p uint16) firewall.PortRange { return firewall.PortRange{From: p, To: p} }
	jails := []firewall.Jail{
		{Name: "sshd", Ports: []firewall.PortRange{port(2222)}, Protocol: firewall.ProtocolTCP},
		{Name: "web", Ports: []firewall.PortRange{{From: 3000, To: 3001}, port(4000)}, Protocol: firewall.ProtocolTCP},
	}
	if err := b.Setup(jails); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	const timeout = 400 * time.Millisecond
	for _, fam := range []struct {
		name           string
		server, client string
		subnet         string
	}{
		{"IPv4", "192.0.2.1", "192.0.2.2", "192.0.2.0/24"},
		{"IPv6", "2001:db8::1", "2001:db8::2", "2001:db8::/64"},
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
			a := netip.MustParseAddr(fam.client)
			client := netip.PrefixFrom(a, a.BitLen())
			subnet := netip.MustParsePrefix(fam.subnet)
			reachable(2222, true)
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

			if err := b.Ban("web", []firewall.Element{{Prefix: subnet}}); err != nil {
				t.Fatal(err)
			}
			reachable(3001, false)
			reachable(4000, false)
			reachable(2222, true)
			if err := b.Unban("web", []netip.Prefix{subnet}); err != nil {
				t.Fatal(err)
			}
			reachable(3001, true)
		})
	}
}
