// Package netnstest creates throwaway Linux network namespaces for tests:
// a namespace per test (deleted at cleanup), veth links between namespaces
// with documentation addresses, and TCP helpers to check what the firewall
// lets through. It needs root and the ip(8) command; every constructor calls
// testutil.RequireRoot first, so tests skip cleanly without root.
//
// It is an ordinary package meant to be imported only from _test.go files.
package netnstest

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netns"

	"github.com/gaol-project/gaol/internal/netnsrun"
	"github.com/gaol-project/gaol/internal/testutil"
)

// runDir is where ip-netns(8) keeps the bind mounts of named namespaces.
const runDir = "/run/netns"

// NS is a named network namespace owned by one test.
type NS struct {
	name string
}

// New creates a network namespace with a unique name, brings its loopback
// interface up and deletes the namespace when the test ends.
func New(t testing.TB) *NS {
	t.Helper()
	testutil.RequireRoot(t)
	n := &NS{name: "gaol-" + randomHex(6)}
	if out, err := ipCmd("netns", "add", n.name); err != nil {
		t.Fatalf("creating network namespace %s: %v: %s", n.name, err, out)
	}
	t.Cleanup(func() {
		if out, err := ipCmd("netns", "delete", n.name); err != nil {
			t.Errorf("deleting network namespace %s: %v: %s", n.name, err, out)
		}
	})
	if out, err := ipCmd("-n", n.name, "link", "set", "lo", "up"); err != nil {
		t.Fatalf("bringing lo up in %s: %v: %s", n.name, err, out)
	}
	return n
}

// Name returns the namespace's name as ip-netns(8) knows it.
func (n *NS) Name() string { return n.name }

// Path returns the namespace's bind mount, /run/netns/NAME, which can be
// opened to get a namespace file descriptor.
func (n *NS) Path() string { return filepath.Join(runDir, n.name) }

// Exec runs args inside the namespace with `ip netns exec` and returns its
// combined output.
func (n *NS) Exec(args ...string) ([]byte, error) {
	if len(args) == 0 {
		return nil, errors.New("netnstest: Exec needs a command")
	}
	out, err := n.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("running %q in namespace %s: %w", strings.Join(args, " "), n.name, err)
	}
	return out, nil
}

// Command returns a command that runs name with args inside the namespace,
// for starting a daemon there. The caller starts and waits for it.
func (n *NS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", n.name, name}, args...)...)
}

// Do runs fn on an OS thread switched into the namespace and returns its
// error. Sockets fn creates belong to the namespace and stay there after fn
// returns; goroutines fn starts do not run in the namespace. If the thread
// cannot be switched back it is discarded rather than reused.
func (n *NS) Do(fn func() error) error {
	target, err := netns.GetFromPath(n.Path())
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", n.name, err)
	}
	defer target.Close()
	if err := netnsrun.Do(target, fn); err != nil {
		return fmt.Errorf("network namespace %s: %w", n.name, err)
	}
	return nil
}

// Listen opens a listener on addr inside the namespace that accepts
// connections and closes them at once. It is closed when the test ends.
func (n *NS) Listen(t testing.TB, network, addr string) net.Listener {
	t.Helper()
	var ln net.Listener
	err := n.Do(func() error {
		var err error
		ln, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		t.Fatalf("listening on %s %s in namespace %s: %v", network, addr, n.name, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return ln
}

// Dial connects to addr from inside the namespace and closes the connection
// at once. It returns nil if the connection was established within timeout.
func (n *NS) Dial(network, addr string, timeout time.Duration) error {
	return n.Do(func() error {
		c, err := net.DialTimeout(network, addr, timeout)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// Link connects a and b with a veth pair, assigns aAddrs to a's end and
// bAddrs to b's end (IPv6 addresses without duplicate address detection, so
// they are usable at once) and brings both ends up.
func Link(t testing.TB, a *NS, aAddrs []netip.Prefix, b *NS, bAddrs []netip.Prefix) {
	t.Helper()
	suffix := randomHex(4)
	aName, bName := "gva"+suffix, "gvb"+suffix
	run := func(args ...string) {
		t.Helper()
		if out, err := ipCmd(args...); err != nil {
			t.Fatalf("linking namespaces %s and %s: %v: %s", a.name, b.name, err, out)
		}
	}
	run("-n", a.name, "link", "add", aName, "type", "veth", "peer", "name", bName, "netns", b.name)
	for _, side := range []struct {
		ns    *NS
		dev   string
		addrs []netip.Prefix
	}{{a, aName, aAddrs}, {b, bName, bAddrs}} {
		for _, p := range side.addrs {
			args := []string{"-n", side.ns.name, "addr", "add", p.String(), "dev", side.dev}
			if p.Addr().Is6() && !p.Addr().Is4In6() {
				args = append(args, "nodad")
			}
			run(args...)
		}
		run("-n", side.ns.name, "link", "set", side.dev, "up")
	}
	// Packets sent before the carrier is up are lost: wait for it.
	deadline := time.Now().Add(10 * time.Second)
	for _, side := range []struct {
		ns  *NS
		dev string
	}{{a, aName}, {b, bName}} {
		for {
			out, err := ipCmd("-n", side.ns.name, "-o", "link", "show", "dev", side.dev)
			if err != nil {
				t.Fatalf("checking link %s in %s: %v: %s", side.dev, side.ns.name, err, out)
			}
			if strings.Contains(string(out), "state UP") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("link %s in %s is not up: %s", side.dev, side.ns.name, out)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

func ipCmd(args ...string) ([]byte, error) {
	return exec.Command("ip", args...).CombinedOutput()
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("reading random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}
