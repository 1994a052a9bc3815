// Package bench measures gaol end to end: a real `gaol server` in a network
// namespace, a log file, and the kernel's nftables sets. Run with
//
//	go test -run '^$' -bench . -benchtime 1x ./bench
//
// (as root). The benchmarks report their figures with b.ReportMetric.
package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/nftables"

	"github.com/gaol-project/gaol/internal/control"
	"github.com/gaol-project/gaol/internal/netnstest"
)

// buildGaol builds the gaol binary once per run.
func buildGaol(b *testing.B) string {
	b.Helper()
	out := filepath.Join(b.TempDir(), "gaol")
	cmd := exec.Command("go", "build", "-o", out, "../cmd/gaol")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building gaol: %v\n%s", err, msg)
	}
	return out
}

type daemon struct {
	cmd  *exec.Cmd
	sock string
	done chan error
	log  strings.Builder
}

func startDaemon(b *testing.B, ns *netnstest.NS, bin, dir, jailLocal string) *daemon {
	b.Helper()
	etc := filepath.Join(dir, "etc")
	os.MkdirAll(etc, 0o755)
	if err := os.WriteFile(filepath.Join(etc, "jail.local"), []byte(jailLocal), 0o644); err != nil {
		b.Fatal(err)
	}
	d := &daemon{sock: filepath.Join(dir, "gaol.sock"), done: make(chan error, 1)}
	d.cmd = ns.Command(bin, "server", "--config", etc, "--db", filepath.Join(dir, "gaol.db"), "--socket", d.sock, "--log-level", "warn")
	logf, err := os.Create(filepath.Join(dir, "daemon.log"))
	if err != nil {
		b.Fatal(err)
	}
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	go func() { d.done <- d.cmd.Wait(); logf.Close() }()
	b.Cleanup(func() {
		d.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-d.done:
		case <-time.After(20 * time.Second):
			d.cmd.Process.Kill()
		}
	})
	c := control.NewClient(d.sock)
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := c.Status(ctx)
		cancel()
		if err == nil {
			return d
		}
		if time.Now().After(deadline) {
			msg, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
			b.Fatalf("daemon did not start: %v\n%s", err, msg)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// setCounter counts a set's elements in the namespace through netlink.
type setCounter struct {
	conn  *nftables.Conn
	table *nftables.Table
}

func newSetCounter(b *testing.B, ns *netnstest.NS) *setCounter {
	b.Helper()
	f, err := os.Open(ns.Path())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	conn, err := nftables.New(nftables.WithNetNSFd(int(f.Fd())))
	if err != nil {
		b.Fatal(err)
	}
	return &setCounter{conn: conn, table: &nftables.Table{Name: "gaol", Family: nftables.TableFamilyINet}}
}

// count returns the number of banned prefixes (interval starts) in set.
func (s *setCounter) count(set string) (int, []string) {
	st, err := s.conn.GetSetByName(s.table, set)
	if err != nil {
		return 0, nil
	}
	els, err := s.conn.GetSetElements(st)
	if err != nil {
		return 0, nil
	}
	n := 0
	var keys []string
	for _, e := range els {
		if !e.IntervalEnd {
			n++
			keys = append(keys, fmt.Sprintf("%x", e.Key))
		}
	}
	return n, keys
}

func failLine(t time.Time, addr string, n int) string {
	return fmt.Sprintf("%s web1 sshd[%d]: Failed password for invalid user admin from %s port %d ssh2\n",
		t.Format(time.Stamp), 1000+n%30000, addr, 1024+n%60000)
}

// attacker returns the i-th attacker address, in 2001:db8::/32 (the
// documentation prefix; IPv4's documentation ranges hold only 768).
func attacker(i int) string {
	return fmt.Sprintf("2001:db8:%x:%x::%x", i>>16, i&0xffff, i%251+1)
}

func rssKB(pid int) int {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.Atoi(f[1])
			return n
		}
	}
	return 0
}

