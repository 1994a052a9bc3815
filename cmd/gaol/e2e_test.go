package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/netnstest"
)

// daemonProc is a `gaol server` started by a test.
type daemonProc struct {
	cmd  *exec.Cmd
	sock string
	log  *bytesBuffer
	done chan error
}

// startDaemon starts `gaol server` (this test binary acting as gaol), in
// namespace ns if it is not nil, and waits until its control API answers.
func startDaemon(t *testing.T, ns *netnstest.NS, sock string, args ...string) *daemonProc {
	t.Helper()
	args = append([]string{"server", "--socket", sock, "--log-level", "debug"}, args...)
	var cmd *exec.Cmd
	if ns != nil {
		cmd = ns.Command(os.Args[0], args...)
	} else {
		cmd = exec.Command(os.Args[0], args...)
	}
	cmd.Env = append(os.Environ(), "GAOL_TEST_MAIN=1")
	p := &daemonProc{cmd: cmd, sock: sock, log: &bytesBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("daemon log:\n%s", p.log)
		}
	})
	c := control.NewClient(sock)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Status(ctx)
		cancel()
		if err == nil {
			return p
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("daemon exited before answering: %v\n%s", err, p.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon did not answer on %s: %v\n%s", sock, err, p.log)
		}
	}
}

// stop ends the daemon with SIGTERM and waits for it.
func (p *daemonProc) stop(t *testing.T) {
	t.Helper()
	if p.cmd.ProcessState != nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Errorf("daemon exited with %v", err)
		}
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("daemon did not stop on SIGTERM")
	}
}

// waitFor polls cond until it holds or the deadline passes; it returns how
// long it took.
func waitFor(t *testing.T, what string, limit time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			t.Fatalf("%s: not within %v (%s)", what, limit, state)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func appendLines(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "\n") + "\n"); err != nil {
		t.Fatal(err)
	}
}

// sshFailure is an OpenSSH failure line as syslog writes it now.
func sshFailure(addr string, n int) string {
	return fmt.Sprintf("%s web1 sshd[%d]: Failed password for invalid user admin from %s port %d ssh2",
		time.Now().Format(time.Stamp), 4000+n, addr, 40000+n)
}

func writeConfig(t *testing.T, dir, jailLocal string) string {
	t.Helper()
	etc := filepath.Join(dir, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "jail.local"), []byte(jailLocal), 0o644); err != nil {
		t.Fatal(err)
	}
	return etc
}

