package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/netnstest"
	"github.com/gaol-project/gaol/internal/testutil/f2btree"
)

// systemPython is the interpreter Debian's fail2ban package runs with.
const systemPython = "/usr/bin/python3"

// f2bTree is fail2ban's Debian package, extracted into the git-ignored
// .cache/fail2ban (package f2btree), with the file backend it will use.
type f2bTree struct {
	f2btree.Tree
	backend string // "pyinotify" when python3-pyinotify is in the tree, else "polling"
}

// fail2banTree returns the cached fail2ban tree, fetching it on first use.
// It skips the benchmark when that is impossible.
func fail2banTree(b *testing.B) f2bTree {
	b.Helper()
	for _, tool := range []string{systemPython, "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			b.Skipf("fail2ban needs %s: %v (set GAOL_BENCH_FAIL2BAN=0 to measure gaol alone)", tool, err)
		}
	}
	t := f2bTree{Tree: f2btree.Get(b), backend: "polling"}
	if t.HasPyinotify() {
		t.backend = "pyinotify"
	}
	return t
}

func (t f2bTree) pythonPath() string { return t.PythonPath() }
func (t f2bTree) etc() string        { return t.Etc() }

// repoRoot finds the module root above the working directory.
func repoRoot() (string, error) { return f2btree.RepoRoot() }

// f2bDaemon is fail2ban-server running in the foreground in its own
// network namespace, with the stock sshd filter and nftables-multiport
// action from the extracted tree and a generated jail.local.
type f2bDaemon struct {
	cmd      *exec.Cmd
	dir      string
	logPath  string
	counter  *setCounter
	follow   *lineFollower
	found    int // "Found" lines in fail2ban's log so far
	banned   int // "Ban" lines in fail2ban's log so far
	done     chan error
	stopOnce sync.Once
}

// startFail2ban starts fail2ban-server from tree with spec's jail in a
// new network namespace and waits until the jail has started.
func startFail2ban(b *testing.B, tree f2bTree, spec jailSpec) *f2bDaemon {
	b.Helper()
	ns := netnstest.New(b)
	dir := b.TempDir()
	d := &f2bDaemon{dir: dir, logPath: filepath.Join(dir, "fail2ban.log"), done: make(chan error, 1)}
	conf := filepath.Join(dir, "conf")
	if err := writeFail2banConf(conf, tree, spec, d.logPath, filepath.Join(dir, "fail2ban.sqlite3")); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(d.logPath, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	d.cmd = ns.Command(systemPython, filepath.Join(tree.Root, "usr", "bin", "fail2ban-server"),
		"-f", "-x", "-c", conf, "-s", filepath.Join(dir, "fail2ban.sock"), "-p", filepath.Join(dir, "fail2ban.pid"))
	d.cmd.Env = append(os.Environ(),
		"PYTHONPATH="+tree.pythonPath(),
		"PATH=/usr/sbin:/usr/bin:/sbin:/bin", // nft, sh, grep, sed for the action
	)
	out, err := os.Create(filepath.Join(dir, "stdout.log"))
	if err != nil {
		b.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = out, out
	if err := d.cmd.Start(); err != nil {
		b.Fatalf("starting fail2ban-server: %v", err)
	}
	go func() { d.done <- d.cmd.Wait(); out.Close() }()
	b.Cleanup(d.stop)
	if d.follow, err = openFollower(d.logPath); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(d.follow.close)
	started := false
	backend := ""
	ok := pollUntil(time.Now(), time.Minute, 20*time.Millisecond, func() bool {
		select {
		case err := <-d.done:
			d.done <- err
			b.Fatalf("fail2ban-server exited: %v\n%s", err, d.logs())
		default:
		}
		err := d.follow.next(func(line []byte) {
			if _, after, ok := bytes.Cut(line, []byte("Initiated '")); ok {
				backend, _, _ = strings.Cut(string(after), "'")
			}
			started = started || bytes.Contains(line, []byte("Jail 'sshd' started"))
		})
		return err == nil && started
	})
	if !ok {
		b.Fatalf("fail2ban's sshd jail did not start within a minute\n%s", d.logs())
	}
	if backend != tree.backend {
		b.Fatalf("fail2ban uses backend %q, want %q\n%s", backend, tree.backend, d.logs())
	}
	d.counter = newSetCounter(b, ns, "f2b-table", "addr6-set-sshd")
	return d
}

// writeFail2banConf makes a configuration directory for fail2ban-server -c:
// symbolic links to the tree's stock files (read at run time, never copied
// into the repository) and generated fail2ban.local and jail.local.
func writeFail2banConf(conf string, tree f2bTree, spec jailSpec, logPath, dbPath string) error {
	if err := os.MkdirAll(conf, 0o755); err != nil {
		return fmt.Errorf("creating %q: %w", conf, err)
	}
	for _, name := range []string{"fail2ban.conf", "jail.conf", "paths-common.conf", "paths-debian.conf", "filter.d", "action.d"} {
		if err := os.Symlink(filepath.Join(tree.etc(), name), filepath.Join(conf, name)); err != nil {
			return fmt.Errorf("linking fail2ban's %s: %w", name, err)
		}
	}
	server := fmt.Sprintf("[Definition]\nloglevel = INFO\nlogtarget = %s\ndbfile = %s\nallowipv6 = auto\n", logPath, dbPath)
	jail := fmt.Sprintf(`[DEFAULT]
banaction = nftables-multiport
banaction_allports = nftables-allports

[sshd]
enabled = true
backend = %s
logpath = %s
maxretry = %d
findtime = 10m
bantime = 1h
`, tree.backend, spec.logPath, spec.maxretry)
	for name, text := range map[string]string{"fail2ban.local": server, "jail.local": jail} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			return fmt.Errorf("writing fail2ban's %s: %w", name, err)
		}
	}
	return nil
}