// BenchmarkBan10000 appends failure lines (maxretry = 5) for 10,000
// distinct attackers in one write and measures until all 10,000 are in the
// kernel's set; it also reports the daemon's RSS holding those bans.
func BenchmarkBan10000(b *testing.B) {
	const attackers, maxretry = 10000, 5
	bin := buildGaol(b)
	var secs, rss []float64
	for range b.N {
		ns := netnstest.New(b)
		dir := b.TempDir()
		logPath := filepath.Join(dir, "auth.log")
		os.WriteFile(logPath, nil, 0o644)
		d := startDaemon(b, ns, bin, dir, fmt.Sprintf("[sshd]\nenabled = true\nlogpath = %s\nmaxretry = %d\nbantime = 1h\n", logPath, maxretry))
		sc := newSetCounter(b, ns)
		var sb strings.Builder
		now := time.Now()
		n := 0
		for r := range maxretry {
			for i := range attackers {
				sb.WriteString(failLine(now, attacker(i), n))
				n++
				_ = r
			}
		}
		f, _ := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		b.ResetTimer()
		start := time.Now()
		f.WriteString(sb.String())
		f.Close()
		// Dumping a set of 10,000 elements from the kernel takes about
		// 0.1 s of kernel time, which would slow the daemon down if done
		// in a loop. The daemon answers status from the goroutine that
		// applies bans, after the firewall batch: when it reports 10,000
		// bans they are in the kernel, which one dump then confirms.
		c := control.NewClient(d.sock)
		for {
			s, err := c.Status(context.Background())
			if err == nil && s.Jails[0].CurrentlyBanned == attackers {
				break
			}
			if time.Since(start) > 60*time.Second {
				b.Fatalf("not all %d banned after 60 s (%+v, %v)", attackers, s, err)
			}
			time.Sleep(2 * time.Millisecond)
		}
		el := time.Since(start)
		b.StopTimer()
		if n, _ := sc.count("sshd-v6"); n != attackers {
			b.Fatalf("status reports %d bans, the kernel holds %d", attackers, n)
		}
		msg, _ := os.ReadFile(filepath.Join(dir, "daemon.log"))
		b.Logf("%s", msg)
		secs = append(secs, el.Seconds())
		rss = append(rss, float64(rssKB(d.cmd.Process.Pid))/1024)
	}
	b.ReportMetric(median(secs), "s/10000-bans")
	b.ReportMetric(median(rss), "MB-RSS")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkBanLatency measures, 50 times, the time from an attacker's last
// failure line being written to its address being in the kernel's set.
func BenchmarkBanLatency(b *testing.B) {
	const tries, maxretry = 50, 3
	bin := buildGaol(b)
	var lat []float64
	for range b.N {
		ns := netnstest.New(b)
		dir := b.TempDir()
		logPath := filepath.Join(dir, "auth.log")
		os.WriteFile(logPath, nil, 0o644)
		startDaemon(b, ns, bin, dir, fmt.Sprintf("[sshd]\nenabled = true\nlogpath = %s\nmaxretry = %d\nbantime = 1h\n", logPath, maxretry))
		sc := newSetCounter(b, ns)
		f, err := os.OpenFile(logPath, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			b.Fatal(err)
		}
		for try := range tries {
			addr := attacker(try)
			for i := range maxretry - 1 {
				f.WriteString(failLine(time.Now(), addr, i))
			}
			// Let the first failures be processed, so that only the last
			// line's path is timed.
			time.Sleep(20 * time.Millisecond)
			start := time.Now()
			f.WriteString(failLine(time.Now(), addr, maxretry))
			for {
				if c, _ := sc.count("sshd-v6"); c == try+1 {
					break
				}
				if time.Since(start) > 10*time.Second {
					b.Fatalf("attacker %d not banned after 10 s", try)
				}
				time.Sleep(100 * time.Microsecond)
			}
			lat = append(lat, float64(time.Since(start).Microseconds())/1000)
		}
		f.Close()
	}
	slices.Sort(lat)
	b.ReportMetric(percentile(lat, 50), "ms-p50")
	b.ReportMetric(percentile(lat, 99), "ms-p99")
	b.ReportMetric(0, "ns/op")
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return percentile(s, 50)
}

// percentile returns the p-th percentile of sorted values (nearest rank).
func percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