// dialFrom opens a TCP connection from src (an address of ns) to dst.
func dialFrom(ns *netnstest.NS, src, dst string) error {
	return ns.Do(func() error {
		d := net.Dialer{Timeout: 700 * time.Millisecond, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
		c, err := d.Dial("tcp", dst)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

func nftSet(t *testing.T, ns *netnstest.NS, set string) string {
	t.Helper()
	out, err := ns.Exec("nft", "list", "set", "inet", "gaol", set)
	if err != nil {
		return fmt.Sprintf("error: %v: %s", err, out)
	}
	return string(out)
}

func cli(t *testing.T, sock string, args ...string) string {
	t.Helper()
	out, err := runCLI(t, append(args, "--socket", sock)...)
	if err != nil {
		t.Fatalf("gaol %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// TestEndToEnd runs gaol in a network namespace on a temporary config and
// log file: attackers are banned in nftables and their packets dropped, a
// benign address is not, unban restores access, and bans survive a restart.
func TestEndToEnd(t *testing.T) {
	srv := netnstest.New(t)
	peer := netnstest.New(t)
	netnstest.Link(t,
		srv, []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8::1/64")},
		peer, []netip.Prefix{
			netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("192.0.2.11/24"),
			netip.MustParsePrefix("192.0.2.20/24"), netip.MustParsePrefix("2001:db8::10/64"),
		})
	srv.Listen(t, "tcp", "[::]:2222")

	dir := t.TempDir()
	authLog := filepath.Join(dir, "auth.log")
	appendLines(t, authLog, "Nov  1 00:00:00 web1 sshd[1]: Server listening on 0.0.0.0 port 2222.")
	etc := writeConfig(t, dir, fmt.Sprintf(`
[DEFAULT]
bantime = 1h

[sshd]
enabled  = true
port     = 2222
logpath  = %s
maxretry = 3
`, authLog))
	sock := filepath.Join(dir, "gaol.sock")
	db := filepath.Join(dir, "gaol.db")
	d := startDaemon(t, srv, sock, "--config", etc, "--db", db)

	attackers := []string{"192.0.2.10", "192.0.2.11", "2001:db8::10"}
	const benign = "192.0.2.20"
	// Everyone can connect before the attack.
	for _, a := range append(attackers, benign) {
		if err := dialFrom(peer, a, net.JoinHostPort(dstFor(a), "2222")); err != nil {
			t.Fatalf("before any ban, %s cannot connect: %v", a, err)
		}
	}

	var lines []string
	for i := range 3 {
		for _, a := range attackers {
			lines = append(lines, sshFailure(a, i))
		}
	}
	lines = append(lines, sshFailure(benign, 0), sshFailure(benign, 1))
	appendLines(t, authLog, lines...)

	// 2001:db8::10 is banned by address, not by /64 (its /64 holds the
	// server's own address): in the interval set sshd-v6-net, since the
	// jail bans IPv6 by /64 and its hash set sshd-v6 holds the /64s.
	took := waitFor(t, "attackers in the nftables sets", time.Second, func() (bool, string) {
		v4, v6 := nftSet(t, srv, "sshd-v4"), nftSet(t, srv, "sshd-v6-net")
		return strings.Contains(v4, "192.0.2.10") && strings.Contains(v4, "192.0.2.11") && strings.Contains(v6, "2001:db8::10"), v4 + v6
	})
	t.Logf("attackers banned in nftables %v after their lines were written", took)
	if v4 := nftSet(t, srv, "sshd-v4"); strings.Contains(v4, benign) {
		t.Fatalf("benign address below maxretry banned:\n%s", v4)
	}

	for _, a := range attackers {
		if err := dialFrom(peer, a, net.JoinHostPort(dstFor(a), "2222")); err == nil {
			t.Errorf("banned %s still connects", a)
		}
	}
	if err := dialFrom(peer, benign, "192.0.2.1:2222"); err != nil {
		t.Errorf("benign %s cannot connect: %v", benign, err)
	}

	st := cli(t, sock, "status", "sshd")
	for _, want := range []string{"Currently failed:\t1", "Total failed:\t11", "Currently banned:\t3", "Total banned:\t3", "192.0.2.10", "2001:db8::10", authLog} {
		if !strings.Contains(st, want) {
			t.Errorf("status lacks %q:\n%s", want, st)
		}
	}

	// Unban restores access.
	cli(t, sock, "unban", "sshd", "192.0.2.10")
	if err := dialFrom(peer, "192.0.2.10", "192.0.2.1:2222"); err != nil {
		t.Errorf("unbanned 192.0.2.10 cannot connect: %v", err)
	}
	if v4 := nftSet(t, srv, "sshd-v4"); strings.Contains(v4, "192.0.2.10 ") || strings.Contains(v4, "192.0.2.10,") {
		t.Errorf("unbanned address still in the set:\n%s", v4)
	}

	// Restart: the bans come back from the store, even into an empty firewall.
	d.stop(t)
	if out, err := srv.Exec("nft", "delete", "table", "inet", "gaol"); err != nil {
		t.Fatalf("deleting the table: %v %s", err, out)
	}
	startDaemon(t, srv, sock, "--config", etc, "--db", db)
	v4, v6 := nftSet(t, srv, "sshd-v4"), nftSet(t, srv, "sshd-v6-net")
	if !strings.Contains(v4, "192.0.2.11") || !strings.Contains(v6, "2001:db8::10") || strings.Contains(v4, "192.0.2.10 ") {
		t.Errorf("after restart the sets hold:\n%s\n%s", v4, v6)
	}
	if err := dialFrom(peer, "192.0.2.11", "192.0.2.1:2222"); err == nil {
		t.Error("after restart, banned 192.0.2.11 connects")
	}
	var banned control.Banned
	if err := json.Unmarshal([]byte(cli(t, sock, "banned", "--json")), &banned); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range banned.Active {
		got = append(got, b.Jail+" "+b.Prefix+" "+b.Category)
	}
	// The filter's category is kept with the ban, through the restart.
	if strings.Join(got, ",") != "sshd 192.0.2.11 ssh-bruteforce,sshd 2001:db8::10 ssh-bruteforce" {
		t.Errorf("gaol banned after restart: %v", got)
	}
	hist := cli(t, sock, "banned", "192.0.2.10")
	if !strings.Contains(hist, "192.0.2.10 is not banned") || !strings.Contains(hist, "unbanned") {
		t.Errorf("history of 192.0.2.10:\n%s", hist)
	}
}

// dstFor returns the server address of the family of a.
func dstFor(a string) string {
	if strings.Contains(a, ":") {
		return "2001:db8::1"
	}
	return "192.0.2.1"
}

// jailCount returns a jail's total failed counter.
func jailCount(t *testing.T, sock, jail string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	js, err := control.NewClient(sock).JailStatus(ctx, jail)
	if err != nil {
		t.Fatal(err)
	}
	return js.TotalFailed
}

// TestRotationNoLineLost follows a log rotated by rename and another rotated
// by copytruncate, across a daemon restart, and counts that every line
// written is read exactly once. It needs no root: --dry-run.
func TestRotationNoLineLost(t *testing.T) {
	dir := t.TempDir()
	renamed := filepath.Join(dir, "renamed.log")
	truncated := filepath.Join(dir, "truncated.log")
	for _, p := range []string{renamed, truncated} {
		appendLines(t, p, "Nov  1 00:00:00 web1 sshd[1]: Server listening on 0.0.0.0 port 22.")
	}
	etc := writeConfig(t, dir, fmt.Sprintf(`
[DEFAULT]
maxretry = 1000000
enabled = true
filter = sshd

[sshd]
enabled = false

[renamed]
logpath = %s

[truncated]
logpath = %s
`, renamed, truncated))
	sock := filepath.Join(dir, "gaol.sock")
	db := filepath.Join(dir, "gaol.db")
	d := startDaemon(t, nil, sock, "--config", etc, "--db", db, "--dry-run")

	n := 0
	batch := func(path string, count int) {
		lines := make([]string, count)
		for i := range lines {
			n++
			lines[i] = sshFailure(fmt.Sprintf("198.51.100.%d", n%250+1), n)
		}
		appendLines(t, path, lines...)
	}
	expect := func(jail string, want int) {
		t.Helper()
		waitFor(t, jail+" lines counted", 20*time.Second, func() (bool, string) {
			got := jailCount(t, sock, jail)
			if got > want {
				t.Fatalf("%s: %d lines counted, only %d written", jail, got, want)
			}
			return got == want, fmt.Sprintf("%d of %d", got, want)
		})
	}

	// Rename rotation, with lines still unread in the old file when it is
	// renamed and lines written to it after the rename (a logger that has
	// not reopened its file yet). Rotations come one at a time: a file
	// renamed twice before the reader looks is one no reader can know of.
	wantRenamed := 0
	for round := range 3 {
		batch(renamed, 300)
		rotated := fmt.Sprintf("%s.%d", renamed, round+1)
		if err := os.Rename(renamed, rotated); err != nil {
			t.Fatal(err)
		}
		batch(rotated, 50)
		batch(renamed, 200)
		wantRenamed += 550
		expect("renamed", wantRenamed)
	}

	// Copytruncate: the copy must wait for the reader, or the lines written
	// between the copy and the truncation are lost by any reader.
	wantTrunc := 0
	for range 3 {
		batch(truncated, 300)
		wantTrunc += 300
		expect("truncated", wantTrunc)
		data, err := os.ReadFile(truncated)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(truncated+".1", data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(truncated, 0); err != nil {
			t.Fatal(err)
		}
		batch(truncated, 100)
		wantTrunc += 100
	}
	expect("truncated", wantTrunc)

	// Restart: what is written while the daemon is down is read once after.
	d.stop(t)
	batch(renamed, 120)
	batch(truncated, 80)
	startDaemon(t, nil, sock, "--config", etc, "--db", db, "--dry-run")
	expect("renamed", 120)
	expect("truncated", 80)
	batch(renamed, 10)
	expect("renamed", 130)
}

// TestErrors checks that bad input gives one clear message and a non-zero
// exit, and that a daemon that is not running is reported as such.
func TestErrors(t *testing.T) {
	dir := t.TempDir()
	bad := writeConfig(t, dir, "[sshd]\nenabled = true\nmaxretry = lots\n")
	missingSock := filepath.Join(dir, "none.sock")
	tests := []struct {
		name string
		args []string
		want string
		code int
	}{
		{"malformed config", []string{"check", "--config", bad}, "jail.local:3", 1},
		{"no such config dir", []string{"check", "--config", filepath.Join(dir, "nope")}, "not a directory", 1},
		{"daemon not running", []string{"status", "--socket", missingSock}, "not running", 1},
		{"invalid address", []string{"ban", "sshd", "192.0.2.300", "--socket", missingSock}, `"192.0.2.300" is not an IP address`, 2},
		{"invalid banned address", []string{"banned", "nope", "--socket", missingSock}, `"nope" is not an IP address`, 2},
		{"unknown command", []string{"frobnicate"}, "unknown command", 2},
		{"bad log level", []string{"server", "--log-level", "loud", "--dry-run"}, "--log-level", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := runCLI(t, tt.args...)
			if err == nil {
				t.Fatalf("no error; output:\n%s", out)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
			code := 1
			var ee *exitError
			if errors.As(err, &ee) {
				code = ee.code
			}
			if code != tt.code {
				t.Errorf("exit code %d, want %d", code, tt.code)
			}
		})
	}
}

// TestDaemonErrors drives a running daemon (dry run) with bad requests.
func TestDaemonErrors(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "not-yet.log")
	etc := writeConfig(t, dir, fmt.Sprintf("[sshd]\nenabled = true\nbackend = polling\nlogpath = %s\n", missing))
	sock := filepath.Join(dir, "gaol.sock")
	startDaemon(t, nil, sock, "--config", etc, "--db", filepath.Join(dir, "gaol.db"), "--dry-run")

	if _, err := runCLI(t, "status", "nojail", "--socket", sock); err == nil || !strings.Contains(err.Error(), `jail "nojail"`) || !strings.Contains(err.Error(), "sshd") {
		t.Errorf("unknown jail: %v", err)
	}
	if _, err := runCLI(t, "ban", "nojail", "192.0.2.1", "--socket", sock); err == nil || !strings.Contains(err.Error(), `jail "nojail"`) {
		t.Errorf("ban in unknown jail: %v", err)
	}
	if _, err := runCLI(t, "ban", "sshd", "127.0.0.1", "--socket", sock); err == nil || !strings.Contains(err.Error(), "ignore") {
		t.Errorf("ban of an ignored address: %v", err)
	}
	if _, err := runCLI(t, "unban", "sshd", "192.0.2.99", "--socket", sock); err == nil || !strings.Contains(err.Error(), "not banned") {
		t.Errorf("unban of an address not banned: %v", err)
	}
	// A missing log file is reported, the jail waits for it, and lines
	// written once it appears are read.
	st := cli(t, sock, "status", "sshd")
	if !strings.Contains(st, "missing log files: "+missing) {
		t.Errorf("status does not report the missing file:\n%s", st)
	}
	appendLines(t, missing, sshFailure("192.0.2.50", 1), "\x00\x01\xff binary junk \xfe", strings.Repeat("x", 200000), sshFailure("192.0.2.50", 2))
	waitFor(t, "lines of a file that appeared later", 20*time.Second, func() (bool, string) {
		n := jailCount(t, sock, "sshd")
		return n == 2, fmt.Sprint(n)
	})
	out := cli(t, sock, "ban", "sshd", "198.51.100.0/24", "2001:db8::/64")
	if !strings.Contains(out, "banned 198.51.100.0/24 in sshd") || !strings.Contains(out, "banned 2001:db8::/64 in sshd") {
		t.Errorf("manual ban output:\n%s", out)
	}
	if out := cli(t, sock, "banned", "198.51.100.7"); !strings.Contains(out, "198.51.100.7 is banned in sshd (198.51.100.0/24)") {
		t.Errorf("banned 198.51.100.7:\n%s", out)
	}
	if out := cli(t, sock, "unban", "--all"); !strings.Contains(out, "unbanned 198.51.100.0/24 in sshd") {
		t.Errorf("unban --all:\n%s", out)
	}
	if out := cli(t, sock, "reload"); !strings.Contains(out, "reloaded: 1 jails (sshd)") {
		t.Errorf("reload:\n%s", out)
	}
}

// TestStdinSource feeds a jail whose logpath is "-" through the daemon's
// standard input.
func TestStdinSource(t *testing.T) {
	dir := t.TempDir()
	etc := writeConfig(t, dir, "[sshd]\nenabled = true\nlogpath = -\nmaxretry = 2\n")
	sock := filepath.Join(dir, "gaol.sock")
	cmd := exec.Command(os.Args[0], "server", "--config", etc, "--db", filepath.Join(dir, "gaol.db"), "--socket", sock, "--dry-run")
	cmd.Env = append(os.Environ(), "GAOL_TEST_MAIN=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var log bytesBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("daemon log:\n%s", log.String())
		}
	})
	waitReady(t, sock)
	fmt.Fprintln(stdin, sshFailure("198.51.100.40", 1))
	fmt.Fprintln(stdin, sshFailure("198.51.100.40", 2))
	waitFor(t, "ban from standard input", 20*time.Second, func() (bool, string) {
		out, _ := runCLI(t, "status", "sshd", "--socket", sock)
		return strings.Contains(out, "Banned IP list:\t198.51.100.40"), out
	})
	stdin.Close()
}

// TestIPSetBackend bans through iptables and ipset, as gaol does where
// nftables is unavailable, and checks that packets are really dropped.
func TestIPSetBackend(t *testing.T) {
	srv := netnstest.New(t)
	peer := netnstest.New(t)
	netnstest.Link(t,
		srv, []netip.Prefix{netip.MustParsePrefix("192.0.2.1/24"), netip.MustParsePrefix("2001:db8::1/64")},
		peer, []netip.Prefix{netip.MustParsePrefix("192.0.2.10/24"), netip.MustParsePrefix("192.0.2.20/24"), netip.MustParsePrefix("2001:db8:0:0:1::10/64")})
	srv.Listen(t, "tcp", "[::]:2222")
	dir := t.TempDir()
	authLog := filepath.Join(dir, "auth.log")
	appendLines(t, authLog, "Nov  1 00:00:00 web1 sshd[1]: Server listening on 0.0.0.0 port 2222.")
	etc := writeConfig(t, dir, fmt.Sprintf("[sshd]\nenabled = true\nport = 2222\nlogpath = %s\nmaxretry = 2\nbantime = 1h\n", authLog))
	sock := filepath.Join(dir, "gaol.sock")
	startDaemon(t, srv, sock, "--config", etc, "--db", filepath.Join(dir, "gaol.db"), "--firewall", "ipset")
	appendLines(t, authLog, sshFailure("192.0.2.10", 1), sshFailure("192.0.2.10", 2), sshFailure("2001:db8::1:0:0:10", 3), sshFailure("2001:db8::1:0:0:10", 4))
	waitFor(t, "bans in the ipsets", 5*time.Second, func() (bool, string) {
		v4, _ := srv.Exec("ipset", "list", "gaol-sshd-v4")
		v6, _ := srv.Exec("ipset", "list", "gaol-sshd-v6")
		return strings.Contains(string(v4), "192.0.2.10") && strings.Contains(string(v6), "2001:db8::1:0:0:10"), string(v4) + string(v6)
	})
	if err := dialFrom(peer, "192.0.2.10", "192.0.2.1:2222"); err == nil {
		t.Error("banned 192.0.2.10 still connects")
	}
	if err := dialFrom(peer, "2001:db8::1:0:0:10", "[2001:db8::1]:2222"); err == nil {
		t.Error("banned 2001:db8::1:0:0:10 still connects")
	}
	if err := dialFrom(peer, "192.0.2.20", "192.0.2.1:2222"); err != nil {
		t.Errorf("192.0.2.20 cannot connect: %v", err)
	}
	cli(t, sock, "unban", "192.0.2.10")
	if err := dialFrom(peer, "192.0.2.10", "192.0.2.1:2222"); err != nil {
		t.Errorf("unbanned 192.0.2.10 cannot connect: %v", err)
	}
}
