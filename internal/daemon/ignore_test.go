package daemon

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/ignore/utmp"
)

func TestIgnoreHostNamesRefresh(t *testing.T) {
	e := newEnv(t, `
[sshd]
enabled = true
logpath = DIR/auth.log
maxretry = 1
ignoreip = trusted.example.org
`)
	e.resolver.set("trusted.example.org", "198.51.100.50")
	e.start()
	now := e.clock.Now()
	e.appendLines("auth.log", failLine(now, "198.51.100.50"), failLine(now, "198.51.100.51"))
	e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
	if js := e.jail("sshd"); js.Banned[0] != "198.51.100.51" || js.TotalFailed != 1 {
		t.Fatalf("status %+v", js)
	}
	// The name moves; after the refresh interval the new address is spared
	// and the old one is not.
	e.resolver.set("trusted.example.org", "198.51.100.60")
	e.clock.Advance(6 * time.Minute)
	deadline := time.Now().Add(10 * time.Second)
	for !e.d.ignores("sshd", netip.MustParseAddr("198.51.100.60")) {
		if time.Now().After(deadline) {
			t.Fatal("the name's new address is not ignored after the refresh")
		}
		time.Sleep(10 * time.Millisecond)
	}
	now = e.clock.Now()
	e.appendLines("auth.log", failLine(now, "198.51.100.60"), failLine(now, "198.51.100.50"))
	js := e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 2 })
	if js.TotalFailed != 2 || js.Banned[0] != "198.51.100.50" {
		t.Fatalf("after the refresh: %+v", js)
	}
}

func TestLockoutGuard(t *testing.T) {
	e := newEnv(t, `
[sshd]
enabled = true
logpath = DIR/auth.log
maxretry = 1
`)
	rec := utmp.Record{Type: utmp.UserProcess, PID: 4242, Line: "pts/0", User: "alice", Host: "198.51.100.70",
		Time: e.clock.Now().Add(-time.Hour), Addr: utmp.AddrBytes(netip.MustParseAddr("198.51.100.70"))}
	data, err := rec.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "utmp"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	e.start()
	ctx := context.Background()
	// The logged-in administrator is not banned by failures...
	deadline := time.Now().Add(10 * time.Second)
	for len(e.d.sessionsNow()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("utmp session not noticed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	now := e.clock.Now()
	e.appendLines("auth.log", failLine(now, "198.51.100.70"), failLine(now, "198.51.100.71"))
	e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
	if js := e.jail("sshd"); js.Banned[0] != "198.51.100.71" {
		t.Fatalf("status %+v", js)
	}
	// ...nor by hand without --force, and the refusal says why.
	_, err = e.d.Ban(ctx, control.BanRequest{Jail: "sshd", Targets: []string{"198.51.100.0/24"}})
	if !errors.Is(err, control.ErrRefused) || !strings.Contains(err.Error(), "198.51.100.70") || !strings.Contains(err.Error(), "alice") || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("ban of a logged-in admin: %v", err)
	}
	// The client's own SSH connection.
	_, err = e.d.Ban(ctx, control.BanRequest{Jail: "sshd", Targets: []string{"203.0.113.0/24"}, Client: "203.0.113.8"})
	if !errors.Is(err, control.ErrRefused) || !strings.Contains(err.Error(), "your own SSH connection from 203.0.113.8") {
		t.Fatalf("ban of the client: %v", err)
	}
	if _, err := e.d.Ban(ctx, control.BanRequest{Jail: "sshd", Targets: []string{"203.0.113.0/24"}, Client: "203.0.113.8", Force: true}); err != nil {
		t.Fatalf("forced: %v", err)
	}
	if _, err := e.d.Ban(ctx, control.BanRequest{Jail: "sshd", Targets: []string{"198.51.100.70"}, Force: true}); err != nil {
		t.Fatalf("forced: %v", err)
	}
	if _, err := e.d.Ban(ctx, control.BanRequest{Jail: "sshd", Targets: []string{"192.0.2.1"}, Client: "not an address"}); !errors.Is(err, control.ErrInvalid) {
		t.Fatalf("bad client: %v", err)
	}
}

func TestIgnoreCommand(t *testing.T) {
	e := newEnv(t, `
[sshd]
enabled = true
logpath = DIR/auth.log
maxretry = 1
ignorecommand = DIR/trusted.sh <ip>
`)
	script := "#!/bin/sh\ncase \"$1\" in 198.51.100.90) exit 0;; *) exit 1;; esac\n"
	if err := os.WriteFile(filepath.Join(e.dir, "trusted.sh"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	e.start()
	now := e.clock.Now()
	e.appendLines("auth.log", failLine(now, "198.51.100.90"), failLine(now, "198.51.100.91"))
	js := e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
	if js.Banned[0] != "198.51.100.91" || js.TotalFailed != 1 {
		t.Fatalf("status %+v", js)
	}
}

// sessionsNow returns the protected session addresses (it runs on the loop).
func (d *Daemon) sessionsNow() []netip.Addr {
	var out []netip.Addr
	d.do(context.Background(), func() error {
		out = slices.Clone(d.sessions)
		return nil
	})
	return out
}

// ignores reports whether jail ignores addr now.
func (d *Daemon) ignores(jail string, addr netip.Addr) bool {
	var ok bool
	d.do(context.Background(), func() error {
		if rt := d.jails[jail]; rt != nil {
			ok = rt.ignore.set.Load().Contains(addr)
		}
		return nil
	})
	return ok
}
