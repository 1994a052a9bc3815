package daemon

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
)

// journalRemote returns systemd-journal-remote, which writes real journal
// files; the test skips without it (fails with GAOL_REQUIRE_ROOT=1, as on CI).
func journalRemote(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"/usr/lib/systemd/systemd-journal-remote", "/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			if _, err := exec.LookPath("journalctl"); err == nil {
				return p
			}
		}
	}
	if os.Getenv("GAOL_REQUIRE_ROOT") == "1" {
		t.Fatal("systemd-journal-remote and journalctl are needed (apt-get install systemd-journal-remote)")
	}
	t.Skip("systemd-journal-remote not installed")
	return ""
}

// journalWriter appends entries to a journal file.
type journalWriter struct {
	t         *testing.T
	remote    string
	path      string
	realtime  int64
	monotonic int64
}

func (w *journalWriter) write(unit, pid, msg string) {
	w.t.Helper()
	w.realtime = max(w.realtime+1, time.Now().UnixMicro())
	w.monotonic++
	var in bytes.Buffer
	fmt.Fprintf(&in, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=0123456789abcdef0123456789abcdef\n", w.realtime, w.monotonic+1000000)
	fmt.Fprintf(&in, "_SYSTEMD_UNIT=%s\nSYSLOG_IDENTIFIER=sshd\n_PID=%s\n_HOSTNAME=web1\nMESSAGE=%s\n\n", unit, pid, msg)
	cmd := exec.Command(w.remote, "--output="+w.path, "--split-mode=none", "-")
	cmd.Stdin = &in
	if out, err := cmd.CombinedOutput(); err != nil {
		w.t.Fatalf("systemd-journal-remote: %v: %s", err, out)
	}
}

func TestJournalBackend(t *testing.T) {
	remote := journalRemote(t)
	e := newEnv(t, `
[sshd]
enabled = true
backend = systemd
maxretry = 2
`)
	jdir := filepath.Join(e.dir, "journal")
	os.MkdirAll(jdir, 0o755)
	w := &journalWriter{t: t, remote: remote, path: filepath.Join(jdir, "remote.journal")}
	w.write("ssh.service", "1", "Server listening on 0.0.0.0 port 22.")
	e.journalDir = jdir
	e.start()
	fail := func(addr string) string {
		return "Failed password for root from " + addr + " port 50000 ssh2"
	}
	w.write("ssh.service", "10", fail("198.51.100.1"))
	w.write("cron.service", "11", fail("198.51.100.1")) // not matched by journalmatch
	w.write("ssh.service", "12", fail("198.51.100.1"))
	js := e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
	if js.TotalFailed != 2 || js.Banned[0] != "198.51.100.1" {
		t.Fatalf("status %+v", js)
	}
	// Restart: what was written while down is read once, from the cursor.
	e.stop()
	w.write("ssh.service", "13", fail("198.51.100.2"))
	e.start()
	w.write("ssh.service", "14", fail("198.51.100.2"))
	js = e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 2 })
	if js.TotalFailed != 2 {
		t.Fatalf("after restart %d failures counted, want 2 (no gap, no duplicate): %+v", js.TotalFailed, js)
	}
}

func TestAutoBackendFallsBackToJournal(t *testing.T) {
	remote := journalRemote(t)
	e := newEnv(t, `
[sshd]
enabled = true
backend = auto
logpath = DIR/no-such-auth.log
maxretry = 1
`)
	jdir := filepath.Join(e.dir, "journal")
	os.MkdirAll(jdir, 0o755)
	w := &journalWriter{t: t, remote: remote, path: filepath.Join(jdir, "remote.journal")}
	w.write("ssh.service", "1", "Server listening on 0.0.0.0 port 22.")
	e.journalDir = jdir
	e.start()
	w.write("ssh.service", "10", "Invalid user admin from 198.51.100.5 port 40000")
	e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
}

