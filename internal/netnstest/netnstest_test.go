package netnstest_test

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/netnstest"
)

func TestNamespaceLifecycle(t *testing.T) {
	var path string
	t.Run("create", func(t *testing.T) {
		n := netnstest.New(t)
		path = n.Path()
		if !strings.HasPrefix(n.Name(), "gaol-") {
			t.Errorf("Name() = %q, want a gaol- prefix", n.Name())
		}
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("namespace bind mount: %v", err)
		}
		out, err := n.Exec("ip", "-o", "link", "show", "lo")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(out), "UP") {
			t.Errorf("lo is not up in the namespace: %s", out)
		}
		// The namespace is not the test's own: its only interface is lo.
		out, err = n.Exec("ip", "-o", "link", "show")
		if err != nil {
			t.Fatal(err)
		}
		if lines := strings.Count(strings.TrimSpace(string(out)), "\n") + 1; lines != 1 {
			t.Errorf("new namespace has %d interfaces, want 1:\n%s", lines, out)
		}
	})
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("namespace %s still exists after cleanup (stat: %v)", path, err)
	}
}

func TestLinkListenDial(t *testing.T) {
	server, client := netnstest.New(t), netnstest.New(t)
	netnstest.Link(t,
		server, []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8::1/64")},
		client, []netip.Prefix{netip.MustParsePrefix("192.0.2.2/24"), netip.MustParsePrefix("2001:db8::2/64")})

	tests := []struct {
		name, listen, dial string
	}{
		{"IPv4", "192.0.2.1:2222", "192.0.2.1:2222"},
		{"IPv6", "[2001:db8::1]:2222", "[2001:db8::1]:2222"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server.Listen(t, "tcp", tt.listen)
			if err := client.Dial("tcp", tt.dial, 5*time.Second); err != nil {
				t.Fatalf("dial from client namespace: %v", err)
			}
		})
	}
	t.Run("closed port", func(t *testing.T) {
		if err := client.Dial("tcp", "192.0.2.1:2223", 5*time.Second); err == nil {
			t.Fatal("dial to a port nobody listens on succeeded")
		}
	})
	t.Run("not in the test's namespace", func(t *testing.T) {
		// The server's address exists only inside the server namespace.
		ln, err := net.Listen("tcp", "192.0.2.1:0")
		if err == nil {
			ln.Close()
			t.Fatal("192.0.2.1 is bindable in the test's own namespace")
		}
	})
}

func TestCommand(t *testing.T) {
	n := netnstest.New(t)
	out, err := n.Command("ip", "netns", "identify").CombinedOutput()
	if err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != n.Name() {
		t.Errorf("command ran in namespace %q, want %q", got, n.Name())
	}
}

func TestDo(t *testing.T) {
	n := netnstest.New(t)
	var ifaces []net.Interface
	if err := n.Do(func() error {
		var err error
		ifaces, err = net.Interfaces()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if len(ifaces) != 1 || ifaces[0].Name != "lo" {
		t.Errorf("interfaces inside the namespace = %v, want only lo", ifaces)
	}
}