func (d *f2bDaemon) name() string             { return "fail2ban" }
func (d *f2bDaemon) set() *setCounter         { return d.counter }
func (d *f2bDaemon) pollEvery() time.Duration { return time.Millisecond }
func (d *f2bDaemon) rssKB() int               { return rssKB(d.cmd.Process.Pid) }

func (d *f2bDaemon) timeout(bans int) time.Duration {
	if bans > 100 {
		return 15 * time.Minute
	}
	return 30 * time.Second
}

// scan counts the failures and bans fail2ban has logged since the last
// call ("[sshd] Found ADDR" at INFO, "[sshd] Ban ADDR" at NOTICE).
func (d *f2bDaemon) scan() error {
	return d.follow.next(func(line []byte) {
		switch {
		case bytes.Contains(line, []byte("] Found ")):
			d.found++
		case bytes.Contains(line, []byte("] Ban ")):
			d.banned++
		}
	})
}

func (d *f2bDaemon) failures() (int, error) {
	err := d.scan()
	return d.found, err
}

// awaitBanned follows fail2ban's log until it has announced n bans, then
// dumps the kernel set until it holds them: fail2ban logs "Ban" just
// before it runs the action, and runs actions one at a time, so only the
// last one or two are then still running. Reading the log is cheap, and
// the few final dumps do not slow fail2ban down. The time returned is the
// end of the dump that saw n elements.
func (d *f2bDaemon) awaitBanned(start time.Time, n int) (time.Time, error) {
	limit := d.timeout(n)
	var err error
	if !pollUntil(start, limit, 50*time.Millisecond, func() bool {
		err = d.scan()
		return err != nil || d.banned >= n
	}) || err != nil {
		return time.Time{}, fmt.Errorf("fail2ban: announced %d of %d bans after %v (%v)", d.banned, n, time.Since(start).Round(time.Second), err)
	}
	var at time.Time
	if !pollUntil(start, limit, 20*time.Millisecond, func() bool {
		if d.counter.count() >= n {
			at = time.Now()
			return true
		}
		return false
	}) {
		return time.Time{}, fmt.Errorf("fail2ban: announced %d bans, the kernel holds %d after %v", n, d.counter.count(), limit)
	}
	return at, nil
}

// summary tells, from fail2ban's log, when it logged its first and last
// failure and ban, for the benchmark's log.
func (d *f2bDaemon) summary() string {
	data, err := os.ReadFile(d.logPath)
	if err != nil {
		return err.Error()
	}
	// Lines start "2006-01-02 15:04:05,000 fail2ban.filter [PID]: ...".
	stamp := func(line string) string { return strings.Replace(line[:min(len(line), 23)], ",", ".", 1) }
	var first, last [2]string
	for line := range strings.Lines(string(data)) {
		for i, what := range []string{"] Found ", "] Ban "} {
			if strings.Contains(line, what) {
				if first[i] == "" {
					first[i] = stamp(line)
				}
				last[i] = stamp(line)
			}
		}
	}
	return fmt.Sprintf("fail2ban logged failures from %s to %s, bans from %s to %s", first[0], last[0], first[1], last[1])
}

func (d *f2bDaemon) logs() string {
	var sb strings.Builder
	for _, name := range []string{"stdout.log", "fail2ban.log"} {
		msg, _ := os.ReadFile(filepath.Join(d.dir, name))
		fmt.Fprintf(&sb, "--- %s (tail)\n%s", name, tail(string(msg), 40))
	}
	return sb.String()
}

// stop sends SIGTERM to fail2ban-server (its own PID: `ip netns exec`
// execs it) and waits for it to remove its rules and exit.
func (d *f2bDaemon) stop() {
	d.stopOnce.Do(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(time.Minute):
			d.cmd.Process.Kill()
			<-d.done
		}
	})
}