func TestSyslogBackend(t *testing.T) {
	e := newEnv(t, `
[sshd]
enabled = true
backend = syslog
syslog.programs = sshd
maxretry = 2
`)
	l, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.LocalAddr().String()
	l.Close()
	e.syslogListen = addr
	e.start()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ts := time.Now().Format(time.Stamp)
	for _, m := range []string{
		"<38>" + ts + " web1 sshd[77]: Failed password for root from 198.51.100.9 port 50000 ssh2",
		"<38>" + ts + " web1 other[78]: Failed password for root from 198.51.100.9 port 50000 ssh2", // another program
		"<38>1 " + time.Now().Format(time.RFC3339) + " web1 sshd 79 - - Failed password for root from 198.51.100.9 port 50001 ssh2",
	} {
		if _, err := c.Write([]byte(m)); err != nil {
			t.Fatal(err)
		}
	}
	js := e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
	if js.TotalFailed != 2 {
		t.Fatalf("status %+v", js)
	}
}

func TestNamedPipe(t *testing.T) {
	e := newEnv(t, `
[sshd]
enabled = true
logpath = DIR/auth.fifo
maxretry = 2
`)
	fifo := filepath.Join(e.dir, "auth.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	e.start()
	// Two writers one after the other, as a logger restarting would.
	for i := range 2 {
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintln(f, failLine(e.clock.Now(), fmt.Sprintf("198.51.100.%d", 20+i)))
		fmt.Fprintln(f, failLine(e.clock.Now(), "198.51.100.30"))
		f.Close()
	}
	js := e.waitJail("sshd", func(js control.JailStatus) bool { return js.TotalFailed == 4 })
	if js.CurrentlyBanned != 1 || js.Banned[0] != "198.51.100.30" {
		t.Fatalf("status %+v", js)
	}
}

func TestGlobPicksUpNewFiles(t *testing.T) {
	e := newEnv(t, `
[sshd]
enabled = true
logpath = DIR/logs/*.log
maxretry = 2
`)
	os.MkdirAll(filepath.Join(e.dir, "logs"), 0o755)
	e.appendLines("logs/a.log", "start")
	e.start()
	// A file that appears later is found and read from its start.
	e.appendLines("logs/b.log", failLine(e.clock.Now(), "198.51.100.61"), failLine(e.clock.Now(), "198.51.100.61"))
	js := e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
	if len(js.Files) != 2 {
		t.Fatalf("files %v", js.Files)
	}
	// The first file is still followed.
	e.appendLines("logs/a.log", failLine(e.clock.Now(), "198.51.100.62"), failLine(e.clock.Now(), "198.51.100.62"))
	e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 2 })
}

func TestFromStart(t *testing.T) {
	e := newEnv(t, `
[sshd]
enabled = true
logpath = DIR/auth.log
maxretry = 2
`)
	e.appendLines("auth.log", failLine(e.clock.Now(), "198.51.100.63"), failLine(e.clock.Now(), "198.51.100.63"))
	e.fromStart = true
	e.start()
	e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
}

// TestStatefulFilter runs a filter with its own datepattern and a
// two-line failregex: it sees every line in order, with the buffer fail2ban
// keeps.
func TestStatefulFilter(t *testing.T) {
	e := newEnv(t, `
[app]
enabled = true
logpath = DIR/app.log
maxretry = 2
`)
	os.MkdirAll(filepath.Join(e.etc, "filter.d"), 0o755)
	os.WriteFile(filepath.Join(e.etc, "filter.d", "app.conf"), []byte(`
[Definition]
failregex = ^\s*LOGIN FAILED\n\s*client <HOST>\s*$
maxlines = 2
datepattern = ^%%Y-%%m-%%d %%H:%%M:%%S
`), 0o644)
	e.appendLines("app.log", "start")
	e.start()
	ts := e.clock.Now().Format(time.DateTime)
	var lines []string
	for range 2 {
		lines = append(lines, ts+" LOGIN FAILED", ts+" client 198.51.100.88", ts+" client 198.51.100.89 logged in")
	}
	e.appendLines("app.log", lines...)
	js := e.waitJail("app", func(js control.JailStatus) bool { return js.CurrentlyBanned == 1 })
	if js.TotalFailed != 2 || js.Banned[0] != "198.51.100.88" {
		t.Fatalf("status %+v", js)
	}
}

