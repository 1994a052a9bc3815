package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/netnstest"
)

var (
	buildOnce sync.Once
	gaolBin   string
	buildErr  error
)

// buildGaol builds the gaol binary from this tree, once per run, so that
// every benchmark of a run measures the same binary. It goes into the
// git-ignored .cache/bench/ at the root of the repository.
func buildGaol(b *testing.B) string {
	b.Helper()
	buildOnce.Do(func() {
		root, err := repoRoot()
		if err != nil {
			buildErr = err
			return
		}
		gaolBin = filepath.Join(root, ".cache", "bench", "gaol")
		cmd := exec.Command("go", "build", "-o", gaolBin, "./cmd/gaol")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if msg, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("building gaol: %w\n%s", err, msg)
		}
	})
	if buildErr != nil {
		b.Fatal(buildErr)
	}
	return gaolBin
}

// gaolDaemon is `gaol server` running in its own network namespace.
type gaolDaemon struct {
	cmd      *exec.Cmd
	client   *control.Client
	logPath  string
	counter  *setCounter
	done     chan error
	stopOnce sync.Once
}

// startGaol starts bin as `gaol server` with spec's jail in a new network
// namespace and waits until its control API answers.
func startGaol(b *testing.B, bin string, spec jailSpec) *gaolDaemon {
	b.Helper()
	ns := netnstest.New(b)
	dir := b.TempDir()
	etc := filepath.Join(dir, "etc")
	if err := os.MkdirAll(etc, 0o755); err != nil {
		b.Fatal(err)
	}
	jail := fmt.Sprintf("[sshd]\nenabled = true\nlogpath = %s\nmaxretry = %d\nfindtime = 10m\nbantime = 1h\n", spec.logPath, spec.maxretry)
	if err := os.WriteFile(filepath.Join(etc, "jail.local"), []byte(jail), 0o644); err != nil {
		b.Fatal(err)
	}
	sock := filepath.Join(dir, "gaol.sock")
	d := &gaolDaemon{
		client:  control.NewClient(sock),
		logPath: filepath.Join(dir, "daemon.log"),
		done:    make(chan error, 1),
	}
	d.cmd = ns.Command(bin, "server", "--config", etc, "--db", filepath.Join(dir, "gaol.db"), "--socket", sock, "--log-level", "warn")
	logf, err := os.Create(d.logPath)
	if err != nil {
		b.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		b.Fatalf("starting gaol: %v", err)
	}
	go func() { d.done <- d.cmd.Wait(); logf.Close() }()
	b.Cleanup(d.stop)
	ok := pollUntil(time.Now(), 30*time.Second, 10*time.Millisecond, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := d.client.Status(ctx)
		return err == nil
	})
	if !ok {
		b.Fatalf("gaol did not start within 30 s\n%s", d.logs())
	}
	d.counter = newSetCounter(b, ns, "gaol", "sshd-v6")
	return d
}

func (d *gaolDaemon) name() string              { return "gaol" }
func (d *gaolDaemon) set() *setCounter          { return d.counter }
func (d *gaolDaemon) pollEvery() time.Duration  { return 100 * time.Microsecond }
func (d *gaolDaemon) timeout(int) time.Duration { return time.Minute }
func (d *gaolDaemon) rssKB() int                { return rssKB(d.cmd.Process.Pid) }
func (d *gaolDaemon) jail() (control.JailStatus, error) {
	s, err := d.client.Status(context.Background())
	if err != nil {
		return control.JailStatus{}, fmt.Errorf("gaol status: %w", err)
	}
	if len(s.Jails) != 1 {
		return control.JailStatus{}, fmt.Errorf("gaol status: %d jails, want 1", len(s.Jails))
	}
	return s.Jails[0], nil
}

func (d *gaolDaemon) failures() (int, error) {
	j, err := d.jail()
	return j.TotalFailed, err
}

// awaitBanned polls the control API's status, which the daemon answers
// from the goroutine that applies bans, after the firewall batch: when it
// reports n bans they are in the kernel. A kernel dump in a loop instead
// would slow the daemon down.
func (d *gaolDaemon) awaitBanned(start time.Time, n int) (time.Time, error) {
	var (
		j   control.JailStatus
		err error
	)
	if pollUntil(start, d.timeout(n), 2*time.Millisecond, func() bool {
		j, err = d.jail()
		return err == nil && j.CurrentlyBanned >= n
	}) {
		return time.Now(), nil
	}
	return time.Time{}, fmt.Errorf("gaol: %d of %d banned after %v (last error: %v)", j.CurrentlyBanned, n, d.timeout(n), err)
}

func (d *gaolDaemon) logs() string {
	msg, _ := os.ReadFile(d.logPath)
	return string(msg)
}

// summary returns gaol's log (warnings and errors only), if any.
func (d *gaolDaemon) summary() string {
	if msg := strings.TrimSpace(d.logs()); msg != "" {
		return "gaol logged:\n" + msg
	}
	return "gaol logged no warning"
}

func (d *gaolDaemon) stop() {
	d.stopOnce.Do(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(20 * time.Second):
			d.cmd.Process.Kill()
			<-d.done
		}
	})
}
