package daemon

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gaol-project/gaol/internal/firewall/nft"
	"github.com/gaol-project/gaol/internal/geo"
	"github.com/gaol-project/gaol/internal/netnstest"
	"github.com/gaol-project/gaol/internal/store/sqlite"
)

// windowProfile, if set, names the CPU profiles of BenchmarkBan10000's
// measured windows only (from the append to the last ban), without the
// set-up that go test's -cpuprofile would include.
var windowProfile = flag.String("window-cpuprofile", "", "write a CPU profile of BenchmarkBan10000's measured windows to `file`")

// BenchmarkBan10000 is bench/'s BenchmarkBan10000 in process, so that it
// can be profiled: the daemon wired as `gaol server` wires it (SQLite
// store, nftables in a network namespace of its own, the built-in geo
// data), 10,000 attackers with 5 failure lines each appended at once, and
// the time until the daemon reports them banned, which it does once they
// are in the kernel set (the set is then counted from the kernel).
func BenchmarkBan10000(b *testing.B) {
	const attackers, maxretry = 10000, 5
	locator, err := geo.New(geo.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer locator.Close()
	locator.Lookup(netip.MustParseAddr("192.0.2.1")) // decode the tables now, as gaol server does
	locator.Lookup(netip.MustParseAddr("2001:db8::1"))
	var total, cpu time.Duration
	var allocated uint64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var prof *os.File
		if *windowProfile != "" {
			// One file per run (FILE.0, FILE.1, ...): go tool pprof
			// merges them when given several.
			if prof, err = os.Create(fmt.Sprintf("%s.%d", *windowProfile, i)); err != nil {
				b.Fatal(err)
			}
		}
		el, c, a := ban10000(b, locator, attackers, maxretry, prof)
		cpu += c
		allocated += a
		if prof != nil {
			prof.Close()
		}
		total += el
		b.Logf("%d bans in %.3f s, %.0f ms of CPU, %.1f MB allocated", attackers, el.Seconds(), float64(c.Microseconds())/1000, float64(a)/1e6)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/op")
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/op")
	b.ReportMetric(float64(allocated)/1e6/float64(b.N), "alloc-MB/op")
	b.ReportMetric(0, "ns/op")
}

// ban10000 runs one round and returns its time, and the CPU time the
// process used and the bytes it allocated meanwhile.
func ban10000(b *testing.B, locator Locator, attackers, maxretry int, prof *os.File) (el, cpu time.Duration, allocated uint64) {
	ns := netnstest.New(b)
	nsf, err := os.Open(ns.Path())
	if err != nil {
		b.Fatal(err)
	}
	defer nsf.Close()
	fw, err := nft.Open(nft.Options{NetNS: int(nsf.Fd())})
	if err != nil {
		b.Fatal(err)
	}
	defer fw.Close()
	dir := b.TempDir()
	etc := filepath.Join(dir, "etc")
	logPath := filepath.Join(dir, "auth.log")
	os.MkdirAll(etc, 0o755)
	jail := fmt.Sprintf("[sshd]\nenabled = true\nlogpath = %s\nmaxretry = %d\nfindtime = 10m\nbantime = 1h\n", logPath, maxretry)
	if err := os.WriteFile(filepath.Join(etc, "jail.local"), []byte(jail), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(logPath, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	db, err := sqlite.Open(context.Background(), filepath.Join(dir, "gaol.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	level := slog.LevelWarn
	if os.Getenv("GAOL_BENCH_LOG_LEVEL") == "info" {
		level = slog.LevelInfo
	}
	ready := make(chan struct{})
	d, err := New(Options{
		ConfigDir: etc, Store: db, Firewall: fw, Geo: locator,
		Logger:     slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})),
		LocalAddrs: func() ([]netip.Addr, error) { return nil, nil },
		Utmp:       filepath.Join(dir, "utmp"),
		Ready:      func() { close(ready) },
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	}()
	select {
	case <-ready:
	case err := <-done:
		b.Fatalf("daemon stopped: %v", err)
	}

	var sb strings.Builder
	now := time.Now()
	n := 0
	for range maxretry {
		for i := range attackers {
			fmt.Fprintf(&sb, "%s web1 sshd[%d]: Failed password for invalid user admin from 2001:db8:%x:%x::%x port %d ssh2\n",
				now.Format(time.Stamp), 1000+n%30000, i>>16, i&0xffff, i%251+1, 1024+n%60000)
			n++
		}
	}
	f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if prof != nil {
		pprof.StartCPUProfile(prof)
	}
	b.StartTimer()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	alloc0 := ms.TotalAlloc
	cpu0 := cpuTime()
	start := time.Now()
	if _, err := f.WriteString(sb.String()); err != nil {
		b.Fatal(err)
	}
	for {
		s, err := d.Status(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if s.Jails[0].CurrentlyBanned >= attackers {
			break
		}
		if time.Since(start) > time.Minute {
			b.Fatalf("%d of %d banned after a minute", s.Jails[0].CurrentlyBanned, attackers)
		}
		time.Sleep(2 * time.Millisecond)
	}
	el = time.Since(start)
	cpu = cpuTime() - cpu0
	runtime.ReadMemStats(&ms)
	allocated = ms.TotalAlloc - alloc0
	b.StopTimer()
	if prof != nil {
		pprof.StopCPUProfile()
	}
	if got := countSet(b, fw); got != attackers {
		b.Fatalf("the kernel set holds %d elements, want %d", got, attackers)
	}
	return el, cpu, allocated
}

// cpuTime returns the CPU time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// countSet counts the sshd jail's elements in the kernel.
func countSet(b *testing.B, fw *nft.Backend) int {
	b.Helper()
	els, err := fw.List("sshd")
	if err != nil {
		b.Fatal(err)
	}
	return len(els)
}