// TestLargeAppendInOrder: lines appended at once, more than a worker's
// chunk and a reader's batch, reach the engine in file order: each ban
// keeps its address's lines oldest first.
func TestLargeAppendInOrder(t *testing.T) {
	const addrs, maxretry = 1500, 5
	e := newEnv(t, fmt.Sprintf("[sshd]\nenabled = true\nlogpath = DIR/auth.log\nmaxretry = %d\nbantime = 1h\n", maxretry))
	e.start()
	now := e.clock.Now()
	var lines []string
	for k := range maxretry {
		for a := range addrs {
			lines = append(lines, fmt.Sprintf("%s web1 sshd[77]: Failed password for root from 2001:db8:0:%x::1 port %d ssh2",
				now.Format(time.Stamp), a+1, 40000+k))
		}
	}
	e.appendLines("auth.log", lines...)
	e.waitJail("sshd", func(js control.JailStatus) bool { return js.CurrentlyBanned == addrs })
	active, err := e.db.ActiveBans(context.Background(), now)
	if err != nil || len(active) != addrs {
		t.Fatalf("%d active bans, %v", len(active), err)
	}
	for _, b := range active {
		if len(b.Matches) != maxretry {
			t.Fatalf("ban of %v keeps %d lines, want %d", b.Prefix, len(b.Matches), maxretry)
		}
		for k, m := range b.Matches {
			if !strings.Contains(m, fmt.Sprintf("port %d ", 40000+k)) {
				t.Fatalf("ban of %v: line %d is %q, want port %d: lines out of order", b.Prefix, k, m, 40000+k)
			}
		}
	}
}

// TestConnectionStateAcrossChunks: a filter that follows connections
// (<F-MLFID>) is searched by the workers and its state applied in order,
// across chunks and batches: failures that name no address get the one
// their connection announced earlier, often in an earlier chunk.
func TestConnectionStateAcrossChunks(t *testing.T) {
	// Each connection fails lag connections after it opened: fewer are
	// open at once than the filter remembers (100, as fail2ban).
	const conns, maxretry, lag = 1500, 3, 30
	e := newEnv(t, fmt.Sprintf("[conn]\nenabled = true\nfilter = conn\nlogpath = DIR/conn.log\nmaxretry = %d\nbantime = 1h\n", maxretry))
	filter := "[Definition]\n" +
		"prefregex = ^\\s*<F-MLFID>srv\\[\\d+\\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$\n" +
		"failregex = ^<F-NOFAIL>connect</F-NOFAIL> from <HOST>$\n" +
		"            ^auth failed for <F-USER>\\S+</F-USER>$\n"
	if err := os.MkdirAll(filepath.Join(e.etc, "filter.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.etc, "filter.d", "conn.conf"), []byte(filter), 0o644); err != nil {
		t.Fatal(err)
	}
	e.start()
	stamp := e.clock.Now().Format(time.Stamp)
	var lines []string
	for n := 1; n <= conns+lag; n++ {
		if n <= conns {
			lines = append(lines, fmt.Sprintf("%s srv[%d]: connect from 2001:db8:0:%x::1", stamp, n, n))
		}
		if c := n - lag; c >= 1 {
			for range maxretry {
				lines = append(lines, fmt.Sprintf("%s srv[%d]: auth failed for root", stamp, c))
			}
		}
	}
	e.appendLines("conn.log", lines...)
	js := e.waitJail("conn", func(js control.JailStatus) bool { return js.CurrentlyBanned == conns })
	if js.TotalFailed != conns*maxretry {
		t.Fatalf("%d failures counted, want %d", js.TotalFailed, conns*maxretry)
	}
}
